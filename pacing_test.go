package asynclog_test

// Log calls while the consumer waits out MinInterval (paces) on purpose.

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// TestBlockWaitersAreServedInOrderWhileTheConsumerPaces: in Block mode a
// consumer waiting out MinInterval counts as progress. 20 log calls into
// a queue of 2, whose batches are paced by a MinInterval ten times
// BlockTimeout (with a FlushInterval between the two), wait up to 90
// BlockTimeouts: none is dropped, and they are served in arrival order.
// On synctest's clock.
func TestBlockWaitersAreServedInOrderWhileTheConsumerPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		const blockTimeout, minInterval = 10 * time.Millisecond, 100 * time.Millisecond
		q := newQueue(t, sink, asynclog.Options{
			Size: 2, BatchSize: 2, OnFull: asynclog.Block, BlockTimeout: blockTimeout,
			MinInterval: minInterval, FlushInterval: minInterval / 2,
		})
		l := slog.New(asynclog.NewHandler(q, nil))
		const calls = 20
		start := time.Now()
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { logN(l, slog.LevelInfo, i, 1) })
			synctest.Wait() // queued, or waiting for room, before the next call
		}
		wg.Wait()
		assert.GreaterOrEqual(t, time.Since(start), (calls/2-1)*minInterval, "ten batches of two, MinInterval apart: the last calls waited 90 BlockTimeouts")
		require.NoError(t, q.Flush(context.Background()), "nothing dropped")
		var got []float64
		for _, r := range sink.all() {
			got = append(got, decode(t, r.Encoded)["i"].(float64))
		}
		want := make([]float64, calls)
		for i := range want {
			want[i] = float64(i)
		}
		assert.Equal(t, want, got, "every record, in arrival order")
		assert.Zero(t, q.Stats().Dropped)
	})
}

package asynclog_test

// MinInterval: the consumer paces its Writes on purpose, and log calls,
// kept records, Flushes and Close while it waits out the interval.

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

// TestMinInterval: batches start at most once per MinInterval and records
// gather meanwhile; Flush and Close write at once without waiting for it.
func TestMinInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var starts []time.Time
		var sizes []int
		sink := asynclog.SinkFunc(func(_ context.Context, b []asynclog.Record) error {
			mu.Lock()
			defer mu.Unlock()
			starts = append(starts, time.Now())
			sizes = append(sizes, len(b))
			return nil
		})
		const interval = 300 * time.Millisecond
		q, err := asynclog.NewQueue(sink, asynclog.Options{MinInterval: interval})
		require.NoError(t, err)
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("first") // written at once: no batch before it
		require.NoError(t, q.Flush(context.Background()))
		for i := range 50 {
			l.Info("burst", "i", i)
		}
		// Let the interval pass on the bubble's clock, then wait until the
		// consumer has written the burst and parked again.
		time.Sleep(interval)
		synctest.Wait()
		mu.Lock()
		require.Len(t, starts, 2, "the burst is written once the interval has passed")
		mu.Unlock()
		l.Info("last")
		closeStart := time.Now()
		require.NoError(t, q.Close())
		assert.Zero(t, time.Since(closeStart), "Close does not wait out the interval")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, sizes, 3, "first, the burst as one batch, last")
		assert.Equal(t, []int{1, 50, 1}, sizes)
		assert.GreaterOrEqual(t, starts[1].Sub(starts[0]), interval, "burst waited for the interval")
	})
}

package asynclog_test

// Flush: a barrier for every record logged before it, bounded by its ctx;
// what it reports of the records lost; Flushes waiting together share
// Writes and leave nothing behind when they give up.

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

// TestFlushIsABarrier: Flush returns once every record logged before it is
// delivered, and concurrent Flushes are fine.
func TestFlushIsABarrier(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{Size: 16, BatchSize: 4, FlushInterval: time.Hour})
	l := slog.New(asynclog.NewHandler(q, nil))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				l.Info("rec", "g", g, "i", i)
				if i%10 == 0 {
					require.NoError(t, q.Flush(context.Background()))
					found := false
					for _, r := range sink.all() {
						m := decode(t, r.Encoded)
						found = found || (m["g"] == float64(g) && m["i"] == float64(i))
					}
					assert.True(t, found, "Flush returned before record g=%d i=%d was delivered", g, i)
				}
			}
			require.NoError(t, q.Flush(context.Background()))
		}()
	}
	wg.Wait()
	assert.Len(t, sink.all(), 200, "every record delivered by the last Flushes, despite an hour-long FlushInterval")
}

// TestFlushDeadline: against a blocked sink, Flush returns ctx's error at
// its deadline; the records are still delivered later.
func TestFlushDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		gate := newGateSink(sink, false)
		q := newQueue(t, gate, asynclog.Options{})
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("held")
		gate.waitStarted(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := q.Flush(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		gate.open()
		require.NoError(t, q.Flush(context.Background()))
		assert.Len(t, sink.all(), 1, "delivered after the sink came back")
	})
}

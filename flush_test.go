package asynclog_test

// Flush: a barrier for every record logged before it, bounded by its ctx;
// what it reports of the records lost; Flushes waiting together share
// Writes and leave nothing behind when they give up.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
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

// TestFlushGivingUpLeavesNothing: Flushes that give up on a blocked sink
// leave nothing behind in the queue.
func TestFlushGivingUpLeavesNothing(t *testing.T) {
	gate := newGateSink(nil, true)
	q := newQueue(t, gate, asynclog.Options{Size: 1024})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("stuck")
	gate.waitStarted(t)
	l.Info("queued")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = q.Flush(ctx) // warm
	before := heapInUse()
	for range 50_000 {
		require.ErrorIs(t, q.Flush(ctx), context.Canceled)
	}
	after := heapInUse()
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "50,000 abandoned Flushes hold no memory")
	gate.open()
	require.NoError(t, q.Flush(context.Background()))
}

// TestFlushReportsLosses: a Flush says what was lost of what was logged
// before it; every Flush waiting sees the loss; the next Flush sees
// nothing new.
func TestFlushReportsLosses(t *testing.T) {
	t.Run("dropped before the Flush", func(t *testing.T) {
		gate := newGateSink(nil, true)
		q := newQueue(t, gate, asynclog.Options{Size: 1, OnFull: asynclog.DropNewest})
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelInfo, 0, 1)
		gate.waitStarted(t)
		logN(l, slog.LevelInfo, 1, 5) // one queued, four dropped
		gate.open()
		err := q.Flush(context.Background())
		require.ErrorIs(t, err, asynclog.ErrDropped)
		assert.Contains(t, err.Error(), "dropped: 4", "with the count")
		assert.NoError(t, q.Flush(context.Background()), "nothing new since")
	})
	t.Run("a failure with no Flush waiting goes to the next", func(t *testing.T) {
		var calls atomic.Int32
		sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error {
			calls.Add(1)
			return asynclog.Permanent(fmt.Errorf("refused"))
		})
		q := newQueue(t, sink, asynclog.Options{OnError: func(error) {}})
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("refused")
		require.Error(t, q.Flush(context.Background()))
		require.NoError(t, q.Flush(context.Background()))
		l.Info("refused again")
		for calls.Load() < 2 {
			runtime.Gosched()
		}
		require.Error(t, q.Flush(context.Background()), "the next Flush reports it")
	})
	t.Run("after Close", func(t *testing.T) {
		q := newQueue(t, newRecSink(), asynclog.Options{})
		require.NoError(t, q.Close())
		assert.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrClosed)
	})
}

// TestFlushesShareWrites: 200 goroutines each logging and flushing against
// a 1 ms sink share Writes, as a group commit does.
func TestFlushesShareWrites(t *testing.T) {
	var writes atomic.Int64
	sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error {
		writes.Add(1)
		time.Sleep(time.Millisecond) // load, not synchronisation: a 1 ms sink keeps Flushes waiting together
		return nil
	})
	q := newQueue(t, sink, asynclog.Options{})
	l := slog.New(asynclog.NewHandler(q, nil))
	const goroutines, each = 200, 10
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				l.Info("rec")
				assert.NoError(t, q.Flush(context.Background()))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close())
	t.Logf("%d Writes for %d log+Flush calls", writes.Load(), goroutines*each)
	assert.Less(t, writes.Load(), int64(goroutines*each/4), "Flushes waiting together share Writes")
	assert.Equal(t, uint64(goroutines*each), q.Stats().Delivered)
}

package asynclog_test

// The consumer's wait: with FlushInterval it lingers for a batch to
// fill, but not while the queue is full.

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// TestFlushInterval: with FlushInterval set, records wait for the batch to
// fill or the interval to pass.
func TestFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var batches atomic.Int64
		sink := newRecSink()
		counted := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			batches.Add(1)
			return sink.Write(ctx, b)
		})
		q := newQueue(t, counted, asynclog.Options{BatchSize: 10, FlushInterval: 200 * time.Millisecond})
		l := slog.New(asynclog.NewHandler(q, nil))
		start := time.Now()
		logN(l, slog.LevelInfo, 0, 25)
		sink.mu.Lock()
		for len(sink.recs) < 25 {
			sink.cond.Wait()
		}
		sink.mu.Unlock()
		assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "the last 5 waited for the interval")
		assert.Equal(t, int64(3), batches.Load(), "two full batches and the rest")
	})
}

// TestFlushIntervalQueueSmallerThanBatch: with FlushInterval set and a
// queue smaller than BatchSize, a full queue is a full batch: the consumer
// must not sleep out the interval while callers wait or drop.
func TestFlushIntervalQueueSmallerThanBatch(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{Size: 8, FlushInterval: time.Hour, BlockTimeout: 5 * time.Second})
	l := slog.New(asynclog.NewHandler(q, nil))
	logN(l, slog.LevelInfo, 0, 20)
	require.NoError(t, q.Close())
	s := q.Stats()
	assert.Zero(t, s.Dropped, "Block mode into a healthy sink drops nothing: %+v", s)
	assert.Len(t, sink.all(), 20)
}

package asynclog_test

// Synchronous records (zap's Fatal and DPanic, slog at SyncLevel, a fatal
// line through NewWriter): the log call waits for the record's delivery,
// for room even after others' waits ran out, all within one CloseTimeout,
// and reports earlier failures without taking them from Flush.

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// TestSyncRecordAfterCloseSaysClosed: a synchronous record (zap's Fatal path,
// here Panic-level through DPanic) logged after Close says that the queue
// is closed, not that records were dropped.
func TestSyncRecordAfterCloseSaysClosed(t *testing.T) {
	q := newQueue(t, newRecSink(), asynclog.Options{})
	require.NoError(t, q.Close(), "Close")
	c := asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.DebugLevel, q)
	err := c.Write(zapcore.Entry{Level: zapcore.DPanicLevel, Message: "late", Time: time.Now()}, nil)
	require.Error(t, err, "the record was not delivered")
	assert.ErrorIs(t, err, asynclog.ErrClosed, "says the queue is closed")
	assert.False(t, errors.Is(err, asynclog.ErrDropped), "not a drop: %v", err)
}

// TestSyncRecordOneDeadline: a synchronous record's call (its wait for
// room, its barrier and, for a zap Fatal, the flush of the hooked queues)
// is bounded by one CloseTimeout from the call's start, with a dead sink,
// with or without a full queue and a producer waiting before it.
func TestSyncRecordOneDeadline(t *testing.T) {
	const closeTimeout = 500 * time.Millisecond
	fatal := func(q *asynclog.Queue) {
		c := asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.DebugLevel, q)
		_ = c.Write(zapcore.Entry{Level: zapcore.FatalLevel, Message: "fatal", Time: time.Now()}, nil)
	}
	slogSync := func(q *asynclog.Queue) {
		slog.New(asynclog.NewHandler(q, nil)).Log(context.Background(), slog.LevelError+4, "sync")
	}
	writerFatal := func(q *asynclog.Queue) {
		_, _ = asynclog.NewWriter(q).Write([]byte(`{"level":"fatal","msg":"fatal"}` + "\n"))
	}
	cases := []struct {
		name string
		hook bool
		full bool
		call func(q *asynclog.Queue)
	}{
		{"zap Fatal with ExitHook", true, false, fatal},
		{"zap Fatal with ExitHook, full queue, a producer waiting", true, true, fatal},
		{"zap Fatal, full queue, a producer waiting", false, true, fatal},
		{"slog at SyncLevel, full queue, a producer waiting", false, true, slogSync},
		{"NewWriter fatal line, full queue, a producer waiting", false, true, writerFatal},
	}
	// run sets up the case and returns how long the call took.
	run := func(t *testing.T, hook, full bool, call func(q *asynclog.Queue)) time.Duration {
		gate := newGateSink(nil, true) // a dead sink: every Write hangs until its ctx ends
		q, err := asynclog.NewQueue(gate, asynclog.Options{Size: 1, BatchSize: 1, CloseTimeout: closeTimeout,
			ExitHook: hook, OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("in the sink")
		gate.waitStarted(t)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer func() { _ = q.Close() }()
		if full {
			l.Info("fills the queue")
			wg.Go(func() { l.Info("waits for room") })
			// The producer is waiting once it is counted in Queued.
			require.Eventually(t, func() bool { return q.Stats().Queued == 3 }, 10*time.Second, time.Millisecond, "the producer waits")
		}
		start := time.Now()
		call(q)
		took := time.Since(start)
		t.Logf("the call took %v (CloseTimeout %v)", took, closeTimeout)
		return took
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hook {
				// The exit hook's signal.Notify cannot run in a synctest
				// bubble: real time, with slack (the bug took 1 s and 3 s).
				took := run(t, tc.hook, tc.full, tc.call)
				assert.Less(t, took, closeTimeout+400*time.Millisecond, "the whole call within one CloseTimeout, with slack")
				return
			}
			synctest.Test(t, func(t *testing.T) {
				took := run(t, tc.hook, tc.full, tc.call)
				assert.LessOrEqual(t, took, closeTimeout, "the whole call within one CloseTimeout")
			})
		})
	}
}

// TestSyncRecordAfterStall: a synchronous record (zap's Fatal, slog at
// SyncLevel) waits for room even after an earlier caller's wait ran out.
func TestSyncRecordAfterStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		gate := newGateSink(sink, true)
		q := newQueue(t, gate, asynclog.Options{Size: 2, BatchSize: 1, BlockTimeout: 50 * time.Millisecond})
		l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logN(l, slog.LevelInfo, 0, 1)
		gate.waitStarted(t)
		logN(l, slog.LevelInfo, 1, 3) // fills the queue; the third call stalls and drops
		require.Equal(t, uint64(1), q.Stats().Dropped)
		logged := make(chan struct{})
		go func() {
			defer close(logged)
			l.Log(context.Background(), slog.LevelError+4, "fatal")
		}()
		select { // the sink is still stuck on record 0
		case <-logged:
			require.Fail(t, "the synchronous record returned before it was delivered")
		case <-time.After(100 * time.Millisecond): // past BlockTimeout: it must still be waiting
		}
		gate.open()
		<-logged
		assert.Contains(t, sink.messages(), "fatal", "delivered before the call returned")
		require.ErrorIs(t, q.Close(), asynclog.ErrDropped, "Close reports the record dropped before it")
	})
}

// TestSyncRecordLeavesFailuresForFlush: the wait of a synchronous record
// reports earlier failures but leaves them for the program's own Flush.
func TestSyncRecordLeavesFailuresForFlush(t *testing.T) {
	boom := errors.New("boom")
	sink := asynclog.SinkFunc(func(_ context.Context, b []asynclog.Record) error {
		for _, r := range b {
			if r.Message == "lost" {
				return asynclog.Permanent(boom)
			}
		}
		return nil
	})
	q := newQueue(t, sink, asynclog.Options{OnError: func(error) {}})
	h := asynclog.NewHandler(q, nil)
	l := slog.New(h)
	l.Info("lost")
	err := h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelError+4, "fatal", 0))
	assert.ErrorIs(t, err, boom, "the synchronous record's wait reports the failure")
	assert.ErrorIs(t, q.Flush(context.Background()), boom, "and leaves it for the program's Flush")
	assert.NoError(t, q.Flush(context.Background()), "which takes it")
}

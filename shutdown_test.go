package asynclog_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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

// TestOnErrorCloseAtShutdownDeadline: OnError runs on the Shutdown
// goroutine for what Shutdown abandons at its deadline; a Close or
// Shutdown it calls there returns ErrReentrant at once rather than waiting
// for the Shutdown that is running it.
func TestOnErrorCloseAtShutdownDeadline(t *testing.T) {
	gate := newGateSink(nil, false) // a sink that ignores its ctx: the consumer stays busy
	var q *asynclog.Queue
	var mu sync.Mutex
	var fromOnError []error
	onError := func(err error) {
		if !strings.Contains(err.Error(), "shutdown:") {
			return
		}
		e1 := q.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // bounded, so that the test fails rather than hangs
		defer cancel()
		e2 := q.Shutdown(ctx)
		mu.Lock()
		fromOnError = append(fromOnError, e1, e2)
		mu.Unlock()
	}
	q, err := asynclog.NewQueue(gate, asynclog.Options{CloseTimeout: 2 * time.Second, OnError: onError})
	require.NoError(t, err, "NewQueue")
	defer func() {
		gate.open()
		_ = q.Shutdown(context.Background()) // joins the consumer
	}()
	slog.New(asynclog.NewHandler(q, nil)).Info("held")
	gate.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = q.Shutdown(ctx)
	took := time.Since(start)
	require.Error(t, err, "the held record is reported lost")
	assert.Less(t, took, time.Second, "Shutdown(500ms) returns near its deadline, not after the nested Close's CloseTimeout")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, fromOnError, 2, "OnError got the shutdown report")
	for _, e := range fromOnError {
		assert.ErrorIs(t, e, asynclog.ErrReentrant, "Close and Shutdown from OnError at the deadline")
	}
}

// TestFatalAfterCloseSaysClosed: a synchronous record (zap's Fatal path,
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

package asynclog_test

// Calls from the consumer's own goroutine (a Sink's Write, OnError,
// OnError run by Shutdown at its deadline): Flush, Close and Shutdown
// return ErrReentrant at once instead of waiting for themselves.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestCallsFromTheConsumer: Flush, Close and Shutdown called from OnError
// or from a Sink return ErrReentrant at once instead of deadlocking.
func TestCallsFromTheConsumer(t *testing.T) {
	var q *asynclog.Queue
	got := make(chan error, 6)
	sink := asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
		got <- q.Flush(ctx)
		got <- q.Shutdown(ctx)
		return asynclog.Permanent(fmt.Errorf("no"))
	})
	q = newQueue(t, sink, asynclog.Options{OnError: func(error) {
		got <- q.Flush(context.Background())
		got <- q.Close()
	}})
	slog.New(asynclog.NewHandler(q, nil)).Info("one")
	for range 4 {
		select {
		case err := <-got:
			assert.ErrorIs(t, err, asynclog.ErrReentrant)
		case <-time.After(10 * time.Second):
			require.Fail(t, "a call from the consumer deadlocked")
		}
	}
	require.Error(t, q.Flush(context.Background()), "the refused record is reported")
	require.NoError(t, q.Close(), "Close from the program itself still works")
}

// TestFlushAndCloseFromTheSinkOrOnErrorSayErrReentrant: Flush and Close
// called from Sink.Write, and Flush called from OnError, return
// ErrReentrant instead of waiting for the consumer they run on; the
// caller's own Flush still reports the failure.
func TestFlushAndCloseFromTheSinkOrOnErrorSayErrReentrant(t *testing.T) {
	var q *asynclog.Queue
	var fromSink, fromOnErr atomic.Pointer[error]
	ready := make(chan struct{})
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		<-ready
		e1 := q.Flush(ctx)
		e2 := q.Close()
		e := errors.Join(e1, e2)
		if !errors.Is(e1, asynclog.ErrReentrant) || !errors.Is(e2, asynclog.ErrReentrant) {
			fromSink.Store(&e)
		}
		return errors.New("fail once")
	})
	var err error
	q, err = asynclog.NewQueue(sink, asynclog.Options{MaxAttempts: 1, OnError: func(error) {
		e := q.Flush(context.Background())
		if !errors.Is(e, asynclog.ErrReentrant) {
			fromOnErr.Store(&e)
		}
	}})
	require.NoError(t, err, "NewQueue")
	close(ready)
	slog.New(asynclog.NewHandler(q, nil)).Info("x")
	assert.Error(t, q.Flush(context.Background()), "Flush reports the failure")
	q.Close()
	if e := fromSink.Load(); e != nil {
		assert.Fail(t, "Flush or Close from the Sink did not say ErrReentrant", "%v", *e)
	}
	if e := fromOnErr.Load(); e != nil {
		assert.Fail(t, "Flush from OnError did not say ErrReentrant", "%v", *e)
	}
}

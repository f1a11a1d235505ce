package asynclog_test

// Calls from the consumer's own goroutine (a Sink's Write, OnError,
// OnError run by Shutdown at its deadline): Flush, Close and Shutdown
// return ErrReentrant at once instead of waiting for themselves.

import (
	"context"
	"log/slog"
	"strings"
	"sync"
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

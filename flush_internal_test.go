package asynclog

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
)

// TestEveryWaitingFlushSeesAFailure: two Flushes waiting on one refused
// record both return its error; a third, after them, says nil.
func TestEveryWaitingFlushSeesAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		sink := SinkFunc(func(context.Context, []Record) error {
			started <- struct{}{}
			<-release
			return Permanent(errors.New("refused"))
		})
		pub, err := NewQueue(sink, Options{OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		defer pub.Close()
		q := pub.q
		slog.New(NewHandler(pub, nil)).Info("refused")
		<-started
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- pub.Flush(context.Background()) }()
		}
		synctest.Wait() // both Flushes wait on the barrier
		q.mu.Lock()
		n := len(q.flushes)
		q.mu.Unlock()
		require.Equal(t, 2, n, "Flushes waiting")
		close(release)
		for i := range 2 {
			assert.Error(t, <-errs, "Flush %d waiting on the refused record reports it", i)
		}
		assert.NoError(t, pub.Flush(context.Background()), "a Flush after both returned does not report the failure again")
	})
}

// answeredAsDone is a ctx that ends at the moment the consumer answers the
// Flush waiting on it: its Done, called by flush's select, runs hook first.
type answeredAsDone struct {
	context.Context
	once sync.Once
	hook func()
	done chan struct{}
}

func (c *answeredAsDone) Done() <-chan struct{} {
	c.once.Do(func() { c.hook(); close(c.done) })
	return c.done
}

func (c *answeredAsDone) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// TestFlushGivingUpAsItIsAnsweredKeepsTheQueueUsable: a Flush whose ctx
// ends at the moment the consumer answers it takes the ctx.Done branch,
// finds itself answered under the lock, and returns that answer (nil); the
// queue's lock is released, so Stats, Flush and Close still work.
//
// The race is reached every time, without sleeps: flush's select reads
// w.ready before it calls ctx.Done (operands are evaluated in source
// order), and the test's ctx.Done swaps w.ready for a fresh channel, lets
// the consumer deliver and answer (closing the fresh channel) and only
// then ends the ctx. The select holds the old, never-closed channel, so it
// can only take the ctx.Done branch, where w.ready is the answered one.
func TestFlushGivingUpAsItIsAnsweredKeepsTheQueueUsable(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	sink := SinkFunc(func(ctx context.Context, b []Record) error {
		started <- struct{}{}
		<-release
		return nil
	})
	pub, err := NewQueue(sink, Options{OnError: func(error) {}, CloseTimeout: 200 * time.Millisecond})
	require.NoError(t, err, "NewQueue")
	q := pub.q
	q.log(ptr(testRec(0, 10, slog.LevelInfo)), false)
	<-started
	var hooked bool
	ctx := &answeredAsDone{Context: context.Background(), done: make(chan struct{}), hook: func() {
		q.mu.Lock()
		if len(q.flushes) != 1 {
			q.mu.Unlock()
			return
		}
		w := q.flushes[0]
		w.ready = make(chan struct{})
		answered := w.ready
		q.mu.Unlock()
		hooked = true
		close(release)
		<-answered // the consumer delivered the record and passed the barrier
	}}
	flushed := make(chan error, 1)
	go func() { flushed <- pub.Flush(ctx) }()

	// A frozen lock cannot be seen on synctest's clock (a goroutine blocked
	// on a mutex is not durably blocked), so a generous real deadline says
	// the queue froze.
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { f(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			require.FailNow(t, what+" did not return within 10s: the queue froze after a Flush gave up as it was answered")
		}
	}
	var flushErr error
	within("Flush", func() { flushErr = <-flushed })
	require.True(t, hooked, "the ctx ended while the Flush was waiting")
	assert.NoError(t, flushErr, "the consumer's answer stands")
	within("Stats", func() { _ = pub.Stats() })
	within("a second Flush", func() { assert.NoError(t, pub.Flush(context.Background()), "a second Flush") })
	within("Close", func() { assert.NoError(t, pub.Close(), "Close") })
}

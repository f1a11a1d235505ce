package asynclog

// The lifecycle: Shutdown (drain, abandon at the deadline, join the
// consumer), the sinks' Close, and the cleanup of a forgotten queue.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

func (q *queue) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), q.opts.CloseTimeout)
	defer cancel()
	return q.shutdown(ctx)
}

func (q *queue) shutdown(ctx context.Context) error {
	if q.fromConsumer() {
		return fmt.Errorf("asynclog: shutdown: %w", ErrReentrant)
	}
	err := q.shutdownNoUnregister(ctx)
	if q.opts.ExitHook {
		unregisterExit(q)
	}
	return err
}

// maxGrace caps the time Shutdown leaves a cancelled sink to return.
const maxGrace = 500 * time.Millisecond

// shutdownNoUnregister is Shutdown without leaving the exit-hook registry,
// for the signal goroutine, which must not wait for itself.
func (q *queue) shutdownNoUnregister(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background() // a nil ctx must not read as "not stopping"
	}
	if !q.beginShutdown(ctx) {
		return q.awaitFirstShutdown(ctx)
	}
	grace, exited := q.awaitDrain(ctx)
	if exited {
		return q.joined()
	}
	if !q.abandon(ctx) {
		return q.resultNow() // nothing was left: the consumer is on its way out
	}
	return q.awaitAbandoned(ctx, grace)
}

// beginShutdown marks the queue as stopping, once: later records are
// refused, and the consumer, nudged, drains and exits (waiting log calls
// began before Shutdown, so they still get room). It reports whether this
// call began it.
func (q *queue) beginShutdown(ctx context.Context) bool {
	q.lock()
	defer q.mu.Unlock()
	if q.stoppingLocked() {
		return false
	}
	q.shutdownCtx = ctx
	q.closeFastLocked() // records from here on are refused, under the mutex
	close(q.stopped)
	if asleep(q.sleep.Load()) {
		q.nudgeLocked()
	}
	return true
}

// awaitFirstShutdown is a later Shutdown: it waits, bounded by its own
// ctx, for the first one's drain and returns its result.
func (q *queue) awaitFirstShutdown(ctx context.Context) error {
	select {
	case <-q.done:
		return q.joined()
	case <-ctx.Done():
		if q.abortCtx.Err() != nil {
			// The first Shutdown gave up on the drain: its result is
			// known, though the sink has not returned yet.
			return q.resultNow()
		}
		return fmt.Errorf("asynclog: wait for shutdown: %w", ctx.Err())
	}
}

// awaitDrain waits for the consumer to drain and exit, until a grace
// before ctx's deadline (so that the sink has the grace to notice the
// abandonment and Shutdown still returns by the deadline), or until ctx
// ends if it has none. It returns the grace and whether the consumer
// exited.
func (q *queue) awaitDrain(ctx context.Context) (time.Duration, bool) {
	var grace time.Duration
	var giveUp <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		grace = min(time.Until(dl)/10, maxGrace)
		t := time.NewTimer(max(time.Until(dl)-grace, 0))
		defer t.Stop()
		giveUp = t.C
	}
	select {
	case <-q.done:
		return grace, true
	case <-giveUp:
	case <-ctx.Done():
	}
	return grace, false
}

// awaitAbandoned gives the sink the grace to return from its cancelled
// Write, and returns Shutdown's result, saying so if it had not.
func (q *queue) awaitAbandoned(ctx context.Context, grace time.Duration) error {
	if grace > 0 {
		select {
		case <-q.done:
			return q.joined()
		case <-ctx.Done():
		}
	}
	select {
	case <-q.done:
		return q.resultNow()
	default:
	}
	return fmt.Errorf("%w (the sink had not returned from its cancelled Write by then)", q.resultNow())
}

// abandon gives up on every record not yet delivered, at Shutdown's
// deadline: they count as Failed, waiting log calls and Flushes are
// answered, and the Write in flight is cancelled. It reports whether
// anything was left to abandon.
func (q *queue) abandon(ctx context.Context) bool {
	q.lock()
	q.closeFastLocked()
	lost, kept := q.store.abandon(q.inflight)
	for _, w := range q.waiters {
		w.accepted = false
		w.rec = Record{}
		close(w.ready)
		lost++
	}
	q.waiters = nil
	q.stats.Failed += uint64(lost)
	q.inflight = 0 // counted now: the consumer must not count it again
	q.settled = q.seq
	cause := context.Cause(ctx)
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	err := fmt.Errorf("asynclog: shutdown: %d %s not delivered: %w", lost, plural(lost, "record", "records"), cause)
	if kept > 0 {
		err = fmt.Errorf("asynclog: shutdown: %d %s left in the spool for the next start: %w", kept, plural(kept, "record", "records"), cause)
		if lost > 0 {
			err = fmt.Errorf("asynclog: shutdown: %d %s not delivered, %d left in the spool for the next start: %w", lost, plural(lost, "record", "records"), kept, cause)
		}
	}
	for _, w := range q.flushes {
		w.err = errors.Join(ErrClosed, err)
		close(w.ready)
	}
	q.flushes = nil
	if lost > 0 {
		q.loss.add(q.lossNowLocked(), err)
	} else if kept > 0 {
		q.left = err // nothing lost, but the drain did not finish
	}
	// Cancel under the lock: the consumer's settle, which needs it, then
	// sees the drain abandoned and cannot count the batch a second time.
	q.abort()
	q.mu.Unlock()
	if lost > 0 || kept > 0 {
		if q.opts.OnError != nil {
			// OnError runs here on the Shutdown goroutine: a Flush or
			// Close it calls would wait for this Shutdown.
			q.abandoner.Store(goid())
			q.report(err)
			q.abandoner.Store(0)
		}
		// The count is said on stderr, once, whatever OnError does with it
		// and past the default reporter's rate limit: a program that
		// ignores Close's error, or is ending on a signal, must still show it.
		fmt.Fprintln(os.Stderr, err)
	}
	return lost > 0 || kept > 0
}

// joined waits for the consumer goroutine (done is closed, so at once)
// and returns Shutdown's result.
func (q *queue) joined() error {
	q.wg.Wait()
	return q.resultNow()
}

// resultNow is Shutdown's result: the losses since the last Flush that
// the drain or its abandonment left.
func (q *queue) resultNow() error {
	q.lock()
	defer q.mu.Unlock()
	if q.result == nil {
		q.result = q.loss.since(q.loss.reported, q.lossNowLocked())
		if q.left != nil {
			q.result = errors.Join(q.result, q.left)
		}
	}
	return q.result
}

// fromConsumer reports whether the caller is the queue's consumer,
// inside a Sink's Write or OnError, or Shutdown's goroutine inside the
// OnError it calls for what it abandoned. It costs two atomic loads unless
// one of them is inside a callback.
func (q *queue) fromConsumer() bool {
	if q.inCallback.Load() && goid() == q.consumer.Load() {
		return true
	}
	a := q.abandoner.Load()
	return a != 0 && goid() == a
}

// finish runs on the consumer's way out: it closes the sinks once.
func (q *queue) finish() {
	q.lock()
	ctx := q.shutdownCtx
	q.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	q.inCallback.Store(true)
	defer q.inCallback.Store(false)
	if err := closeSink(ctx, q.sink); err != nil {
		q.report(fmt.Errorf("asynclog: close sink: %w", err))
	}
	if q.opts.Fallback != nil {
		if err := closeSink(ctx, q.opts.Fallback); err != nil {
			q.report(fmt.Errorf("asynclog: close fallback sink: %w", err))
		}
	}
}

// forgotten runs as the cleanup of a Queue that became unreachable without
// Shutdown: it drains and stops the consumer in the background.
func (q *queue) forgotten() {
	q.lock()
	stopping := q.stoppingLocked()
	q.mu.Unlock()
	if !stopping {
		go q.close()
	}
}

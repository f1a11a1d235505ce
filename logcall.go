package asynclog

// The log call's shared path: every front end ends here, and
// synchronous records wait for their barrier here.

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// log hands an encoded record to the queue. Synchronous records (sync, or
// at SyncLevel and above) wait for room whatever OnFull says, and the call
// returns only once they and everything before them are settled (bounded
// by CloseTimeout); it returns an error if they were not all delivered.
//
// rec and rec.Encoded stay the caller's: the queue copies them.
func (q *queue) log(rec *Record, sync bool) error {
	return q.logEnc(rec, false, sync)
}

// logRaw is log for a record whose Message is still inside Encoded (the
// io.Writer front end): the consumer finds it, with writerMessage, off the
// log call.
func (q *queue) logRaw(rec *Record, sync bool) error {
	return q.logEnc(rec, true, sync)
}

func (q *queue) logEnc(rec *Record, raw, sync bool) error {
	if !sync && rec.Level < q.syncLevel() && q.tryFast(rec, raw) {
		return nil // the common case, inlined into the front end
	}
	return q.logSlow(rec, raw, sync)
}

// logSlow is logEnc once the lease did not take the record: a
// synchronous record, or one the lease could not take.
func (q *queue) logSlow(rec *Record, raw, sync bool) error {
	if !sync && rec.Level < q.syncLevel() {
		q.enqueue(rec, raw, false)
		return nil
	}
	// One deadline bounds the whole call: the wait for room (at most
	// CloseTimeout for a synchronous record) and the barrier after it.
	deadline := time.Now().Add(q.opts.CloseTimeout)
	if !q.enqueue(rec, raw, true) {
		if q.closing() {
			return fmt.Errorf("asynclog: synchronous record %q: %w", rec.Message, ErrClosed)
		}
		return fmt.Errorf("asynclog: synchronous record %q: %w", rec.Message, ErrDropped)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return q.flush(ctx, true)
}

// syncLevel is Options.SyncLevel's level, read on every log call: a fixed
// slog.Level (the default) without a call through the interface.
func (q *queue) syncLevel() slog.Level {
	if l, ok := q.opts.SyncLevel.(slog.Level); ok {
		return l
	}
	return q.opts.SyncLevel.Level()
}

// closing reports whether Shutdown has begun.
func (q *queue) closing() bool {
	q.lock()
	defer q.mu.Unlock()
	return q.stoppingLocked()
}

// stoppingLocked reports whether Shutdown has begun: records are refused,
// the consumer drains and exits. Shutdown's ctx is set once, when it
// begins.
func (q *queue) stoppingLocked() bool { return q.shutdownCtx != nil }

// trimLineEnding drops the encoder's line ending from an encoded record.
func trimLineEnding(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

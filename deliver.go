package asynclog

// Delivery: one batch to the Sink, with retries, backoff, the fallback,
// and what Partial and Delivered say, counted in one place.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// outcome is what became of one batch's records.
type outcome struct {
	delivered, failed, fellBack, retries, writes int
	err                                          error // why records failed
	// For the failure notice: whether the main sink took the batch's
	// leading notices, the time span of the failed records, and the
	// sink's last error.
	noticed  bool
	from, to time.Time
	cause    error
}

// deliver writes the batch taken, with retries, then to the fallback, and
// keeps the outcome for the next round's settle.
func (c *consumer) deliver() {
	if len(c.batch) == 0 {
		c.finishBatch()
		return
	}
	q := c.q
	// From here to the end of the batch, the consumer runs the user's
	// code (the Sink, OnError): a Flush or Close from there is refused.
	q.inCallback.Store(true)
	defer q.inCallback.Store(false)
	if c.notices > 0 && strings.HasPrefix(c.batch[0].Message, dropNoticePrefix) {
		q.report(fmt.Errorf("%w: %s", ErrDropped, strings.TrimPrefix(c.batch[0].Message, dropNoticePrefix)))
	}
	c.out = c.deliverBatch(c.batch, c.notices)
	if q.opts.MinInterval > 0 {
		c.lastEnd = time.Now()
	}
	c.finishBatch()
}

// finishBatch lets go of the batch written: the records it points at, and
// the segment, emptied for reuse.
func (c *consumer) finishBatch() {
	clear(c.recs)
	c.batch, c.block = nil, nil
	if c.seg != nil {
		c.seg.reset()
	}
}

// deliverBatch writes one batch with retries, then to the fallback.
// notices is the number of leading synthetic records, which are not
// counted.
//
// A retryable failure is retried until the sink has been failing for
// Options.RetryFor (counted from the first failed attempt since it last
// took records, so across batches: once an outage has outlasted RetryFor,
// each later batch gets one attempt until the sink takes one) and, if
// Options.MaxAttempts is set, for at most that many attempts of this
// batch. The backoff between attempts is capped at MaxBackoff, and the
// last wait is shortened to end with RetryFor.
func (c *consumer) deliverBatch(recs []Record, notices int) outcome {
	q, o := c.q, c.q.opts
	n := len(recs) - notices
	var out outcome
	var err error
	// attempt counts the failed attempts since the sink last made
	// progress: a Write that delivered part of the batch starts it again,
	// and the RetryFor clock (c.failing) too.
	for attempt := 1; ; attempt++ {
		err = c.write(q.sink, recs)
		out.writes++
		if err == nil {
			out.delivered += n
			out.noticed = true
			c.failing = time.Time{}
			return out
		}
		var dl *DeliveredError
		if errors.As(err, &dl) && dl.N > 0 {
			k := min(dl.N, len(recs))
			counted := max(0, k-notices) // notices come first and are not counted
			if k >= notices {
				out.noticed = true
			}
			notices = max(0, notices-k)
			out.delivered += counted
			n -= counted
			recs = recs[k:]
			if len(recs) == 0 {
				return out
			}
			attempt, c.failing = 1, time.Time{}
		}
		var partial *PartialError
		if errors.As(err, &partial) {
			rej := min(max(partial.Rejected, 0), n)
			q.report(fmt.Errorf("asynclog: sink refused %d of %d %s: %w", rej, n, plural(n, "record", "records"), err))
			out.delivered += n - rej
			out.failed, out.err, out.cause, out.noticed = rej, err, err, true
			c.failing = time.Time{}
			if rej > 0 {
				out.from, out.to = timeSpan(recs[notices:])
			}
			return out
		}
		if IsPermanent(err) {
			q.report(fmt.Errorf("asynclog: write %d %s (permanent, not retried): %w", n, plural(n, "record", "records"), err))
			break
		}
		now := time.Now()
		if c.failing.IsZero() {
			c.failing = now
		}
		left := o.RetryFor - now.Sub(c.failing)
		if o.MaxAttempts > 0 {
			q.report(fmt.Errorf("asynclog: write %d %s (attempt %d of %d): %w", n, plural(n, "record", "records"), attempt, o.MaxAttempts, err))
		} else {
			q.report(fmt.Errorf("asynclog: write %d %s (attempt %d, failing for %v of RetryFor %v): %w", n, plural(n, "record", "records"), attempt, now.Sub(c.failing).Round(time.Millisecond), o.RetryFor, err))
		}
		if (o.MaxAttempts > 0 && attempt >= o.MaxAttempts) || left <= 0 || q.abortCtx.Err() != nil {
			break
		}
		delay := backoff(o.MinBackoff, o.MaxBackoff, attempt)
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.Delay > delay {
			delay = min(ra.Delay, o.MaxBackoff)
		}
		if !q.retryWait(min(delay, left)) {
			break
		}
		out.retries++
	}
	if o.Fallback != nil && q.abortCtx.Err() == nil {
		ferr := c.write(o.Fallback, recs)
		out.writes++
		if ferr == nil {
			out.delivered += n
			out.fellBack += n
			return out
		}
		q.report(fmt.Errorf("asynclog: fallback sink: %w", ferr))
		took := 0
		var partial *PartialError
		var dl *DeliveredError
		switch {
		case errors.As(ferr, &partial):
			took = n - min(max(partial.Rejected, 0), n)
		case errors.As(ferr, &dl):
			k := min(dl.N, len(recs))
			took = max(0, k-notices)
			recs, notices = recs[k:], max(0, notices-k)
		}
		out.delivered += took
		out.fellBack += took
		n -= took
		err = errors.Join(err, fmt.Errorf("fallback: %w", ferr))
	}
	out.failed = n
	out.err = fmt.Errorf("asynclog: gave up on %d %s: %w", n, plural(n, "record", "records"), err)
	out.cause = err
	if n > 0 {
		out.from, out.to = timeSpan(recs[notices:])
	}
	return out
}

// timeSpan returns the earliest and the latest time of recs, leaving out
// zero times.
func timeSpan(recs []Record) (from, to time.Time) {
	for i := range recs {
		t := recs[i].Time
		if t.IsZero() {
			continue
		}
		if from.IsZero() || t.Before(from) {
			from = t
		}
		if to.IsZero() || t.After(to) {
			to = t
		}
	}
	return from, to
}

// retryWait waits d before a retry. It reports false if Shutdown has
// abandoned the drain, or if the wait would run past the deadline of a
// Shutdown in progress, including one that begins while it waits.
func (q *queue) retryWait(d time.Duration) bool {
	end := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	stopped := q.stopped
	for {
		q.mu.Lock()
		sctx := q.shutdownCtx
		q.mu.Unlock()
		if sctx != nil {
			if dl, ok := sctx.Deadline(); ok && end.After(dl) {
				return false
			}
			stopped = nil // seen: nothing more to learn from it
		}
		select {
		case <-t.C:
			return true
		case <-q.abortCtx.Done():
			return false
		case <-stopped:
			// Shutdown began: look at its deadline.
		}
	}
}

// backoff is the wait after the given failed attempt: exponential from lo,
// capped at hi, with the upper half jittered.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// write calls s.Write with a deadline, turning a panic into an error.
func (c *consumer) write(s Sink, recs []Record) (err error) {
	ctx := c.writeCtx()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("asynclog: sink panicked: %v", r)
		}
	}()
	if ws, ok := s.(*writerSink); ok && c.block != nil && len(recs) == len(c.seg.recs) && &recs[0] == &c.seg.recs[0] {
		return ws.writeBlock(c.block) // the segment as it lies: already one newline-separated block
	}
	return s.Write(ctx, recs)
}

// writeCtx returns the context for the next Write: a child of abortCtx
// whose deadline is at most WriteTimeout and at least half of it away.
// Making a context with a deadline costs allocations and a timer, so one
// serves successive Writes for as long as it has more than half its time
// left, rather than one made for every small batch.
func (c *consumer) writeCtx() context.Context {
	now := time.Now()
	if c.wctx == nil || c.wctxDeadline.Sub(now) < c.q.opts.WriteTimeout/2 || c.wctx.Err() != nil {
		if c.wcancel != nil {
			c.wcancel()
		}
		c.wctxDeadline = now.Add(c.q.opts.WriteTimeout)
		c.wctx, c.wcancel = context.WithDeadline(c.q.abortCtx, c.wctxDeadline)
	}
	return c.wctx
}

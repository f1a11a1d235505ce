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
	c.batch, c.block, c.unfilled = nil, nil, false
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
	b := batchLeft{recs: recs, notices: notices, n: len(recs) - notices}
	var out outcome
	err := c.retry(&b, &out)
	if err == nil {
		return out // settled: delivered, or refused in part (Partial)
	}
	if c.q.opts.Fallback != nil && c.q.abortCtx.Err() == nil {
		if err = c.fallback(&b, &out, err); b.n == 0 {
			return out // the fallback took the rest
		}
	}
	out.failed = b.n
	out.err = fmt.Errorf("asynclog: gave up on %d %s: %w", b.n, plural(b.n, "record", "records"), err)
	out.cause = err
	if b.n > 0 {
		out.from, out.to = timeSpan(b.recs[b.notices:])
	}
	return out
}

// batchLeft is what is left of a batch to deliver: recs, of which the
// first notices are synthetic (not counted), and n counted records.
type batchLeft struct {
	recs       []Record
	notices, n int
}

// took removes the first k records, which the sink took, and returns how
// many of them count (notices do not) and whether the notices went with
// them.
func (b *batchLeft) took(k int) (counted int, noticed bool) {
	k = min(k, len(b.recs))
	counted = max(0, k-b.notices)
	noticed = k >= b.notices
	b.notices = max(0, b.notices-k)
	b.n -= counted
	b.recs = b.recs[k:]
	return counted, noticed
}

// progress is what a Write's error says the sink took, read in one place
// for the sink and the fallback: the first front records ([Delivered]),
// and, of the rest, all but rejected ([Partial]).
type progress struct {
	front    int
	partial  bool
	rejected int
}

func readProgress(err error) progress {
	var p progress
	var dl *DeliveredError
	if errors.As(err, &dl) && dl.N > 0 {
		p.front = dl.N
	}
	var partial *PartialError
	if errors.As(err, &partial) {
		p.partial, p.rejected = true, max(partial.Rejected, 0)
	}
	return p
}

// retry writes what is left of the batch to the sink until it is settled
// (nil) or given up on (the last error). attempt counts the failed
// attempts since the sink last made progress: a Write that delivered part
// of the batch starts it again, and the RetryFor clock (c.failing) too.
func (c *consumer) retry(b *batchLeft, out *outcome) error {
	q := c.q
	for attempt := 1; ; attempt++ {
		err := c.write(q.sink, b.recs)
		out.writes++
		if err == nil {
			out.delivered += b.n
			out.noticed = true
			c.failing = time.Time{}
			return nil
		}
		p := readProgress(err)
		if p.front > 0 {
			counted, noticed := b.took(p.front)
			out.delivered += counted
			out.noticed = out.noticed || noticed
			if len(b.recs) == 0 {
				return nil
			}
			attempt, c.failing = 1, time.Time{}
		}
		if p.partial {
			rej := min(p.rejected, b.n)
			q.report(fmt.Errorf("asynclog: sink refused %d of %d %s: %w", rej, b.n, plural(b.n, "record", "records"), err))
			out.delivered += b.n - rej
			out.failed, out.err, out.cause, out.noticed = rej, err, err, true
			c.failing = time.Time{}
			if rej > 0 {
				out.from, out.to = timeSpan(b.recs[b.notices:])
			}
			return nil
		}
		if IsPermanent(err) {
			q.report(fmt.Errorf("asynclog: write %d %s (permanent, not retried): %w", b.n, plural(b.n, "record", "records"), err))
			return err
		}
		delay, again := c.nextAttempt(err, attempt, b.n)
		if !again || !q.retryWait(delay) {
			return err
		}
		out.retries++
	}
}

// nextAttempt reports a failed attempt and says whether to try again, and
// after how long: not once MaxAttempts (if set) or RetryFor is spent, or
// the drain abandoned. The backoff is capped at MaxBackoff, stretched to a
// RetryAfter, and cut to end with RetryFor.
func (c *consumer) nextAttempt(err error, attempt, n int) (time.Duration, bool) {
	q, o := c.q, c.q.opts
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
		return 0, false
	}
	delay := backoff(o.MinBackoff, o.MaxBackoff, attempt)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.Delay > delay {
		delay = min(ra.Delay, o.MaxBackoff)
	}
	return min(delay, left), true
}

// fallback gives what the sink gave up on to the fallback sink, one
// attempt; what it takes counts as Delivered and FellBack. It returns the
// error for the records still left, if any (b.n).
func (c *consumer) fallback(b *batchLeft, out *outcome, err error) error {
	ferr := c.write(c.q.opts.Fallback, b.recs)
	out.writes++
	if ferr == nil {
		out.delivered += b.n
		out.fellBack += b.n
		b.n = 0
		return err
	}
	c.q.report(fmt.Errorf("asynclog: fallback sink: %w", ferr))
	p := readProgress(ferr)
	took := 0
	if p.front > 0 {
		took, _ = b.took(p.front)
	}
	if p.partial {
		rest := b.n - min(p.rejected, b.n)
		took += rest
		b.n -= rest
	}
	out.delivered += took
	out.fellBack += took
	return errors.Join(err, fmt.Errorf("fallback: %w", ferr))
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
		q.lock()
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
	if ws, ok := s.(*writerSink); ok && c.block != nil && len(recs) == c.seg.n && &recs[0] == &c.seg.recs[0] {
		return ws.writeBlock(c.block) // the segment as it lies: already one newline-separated block
	}
	c.fill()
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

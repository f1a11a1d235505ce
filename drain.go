package asynclog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

var (
	errNilSink = errors.New("asynclog: NewQueue needs a Sink, got nil")

	// ErrDropped is wrapped by the errors that report dropped records to
	// Options.OnError.
	ErrDropped = errors.New("asynclog: records dropped")
)

// maxFailErrs bounds the errors a Flush can report; the rest are counted.
const maxFailErrs = 8

// shutdownGrace is how long Shutdown waits for the consumer after it has
// cancelled the Write in flight at its deadline. A sink that honours ctx
// returns well within it.
const shutdownGrace = 500 * time.Millisecond

// run is the queue's one consumer goroutine: it takes batches from the ring
// and writes them, answers Flush sentinels in order, and exits once
// Shutdown has begun and the ring is empty. NewQueue starts it; Shutdown
// waits for it.
func (q *queue) run() {
	defer q.wg.Done()
	defer close(q.done)

	o := q.opts
	batch := make([]entry, 0, o.BatchSize)
	recs := make([]Record, 0, o.BatchSize+1)
	spares := make([][]byte, 0, o.BatchSize) // buffers to swap into the slots it empties
	for _, e := range newRing(o.BatchSize) {
		spares = append(spares, e.b)
	}
	var lastStart, firstSeen time.Time
	var timer *time.Timer
	var done outcome // the last batch's, settled under the next lock

	for {
		q.mu.Lock()
		q.settleLocked(&done)
		var sentinel *flushReq
		for {
			if q.n == 0 {
				firstSeen = time.Time{}
				if q.stopping && q.roomWaiters == 0 {
					q.mu.Unlock()
					q.finish()
					return
				}
				q.sleepLocked(1, time.Time{}, &timer)
				continue
			}
			if e := &q.ring[q.head]; e.flush != nil {
				sentinel = q.popLocked(e.b).flush
				break
			}
			// Records are there: write now, or wait for the batch to fill
			// (FlushInterval) or for the rate limit (MinInterval)?
			if q.stopping || q.n > q.records || q.abandoned || (o.MinInterval == 0 && o.FlushInterval == 0) {
				break // a Flush or Shutdown is waiting, or nothing to wait for: write at once
			}
			now := time.Now()
			var until time.Time
			wakeAt := 1
			if o.MinInterval > 0 && !lastStart.IsZero() {
				if t := lastStart.Add(o.MinInterval); now.Before(t) {
					until, wakeAt = t, int(^uint(0)>>1)
				}
			}
			// A batch is full at BatchSize records, or at Size if the queue
			// is smaller: waiting for more than the queue holds would
			// sleep out the interval with the queue full.
			if full := min(o.BatchSize, o.Size); o.FlushInterval > 0 && q.records < full {
				if firstSeen.IsZero() {
					firstSeen = now
				}
				if t := firstSeen.Add(o.FlushInterval); now.Before(t) {
					if t.After(until) {
						until = t
					}
					wakeAt = max(wakeAt, full)
				}
			}
			if until.IsZero() {
				break
			}
			q.sleepLocked(wakeAt, until, &timer)
		}

		if sentinel != nil {
			err := q.flushErrLocked(sentinel.keep)
			q.mu.Unlock()
			sentinel.done <- err
			continue
		}

		// Take up to BatchSize records, stopping at a sentinel.
		batch = batch[:0]
		recs = recs[:0]
		if q.drops.total > 0 {
			notice := q.noticeLocked()
			recs = append(recs, notice)
			q.drops = droppedTally{}
		}
		for q.n > 0 && len(recs) < o.BatchSize && q.ring[q.head].flush == nil {
			var spare []byte
			if k := len(spares); k > 0 {
				spare, spares = spares[k-1], spares[:k-1]
			}
			e := q.popLocked(spare)
			batch = append(batch, e)
			recs = append(recs, e.rec)
		}
		q.inflight = len(batch)
		q.stalled = false
		if q.roomWaiters > 0 && q.room != nil {
			close(q.room)
			q.room = nil
		}
		q.mu.Unlock()
		firstSeen = time.Time{}

		if len(recs) == 0 {
			continue
		}
		if o.MinInterval > 0 {
			lastStart = time.Now()
		}
		notices := len(recs) - len(batch)
		if notices > 0 {
			q.report(fmt.Errorf("%w: %s", ErrDropped, recs[0].Message))
		}
		done = q.deliver(recs, notices)

		for i := range batch {
			if b := batch[i].b; cap(b) <= maxKeptBuf {
				spares = append(spares, b[:0])
			}
			batch[i] = entry{}
		}
		clear(recs)
	}
}

// outcome is what became of one batch's records.
type outcome struct {
	delivered, failed, fellBack int
	err                         error // why records failed
}

// settleLocked counts a written batch's outcome. The consumer calls it at
// the top of its next round, under the lock it takes anyway, rather than
// taking the lock once more per batch; until then the records count as
// in flight, so the Stats identity holds at every moment.
func (q *queue) settleLocked(o *outcome) {
	if q.inflight == 0 && o.delivered == 0 && o.failed == 0 && o.err == nil {
		return
	}
	if !q.abandoned { // else Shutdown has counted them already
		q.stats.Delivered += uint64(o.delivered)
		q.stats.Failed += uint64(o.failed)
		q.stats.FellBack += uint64(o.fellBack)
		if o.failed > 0 && o.err != nil {
			q.nFailErr++
			if len(q.failErrs) < maxFailErrs {
				q.failErrs = append(q.failErrs, o.err)
			}
		}
	}
	q.inflight = 0
	*o = outcome{}
}

// sleepLocked parks the consumer until a producer nudges it (once records
// reach wakeAt, or at any sentinel), until is reached (if not zero), or
// Shutdown aborts. q.mu is held on entry and on return.
//
// How the consumer waits decides what a log call costs. Only the first
// record after the consumer parks pays for waking it (a non-blocking send
// on a one-slot channel); the consumer takes a moment to run, records
// gather meanwhile, and it takes them all in one batch under one lock. So
// under load the consumer seldom parks and seldom holds the lock. We
// measured the alternatives: a consumer that spins (yielding or polling)
// before parking takes smaller batches, holds the lock more often, and
// made the log call up to twice as slow (see bench_test.go).
func (q *queue) sleepLocked(wakeAt int, until time.Time, timer **time.Timer) {
	q.waiting = true
	q.wakeAt = wakeAt
	q.mu.Unlock()
	var tc <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if *timer == nil {
			*timer = time.NewTimer(d)
		} else {
			(*timer).Reset(d)
		}
		tc = (*timer).C
	}
	select {
	case <-q.wake:
	case <-tc:
	case <-q.abortCtx.Done():
	}
	if tc != nil {
		(*timer).Stop()
	}
	q.mu.Lock()
	q.waiting = false
}

// flushErrLocked returns the failures since the previous Flush reply and,
// unless keep, forgets them.
func (q *queue) flushErrLocked(keep bool) error {
	if q.nFailErr == 0 {
		return nil
	}
	err := errors.Join(q.failErrs...)
	if extra := q.nFailErr - len(q.failErrs); extra > 0 {
		err = fmt.Errorf("%w\n(and %d more failed batches)", err, extra)
	}
	if !keep {
		q.failErrs, q.nFailErr = nil, 0
	}
	return err
}

// deliver writes one batch with retries, then to the fallback. notices is
// the number of leading synthetic records, which are not counted.
func (q *queue) deliver(recs []Record, notices int) outcome {
	o := q.opts
	n := len(recs) - notices
	var err error
	done := 0 // records of the batch the sink said it delivered before failing
	for attempt := 1; ; attempt++ {
		err = q.write(q.sink, recs)
		if err == nil {
			return outcome{delivered: n}
		}
		var dl *DeliveredError
		if errors.As(err, &dl) && dl.N > 0 {
			k := min(dl.N, len(recs))
			// Notices come first in recs; they are not counted.
			counted := max(0, k-notices)
			notices = max(0, notices-k)
			done += counted
			n -= counted
			recs = recs[k:]
			if len(recs) == 0 {
				return outcome{delivered: done}
			}
		}
		var partial *PartialError
		if errors.As(err, &partial) {
			rej := min(max(partial.Rejected, 0), n)
			q.report(fmt.Errorf("asynclog: sink refused %d of %d records: %w", rej, n, err))
			return outcome{delivered: done + n - rej, failed: rej, err: err}
		}
		q.report(fmt.Errorf("asynclog: write batch of %d records (attempt %d of %d): %w", n, attempt, o.MaxAttempts, err))
		if IsPermanent(err) || attempt >= o.MaxAttempts || q.abortCtx.Err() != nil {
			break
		}
		delay := backoff(o.MinBackoff, o.MaxBackoff, attempt)
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.Delay > delay {
			delay = min(ra.Delay, o.MaxBackoff)
		}
		if !q.retryWait(delay) {
			break
		}
		q.mu.Lock()
		q.stats.Retries++
		q.mu.Unlock()
	}
	if o.Fallback != nil && q.abortCtx.Err() == nil {
		ferr := q.write(o.Fallback, recs)
		if ferr == nil {
			return outcome{delivered: done + n, fellBack: n}
		}
		q.report(fmt.Errorf("asynclog: fallback sink: %w", ferr))
		var partial *PartialError
		if errors.As(ferr, &partial) {
			rej := min(max(partial.Rejected, 0), n)
			return outcome{delivered: done + n - rej, fellBack: n - rej, failed: rej,
				err: fmt.Errorf("asynclog: fallback refused %d of %d records: %w", rej, n, errors.Join(err, ferr))}
		}
		err = errors.Join(err, fmt.Errorf("fallback: %w", ferr))
	}
	return outcome{delivered: done, failed: n, err: fmt.Errorf("asynclog: gave up on %d %s: %w", n, plural(n, "record", "records"), err)}
}

// retryWait waits d before a retry. It reports false if Shutdown has
// aborted, or if the wait would run past the deadline of a Shutdown in
// progress, including one that begins while it waits.
func (q *queue) retryWait(d time.Duration) bool {
	end := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	stopping := q.stopping0
	for {
		q.mu.Lock()
		sctx := q.shutdownCtx
		q.mu.Unlock()
		if sctx != nil {
			if dl, ok := sctx.Deadline(); ok && end.After(dl) {
				return false
			}
			stopping = nil // seen: nothing more to learn from it
		}
		select {
		case <-t.C:
			return true
		case <-q.abortCtx.Done():
			return false
		case <-stopping:
			// Shutdown began: look at its deadline.
		}
	}
}

// backoff is the wait after the given failed attempt: exponential from min,
// capped at max, with the upper half jittered.
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
func (q *queue) write(s Sink, recs []Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("asynclog: sink panicked: %v", r)
		}
	}()
	return s.Write(q.writeCtx(), recs)
}

// writeCtx returns the context for the next Write: a child of abortCtx
// whose deadline is at most WriteTimeout and at least half of it away.
// Making a context with a deadline costs two allocations and a timer, so
// one is kept for as long as it has more than half its time left, rather
// than made for every small batch. Only the consumer calls it.
func (q *queue) writeCtx() context.Context {
	now := time.Now()
	if q.wctx == nil || q.wctxDeadline.Sub(now) < q.opts.WriteTimeout/2 || q.wctx.Err() != nil {
		if q.wcancel != nil {
			q.wcancel()
		}
		q.wctxDeadline = now.Add(q.opts.WriteTimeout)
		q.wctx, q.wcancel = context.WithDeadline(q.abortCtx, q.wctxDeadline)
	}
	return q.wctx
}

// finish runs on the consumer's way out: it closes the sink once.
func (q *queue) finish() {
	if q.wcancel != nil {
		q.wcancel()
	}
	q.mu.Lock()
	ctx := q.shutdownCtx
	if err := q.flushErrLocked(false); err != nil {
		// Records given up on since the last Flush: Shutdown's result,
		// the same for every caller.
		q.shutdownErr = errors.Join(q.shutdownErr, err)
	}
	q.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := closeSink(ctx, q.sink); err != nil {
		q.report(fmt.Errorf("asynclog: close sink: %w", err))
	}
	if q.opts.Fallback != nil {
		if err := closeSink(ctx, q.opts.Fallback); err != nil {
			q.report(fmt.Errorf("asynclog: close fallback sink: %w", err))
		}
	}
}

// report passes err to OnError, or writes a rate-limited line on stderr.
func (q *queue) report(err error) {
	if f := q.opts.OnError; f != nil {
		defer func() { _ = recover() }() // a broken OnError must not kill the consumer
		f(err)
		return
	}
	q.reportMu.Lock()
	defer q.reportMu.Unlock()
	now := time.Now()
	if now.Sub(q.lastLine) < time.Second {
		q.muted++
		return
	}
	q.lastLine = now
	if q.muted > 0 {
		fmt.Fprintf(os.Stderr, "%v (and %d more errors)\n", err, q.muted)
		q.muted = 0
		return
	}
	fmt.Fprintln(os.Stderr, err)
}

// noticeLocked builds the synthetic record that opens a batch after drops.
func (q *queue) noticeLocked() Record {
	d := q.drops
	now := time.Now()
	msg := "asynclog: dropped " + strconv.FormatUint(d.total, 10) + " records since " + d.since.UTC().Format(time.RFC3339Nano)
	names := [4]string{"DEBUG", "INFO", "WARN", "ERROR"}
	b := make([]byte, 0, 256)
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"WARN","msg":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"dropped":`...)
	b = strconv.AppendUint(b, d.total, 10)
	b = append(b, `,"dropped_by_level":{`...)
	sep := false
	for i, c := range d.byLevel {
		if c == 0 {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, names[i]...)
		b = append(b, `":`...)
		b = strconv.AppendUint(b, c, 10)
	}
	b = append(b, `},"since":"`...)
	b = d.since.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return Record{Time: now, Level: slog.LevelWarn, Message: msg, Encoded: b}
}

// Flush is a barrier: it returns once every record enqueued before the call
// has been handled by the sink. It returns nil if all of them were
// delivered; if records were given up on (counted Failed) since the
// previous Flush returned, it returns their errors joined. At ctx's
// deadline it returns ctx's error; the records are still delivered later.
// After Shutdown has begun, Flush waits for the drain and returns its
// result. Flush is safe to call concurrently, and never drops its
// sentinel, whatever OnFull says.
func (pub *Queue) Flush(ctx context.Context) error {
	return pub.q.flush(ctx, false)
}

// flush sends a sentinel and waits for its reply. With keep, the failures
// it reports stay for the next Flush too: a synchronous record's wait must
// not take the errors that the program's own Flush or Close should return.
func (q *queue) flush(ctx context.Context, keep bool) error {
	q.mu.Lock()
	if q.stopping {
		q.mu.Unlock()
		return q.waitDone(ctx)
	}
	req := &flushReq{done: make(chan error, 1), keep: keep}
	q.pushLocked(Record{}, req)
	q.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("asynclog: flush: %w", ctx.Err())
	}
}

// waitDone waits for the consumer to exit, bounded by ctx, and returns the
// shutdown's result.
func (q *queue) waitDone(ctx context.Context) error {
	select {
	case <-q.done:
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.shutdownErr
	case <-ctx.Done():
		return fmt.Errorf("asynclog: wait for shutdown: %w", ctx.Err())
	}
}

// Shutdown stops accepting records, drains the queue to the sink, closes
// the sink if it has a Close(ctx) method, and waits for the consumer
// goroutine to exit. Records logged after it began are counted as Dropped.
//
// At ctx's deadline it cancels the Write in flight, counts every record it
// could not deliver as Failed (so that Enqueued = Delivered + Dropped +
// Failed holds when it returns), and returns an error that wraps ctx's
// error and says how many records were lost. It is idempotent and safe to
// call while other goroutines log or flush; a later call waits for the
// first one's drain (bounded by its own ctx) and returns its result.
func (pub *Queue) Shutdown(ctx context.Context) error {
	return pub.q.shutdown(ctx)
}

// Close is Shutdown bounded by Options.CloseTimeout.
func (pub *Queue) Close() error {
	return pub.q.close()
}

func (q *queue) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), q.opts.CloseTimeout)
	defer cancel()
	return q.shutdown(ctx)
}

func (q *queue) shutdown(ctx context.Context) error {
	err := q.shutdownNoUnregister(ctx)
	if q.opts.ExitHook {
		unregisterExit(q)
	}
	return err
}

// shutdownNoUnregister is Shutdown without leaving the exit-hook registry,
// for the signal goroutine, which must not wait for itself.
func (q *queue) shutdownNoUnregister(ctx context.Context) error {
	q.mu.Lock()
	first := !q.stopping
	if first {
		q.stopping = true
		q.shutdownCtx = ctx
		close(q.stopping0)
		if q.waiting {
			q.waiting = false
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}
	}
	q.mu.Unlock()

	select {
	case <-q.done:
		q.wg.Wait()
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.shutdownErr
	case <-ctx.Done():
	}
	if !first {
		// Only the first caller's deadline abandons the drain: a second,
		// more hurried caller (the exit hook, the cleanup) must not cut
		// short the drain the first one is patiently waiting for.
		return fmt.Errorf("asynclog: wait for shutdown: %w", ctx.Err())
	}

	// Deadline: give up on whatever is left, and say how much that was.
	q.mu.Lock()
	lost := q.records + q.inflight
	if lost > 0 || q.roomWaiters > 0 {
		q.abandoned = true
		q.stats.Failed += uint64(lost)
		q.inflight = 0 // counted now: the consumer must not count it again
		for q.n > 0 {
			e := q.popLocked(q.ring[q.head].b[:0])
			if e.flush != nil {
				e.flush.done <- ErrClosed
			}
		}
		if q.room != nil {
			close(q.room)
			q.room = nil
		}
		q.shutdownErr = fmt.Errorf("asynclog: shutdown: %d records not delivered: %w", lost, ctx.Err())
	}
	err := q.shutdownErr
	q.mu.Unlock()
	q.abort()

	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case <-q.done:
		q.wg.Wait()
		q.mu.Lock()
		err = q.shutdownErr // with what the drain failed to deliver
		q.mu.Unlock()
	case <-t.C:
		if err == nil {
			err = fmt.Errorf("asynclog: shutdown: %w", ctx.Err())
		}
		err = fmt.Errorf("%w (the sink ignored cancellation and is still busy)", err)
	}
	return err
}

// forgotten runs as the cleanup of a Queue that became unreachable without
// Shutdown: it drains and stops the consumer in the background.
func (q *queue) forgotten() {
	q.mu.Lock()
	stopping := q.stopping
	q.mu.Unlock()
	if !stopping {
		go q.close()
	}
}

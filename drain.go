package asynclog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

var (
	errNilSink = errors.New("asynclog: NewQueue needs a Sink, got nil")

	// ErrDropped is wrapped by the errors that report dropped records: to
	// Options.OnError, and from Flush, Shutdown and synchronous records.
	ErrDropped = errors.New("asynclog: records dropped")
)

// checkSink refuses a Sink that could only discard records.
func checkSink(s Sink) error {
	switch s := s.(type) {
	case nil:
		return errNilSink
	case SinkFunc:
		if s == nil {
			return errors.New("asynclog: NewQueue needs a Sink, got a nil SinkFunc")
		}
	case *writerSink:
		if s.w == nil {
			return errors.New("asynclog: WriterSink needs an io.Writer, got nil")
		}
	}
	return nil
}

// maxKeptBatchBuf is the most bytes of encodings a batch holds (a batch of
// one larger record aside): a segment's buf grows to it at most.
const maxKeptBatchBuf = 1 << 20

// consumer is the state of the queue's one consumer goroutine, touched by
// no other.
type consumer struct {
	q          *queue
	seg        *segment // the records taken, being written
	batch      []Record // what Write is given: seg.recs itself, or recs
	recs       []Record // the batch when it is not seg.recs: notices first, evicted records left out
	block      []byte   // seg's bytes when WriterSink may write them as they lie, else nil
	notices    int      // leading synthetic records in batch (drop, failure notices), not counted
	failNotice bool     // batch carries a failure notice (notice.go)
	// failing is when the sink's current run of retryable failures began
	// (zero while it takes batches): RetryFor counts from it.
	failing   time.Time
	msgs      []byte  // the arena of rawMessage
	out       outcome // the last batch's, settled under the next lock
	firstSeen time.Time
	lastEnd   time.Time // when the last Write returned, for MinInterval
	timer     *time.Timer

	wctx         context.Context // see writeCtx
	wcancel      context.CancelFunc
	wctxDeadline time.Time
}

// run is the queue's one consumer goroutine. Each round it settles the
// last batch (counts it, moves the Flush barrier, answers the Flushes it
// passed), waits for records, takes a batch from the store (freeing its
// room at once), and then, outside the lock, reads it and writes it. It
// exits once Shutdown has begun and nothing is left. NewQueue starts it;
// Shutdown waits for it.
func (q *queue) run() {
	defer q.wg.Done()
	defer close(q.done)
	q.consumer.Store(goid())
	c := &consumer{q: q, recs: make([]Record, 0, q.opts.BatchSize+1)}
	for _, err := range q.startErrs {
		q.report(err)
	}
	for {
		q.mu.Lock()
		c.settleLocked()
		if !c.waitLocked() {
			q.mu.Unlock()
			if c.wcancel != nil {
				c.wcancel()
			}
			q.finish()
			q.closeStore()
			return
		}
		d := c.takeLocked()
		q.mu.Unlock()
		q.store.warm()
		c.prepare(d)
		c.deliver()
	}
}

// settleLocked counts the last batch's outcome, then moves the barrier to
// the oldest record still queued and answers the Flushes it has passed.
func (c *consumer) settleLocked() {
	q, o := c.q, c.out
	if q.abortCtx.Err() == nil { // else Shutdown has counted them already
		q.stats.Delivered += uint64(o.delivered)
		q.stats.Failed += uint64(o.failed)
		q.stats.FellBack += uint64(o.fellBack)
		q.stats.Retries += uint64(o.retries)
		q.stats.Writes += uint64(o.writes)
		if o.failed > 0 {
			q.loss.count.failed += uint64(o.failed)
			q.loss.add(q.loss.count, o.err)
		}
	}
	c.settleFailuresLocked(o) // the failure notice's tally (notice.go)
	c.out = outcome{}
	if (q.inflight > 0 || c.seg != nil) && q.abortCtx.Err() == nil {
		q.store.release(q.inflight, c.seg)
	}
	c.seg = nil
	q.inflight = 0
	if seq, ok := q.store.oldestSeq(); ok {
		q.settled = seq
	} else {
		q.settled = q.seq
	}
	if len(q.flushes) > 0 {
		q.answerFlushesLocked()
	}
}

// waitLocked waits until a batch should be written, and reports false when
// the consumer should exit instead: Shutdown has begun and nothing is left.
//
// Under load the consumer wakes once per batch: with records there but
// fewer than a batch's worth, it lingers (FlushInterval, counted from when
// it first saw them) and only the log call that completes a batch nudges
// it. A Flush, Shutdown, a synchronous record or a log call waiting for
// room does not wait for the linger; MinInterval holds back even those
// but Flush and Shutdown.
func (c *consumer) waitLocked() bool {
	q, o := c.q, c.q.opts
	for {
		if q.abortCtx.Err() != nil {
			return false // Shutdown gave up on the drain: what is left stays (or is counted lost)
		}
		if q.store.queued() == 0 {
			c.firstSeen = time.Time{}
			if len(q.waiters) > 0 {
				q.admitLocked() // an empty store fits any waiter
				continue
			}
			if q.stopping {
				return false
			}
			q.parkLocked(wakeOnRecord, time.Time{}, false, &c.timer)
			continue
		}
		if q.stopping || len(q.flushes) > 0 {
			return true
		}
		now := time.Now()
		var until time.Time
		mode, pacing := wakeOnRecord, false
		if o.MinInterval > 0 && !c.lastEnd.IsZero() {
			if t := c.lastEnd.Add(o.MinInterval); now.Before(t) {
				until, mode, pacing = t, wakeNever, true
			}
		}
		if o.FlushInterval > 0 && len(q.waiters) == 0 && !q.store.ready() {
			if c.firstSeen.IsZero() {
				c.firstSeen = now
			}
			if t := c.firstSeen.Add(o.FlushInterval); now.Before(t) {
				until = later(until, t)
				if mode == wakeOnRecord {
					mode = wakeOnBatch
				}
			}
		}
		if until.IsZero() {
			return true
		}
		q.parkLocked(mode, until, pacing, &c.timer)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// parkLocked parks the consumer until a log call nudges it (as mode
// says), a Flush, Shutdown or a log call waiting for room does, until is
// reached (if not zero), or the drain is abandoned. pacing says it waits out
// MinInterval on purpose, so that a log call waiting for room does not take
// the pause for a stuck sink. q.mu is held on entry and on return.
//
// Only the log call that brings what the consumer waits for pays for waking
// it (a non-blocking send on a one-slot channel); records gather while it
// sleeps, and it takes them in one batch under one lock.
func (q *queue) parkLocked(mode wakeMode, until time.Time, pacing bool, timer **time.Timer) {
	q.parked, q.wakeOn, q.pacing = true, mode, pacing
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
	q.parked, q.pacing = false, false
}

// noticesDue are the notices that open the next batch: the drops since
// the last drop notice, and the records given up on since the main sink
// last took a failure notice.
type noticesDue struct {
	drops droppedTally
	fails failTally
}

// takeLocked takes the next batch from the store, frees its room and lets
// waiting log calls in. Nothing in it is proportional to the batch: the
// records are read, and the notices built, outside the lock. It returns
// the notices due.
func (c *consumer) takeLocked() noticesDue {
	q := c.q
	d := noticesDue{drops: q.drops, fails: c.failuresDueLocked()}
	q.drops = droppedTally{}
	c.seg = q.store.take()
	m := 0
	if c.seg != nil {
		m = c.seg.live
	}
	q.released += uint64(m)
	q.inflight = m
	c.firstSeen = time.Time{} // the next batch lingers from when it is first seen
	if len(q.waiters) > 0 {
		q.admitLocked()
	}
	return d
}

// prepare turns what takeLocked took into the batch to write, outside the
// lock: the notices due first (notice.go),
// then the live records, each once its log call has copied its bytes, with
// the messages the io.Writer front end left in the encodings found. A
// segment with no evicted records and no notice is written as it is.
func (c *consumer) prepare(d noticesDue) {
	c.recs, c.notices = c.recs[:0], 0
	if d.drops.total > 0 {
		c.recs = append(c.recs, c.q.notice(d.drops))
		c.notices++
	}
	if d.fails.total > 0 {
		c.recs = append(c.recs, c.q.failureNotice(d.fails))
		c.notices++
	}
	s := c.seg
	if s == nil {
		c.batch = c.recs
		return
	}
	whole := c.notices == 0 && s.dead == 0
	block := whole && c.q.msgless // WriterSink takes the segment's bytes as they lie ...
	for i := range s.recs {
		s.wait(i)
		mt := &s.meta[i]
		if mt.dead {
			continue
		}
		if mt.raw && !c.q.msgless {
			s.recs[i].Message = c.rawMessage(s.recs[i].Encoded)
		}
		if !whole {
			c.recs = append(c.recs, s.recs[i])
		}
		if enc := s.recs[i].Encoded; block && len(enc) > 0 && enc[len(enc)-1] == '\n' {
			block = false // ... unless a record ends in its own newline, where WriterSink adds none
		}
	}
	c.block = nil
	if whole {
		c.batch = s.recs
		if block && len(s.recs) > 0 {
			c.block = s.buf[:s.off]
		}
	} else {
		c.batch = c.recs
	}
}

// msgArenaBytes is the size of the arenas that hold the messages of
// records from the io.Writer front end.
const msgArenaBytes = 16 << 10

// rawMessage returns the message of a record from the io.Writer front end.
// Messages that need no unescaping are copied into an arena that is only
// ever appended to, never rewritten, so each string stays valid (and
// immutable) for as long as anyone holds it, and a record costs no
// allocation of its own: one arena serves many records.
func (c *consumer) rawMessage(enc []byte) string {
	span, plain := writerMessageSpan(enc)
	if !plain {
		return writerMessage(enc)
	}
	if len(span) == 0 {
		return ""
	}
	if cap(c.msgs)-len(c.msgs) < len(span) {
		c.msgs = make([]byte, 0, max(msgArenaBytes, len(span)))
	}
	start := len(c.msgs)
	c.msgs = append(c.msgs, span...)
	return unsafe.String(&c.msgs[start], len(span))
}

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

// dropNoticePrefix opens the drop notice's message.
const dropNoticePrefix = "asynclog: dropped "

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

// finish runs on the consumer's way out: it closes the sinks once.
func (q *queue) finish() {
	q.mu.Lock()
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

// reporter is the default OnError: a line on stderr, at most one a second,
// with a count of the ones it held back.
type reporter struct {
	mu       sync.Mutex
	lastLine time.Time
	muted    int
}

// report passes err to OnError, or to the default reporter.
func (q *queue) report(err error) {
	if f := q.opts.OnError; f != nil {
		defer func() { _ = recover() }() // a broken OnError must not kill the consumer
		f(err)
		return
	}
	r := &q.reporter
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastLine) < time.Second {
		r.muted++
		return
	}
	r.lastLine = now
	if r.muted > 0 {
		fmt.Fprintf(os.Stderr, "%v (and %d more errors)\n", err, r.muted)
		r.muted = 0
		return
	}
	fmt.Fprintln(os.Stderr, err)
}

// notice builds the synthetic record that opens a batch after drops: in
// the shape of the zap Core that feeds the queue (its encoder's keys and
// level names), or else as slog.JSONHandler writes.
func (q *queue) notice(d droppedTally) Record {
	now := time.Now()
	msg := dropNoticePrefix + strconv.FormatUint(d.total, 10) + " " + plural(int(d.total), "record", "records") +
		" since " + d.since.UTC().Format(time.RFC3339Nano)
	names := [4]string{"DEBUG", "INFO", "WARN", "ERROR"}
	if enc := q.zapEnc.Load(); enc != nil {
		if b, ok := zapNotice(*enc, now, msg, d, names); ok {
			return Record{Time: now, Level: slog.LevelWarn, Message: msg, Encoded: b}
		}
	}
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

package asynclog

import (
	"context"
	"time"
	"unsafe"
)

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
	unfilled   bool     // batch is seg.recs with Encoded not yet set: WriterSink writes block (fill)
	notices    int      // leading synthetic records in batch (drop, failure notices), not counted
	failNotice bool     // batch carries a failure notice (notice.go)
	// failing is when the sink's current run of retryable failures began
	// (zero while it takes batches): RetryFor counts from it.
	failing   time.Time
	msgs      []byte  // the arena of rawMessage
	msgless   bool    // no sink reads Record.Message (WriterSink): the io.Writer front end's is not looked for
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
func (q *queue) run(startErrs []error) {
	defer q.wg.Done()
	defer close(q.done)
	q.consumer.Store(goid())
	c := &consumer{q: q, recs: make([]Record, 0, q.opts.BatchSize+1)}
	_, plain := q.sink.(*writerSink)
	_, plainFallback := q.opts.Fallback.(*writerSink)
	c.msgless = plain && (q.opts.Fallback == nil || plainFallback)
	for _, err := range startErrs {
		q.report(err)
	}
	for {
		q.lock()
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
		q.store.read(c.seg)
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
			q.loss.add(q.lossNowLocked(), o.err)
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
// Under load the consumer wakes at most once per batch: with records there
// but fewer than a batch's worth, it lingers (FlushInterval, counted from
// when it first saw them), and when its timer wakes it, it takes batch
// after batch until less than one is left. Only a log call that finds the
// store half full, or the linger overdue (the runtime ran the timer late:
// see queue.overdue), nudges it sooner, and yields its processor to it. A
// Flush, Shutdown, a synchronous record or a log call waiting for
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
			if q.stoppingLocked() {
				return false
			}
			q.parkLocked(sleepOnRecord, time.Time{}, false, &c.timer)
			continue
		}
		if q.stoppingLocked() || len(q.flushes) > 0 {
			return true
		}
		now := time.Now()
		var until time.Time
		mode, pacing := sleepOnRecord, false
		if o.MinInterval > 0 && !c.lastEnd.IsZero() {
			if t := c.lastEnd.Add(o.MinInterval); now.Before(t) {
				until, mode, pacing = t, sleepNever, true
			}
		}
		if o.FlushInterval > 0 && len(q.waiters) == 0 && !q.store.ready() {
			if c.firstSeen.IsZero() {
				c.firstSeen = now
			}
			if t := c.firstSeen.Add(o.FlushInterval); now.Before(t) {
				until = later(until, t)
				if mode == sleepOnRecord {
					mode = sleepOnBatch
				}
			}
		}
		if until.IsZero() {
			return true
		}
		if q.parkLocked(mode, until, pacing, &c.timer) {
			c.firstSeen = time.Now().Add(-o.FlushInterval) // woken overdue: the linger is over
		}
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
// the pause for a stuck sink. q.mu is held on entry and on return. It
// reports whether a log call found the linger overdue (queue.overdue).
//
// Only the log call that brings what the consumer waits for pays for waking
// it (a non-blocking send on a one-slot channel); records gather while it
// sleeps, and it takes them in one batch under one lock.
func (q *queue) parkLocked(mode uint32, until time.Time, pacing bool, timer **time.Timer) (hurried bool) {
	q.pacing = pacing
	if mode == sleepOnBatch {
		q.due.Store(until.UnixNano()) // before sleep: a log call that sees the mode sees its time
	}
	q.sleep.Store(mode)
	// A lock-free log call that reserved since the caller's fold saw the
	// consumer awake and did not wake it: fold again now that it sleeps
	// (the store of sleep comes first, so either this fold sees the
	// reservation or the log call sees sleep).
	q.syncLocked()
	if mode == sleepOnRecord && q.store.queued() > 0 || mode == sleepOnBatch && q.store.pressing() {
		q.sleep.Store(sleepAwake)
		q.pacing = false
		return false // the caller looks again
	}
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
	q.lock()
	hurried = q.sleep.Swap(sleepAwake) == sleepHurried
	q.pacing = false
	return hurried
}

// noticesDue are the notices that open the next batch: the drops since
// the last drop notice, and the records given up on since the main sink
// last took a failure notice.
type noticesDue struct {
	drops droppedTally
	fails failTally
}

// takeLocked takes the next batch from the store, frees its room and lets
// waiting log calls in. In memory nothing in it is proportional to the
// batch (a spool's take claims the batch's records one by one, a walk of
// their headers): the records are read, and the notices built, outside
// the lock. It returns the notices due.
func (c *consumer) takeLocked() noticesDue {
	q := c.q
	d := noticesDue{drops: q.drops, fails: c.failuresDueLocked()}
	q.drops = droppedTally{}
	q.closeFastLocked() // the batch may be the leased segment
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
	q.openFastLocked()
	return d
}

// prepare turns what takeLocked took into the batch to write, outside the
// lock: the notices due first (notice.go),
// then the live records, each once its log call has copied its bytes, with
// the messages the io.Writer front end left in the encodings found. A
// segment with no evicted records and no notice is written as it is; if
// its sink is WriterSink, which takes the segment's bytes as they lie, the
// records' Encoded are left unset until a sink reads them (fill).
func (c *consumer) prepare(d noticesDue) {
	c.recs, c.notices, c.unfilled = c.recs[:0], 0, false
	if d.drops.total > 0 {
		c.recs = append(c.recs, c.q.notice(d.drops))
		c.notices++
	}
	if d.fails.total > 0 {
		c.recs = append(c.recs, c.q.failureNotice(d.fails))
		c.notices++
	}
	s := c.seg
	c.block = nil
	if s == nil {
		c.batch = c.recs
		return
	}
	whole := c.notices == 0 && s.dead == 0
	if whole && c.msgless && s.buf != nil && s.n > 0 && s.asBlock() {
		c.batch, c.block, c.unfilled = s.recs[:s.n], s.buf[:s.off], true
		return
	}
	// Every record is written from here on: fillEncoded waits for each of
	// a memory segment's; the spool's batch (no buf) was written by read,
	// on this goroutine.
	if s.buf != nil {
		s.fillEncoded()
	}
	for i := range s.n {
		mt := &s.meta[i]
		if mt.dead {
			continue
		}
		if mt.raw && !c.msgless {
			s.recs[i].Message = c.rawMessage(s.recs[i].Encoded)
		}
		if !whole {
			c.recs = append(c.recs, s.recs[i])
		}
	}
	if whole {
		c.batch = s.recs[:s.n]
	} else {
		c.batch = c.recs
	}
}

// fill sets the Encoded of a batch that prepare left as a block, for a
// sink that reads the records (the Fallback, or a retry that is not
// WriterSink's).
func (c *consumer) fill() {
	if c.unfilled {
		c.seg.fillEncoded()
		c.unfilled = false
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

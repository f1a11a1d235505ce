package asynclog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"
)

// Queue is a bounded queue of log records with one consumer goroutine that
// writes them in batches to a [Sink].
//
// Front ends ([NewCore] for zap, [NewHandler] for slog, [NewWriter] for
// anything that writes lines) encode each record on the caller's goroutine
// and hand it to the queue; what happens when the queue is full is set by
// Options.OnFull. [NewQueue] starts the consumer; [Queue.Shutdown] (or
// [Queue.Close]) drains the queue, closes the sink and stops the consumer.
// Call Close in main's defer:
//
//	q, err := asynclog.NewQueue(sink, asynclog.Options{})
//	if err != nil { ... }
//	defer q.Close()
//
// All methods are safe for concurrent use. A Queue that becomes unreachable
// without Shutdown is drained and stopped by a cleanup, so its goroutine
// does not leak; that is a backstop, not a way to deliver the last lines.
type Queue struct {
	q *queue
}

// Stats are a queue's counters. At any moment
// Enqueued = Delivered + Dropped + Failed + Queued, and once Shutdown has
// returned Queued is 0, but with Options.Spool: records that Shutdown's
// deadline left in the spool stay counted in Queued, since the next queue
// on the spool delivers them.
type Stats struct {
	Enqueued  uint64 // records handed to the queue, including those dropped on arrival
	Delivered uint64 // records a sink (or the fallback) took
	Dropped   uint64 // records dropped by the overflow policy, too large for MaxBytes, or logged after Shutdown began
	Failed    uint64 // records the sink gave up on or refused, and records abandoned at Shutdown's deadline
	FellBack  uint64 // of Delivered, the records the fallback sink took
	Retries   uint64 // Write attempts after the first, over all batches
	Queued    int    // records accepted and not yet settled: in the queue, being written, or waiting for room
	Replayed  uint64 // of Enqueued, the records an earlier process left in Options.Spool
	Damaged   uint64 // damaged regions of Options.Spool skipped at NewQueue (torn or corrupted bytes, never delivered)
	Writes    uint64 // Sink.Write calls (retries and the fallback's included): Delivered/Writes is the mean batch
}

// ErrReentrant is returned by Flush, Shutdown and Close when they are called
// from the queue's own consumer goroutine (from a Sink's Write or from
// Options.OnError), where waiting for the consumer could never end, and
// from the OnError that Shutdown calls on its own goroutine for what it
// abandoned at its deadline, where waiting would outlast that Shutdown.
var ErrReentrant = errors.New("asynclog: called from the queue's own consumer (a Sink or OnError)")

// queue is the state shared by the front ends, the consumer and the
// exit-hook registry. The public Queue wraps it so that a forgotten Queue
// can become unreachable while its consumer still runs.
//
// Every field below mu is guarded by it. Who writes what:
//   - the log call: store (push, evict), seq, stats.Enqueued, the drop
//     counts;
//   - the consumer: store (take, release), released, settled, inflight,
//     the delivery stats, and the replies to waiters and flushes;
//   - Flush: flushes (add, remove on giving up);
//   - Shutdown: stopping, and the abandonment at its deadline.
type queue struct {
	sink Sink
	opts Options
	// syncLevel is Options.SyncLevel when it is a constant, read on every
	// log call without an interface call; syncDyn is set instead when it
	// can change (a *slog.LevelVar, say).
	syncLevel slog.Level
	syncDyn   slog.Leveler

	mu       sync.Mutex
	store    store         // the queued records: a ring in memory, or a spool in files
	seq      uint64        // records accepted so far: the next record's sequence number
	released uint64        // records the consumer has taken from the store: a waiter's sign of progress
	settled  uint64        // every record with a sequence number below it is settled: Flush's barrier
	inflight int           // records in the batch being written
	parked   bool          // the consumer sleeps on wake ...
	wakeOn   wakeMode      // ... and wants a nudge for this
	pacing   bool          // ... and it is waiting out MinInterval on purpose
	waiters  []*roomWaiter // log calls waiting for room, in arrival order
	stall    uint64        // released+1 at the last wait for room that saw no progress; 0: none
	flushes  []*flushWait  // Flush calls waiting for their barrier
	stopping bool          // Shutdown has begun: records are refused, the consumer drains and exits
	stats    Stats         // Queued is derived
	drops    droppedTally  // drops since the last notice
	fails    failTally     // records given up on since the sink last took a failure notice
	loss     lossLog       // what Flush and Close report

	wake        chan struct{} // one slot: nudges the parked consumer
	shutdownCtx context.Context
	abortCtx    context.Context // cancelled at Shutdown's deadline: the drain is abandoned
	abort       context.CancelFunc
	stopped     chan struct{}  // closed when Shutdown begins, for a retry's wait
	done        chan struct{}  // closed when the consumer exits: what Shutdown selects on beside its ctx
	wg          sync.WaitGroup // the consumer: Shutdown joins it once done is closed
	result      error          // Shutdown's result, set once the consumer exits or the drain is abandoned
	left        error          // set when Shutdown's deadline left records in the spool and lost none

	consumer   atomic.Int64 // the consumer goroutine's id, for ErrReentrant
	inCallback atomic.Bool  // the consumer is inside Sink.Write or OnError
	msgless    bool         // no sink reads Record.Message (WriterSink): the io.Writer front end's is not looked for
	abandoner  atomic.Int64 // the id of the goroutine running OnError from abandon; 0: none
	reporter   reporter
	startErrs  []error                         // found by NewQueue (spool damage), reported by the consumer as it starts
	zapEnc     atomic.Pointer[zapcore.Encoder] // the first zap Core's encoder: the drop notice's shape
}

// roomWaiter is a log call waiting for room. The one who frees room (the
// consumer, or Shutdown) pushes the record for it, in arrival order, so
// that no later call can take the room first.
type roomWaiter struct {
	rec      Record
	raw      bool
	mustWait bool
	ready    chan struct{} // closed once decided
	accepted bool
}

// flushWait is a Flush waiting for the consumer to settle every record
// below target. The consumer closes ready once it has; loss is the loss
// count at that moment.
type flushWait struct {
	target uint64
	keep   bool
	ready  chan struct{}
	loss   lossCount
	err    error // set instead when the drain was abandoned
}

// droppedTally counts dropped records by level since the last notice.
type droppedTally struct {
	byLevel [4]uint64 // DEBUG, INFO, WARN, ERROR and above
	total   uint64
	since   time.Time
}

func levelBucket(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 0
	case l < slog.LevelWarn:
		return 1
	case l < slog.LevelError:
		return 2
	}
	return 3
}

// NewQueue returns a Queue that delivers to sink and starts its consumer
// goroutine. It returns an error for a nil sink or an invalid Options
// value; nothing is started then.
func NewQueue(sink Sink, opts Options) (*Queue, error) {
	if err := checkSink(sink); err != nil {
		return nil, err
	}
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if o.Fallback != nil {
		if err := checkSink(o.Fallback); err != nil {
			return nil, fmt.Errorf("asynclog: Options.Fallback: %w", err)
		}
	}
	q := &queue{
		sink:    sink,
		opts:    o,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if l, ok := o.SyncLevel.(slog.Level); ok {
		q.syncLevel = l
	} else {
		q.syncDyn = o.SyncLevel
	}
	_, plain := sink.(*writerSink)
	_, plainFallback := o.Fallback.(*writerSink)
	q.msgless = plain && (o.Fallback == nil || plainFallback)
	if o.Spool == "" {
		q.store = newMemStore(o.Size, o.MaxBytes, o.BatchSize)
	} else if err := q.openSpool(); err != nil {
		return nil, err
	}
	q.abortCtx, q.abort = context.WithCancel(context.Background())
	q.wg.Add(1)
	go q.run()
	if o.ExitHook {
		registerExit(q)
	}
	pub := &Queue{q: q}
	runtime.AddCleanup(pub, func(q *queue) { q.forgotten() }, q)
	return pub, nil
}

// Options returns the queue's options with every default filled in, as
// NewQueue resolved them: for metrics (the capacity) and for tests.
func (pub *Queue) Options() Options { return pub.q.opts }

// Stats returns a snapshot of the queue's counters.
func (pub *Queue) Stats() Stats {
	q := pub.q
	q.mu.Lock()
	s := q.stats
	s.Queued = q.store.queued() + q.inflight + len(q.waiters)
	q.mu.Unlock()
	return s
}

// Flush is a barrier: it returns once every record enqueued before the call
// has been settled (delivered, or given up on). Flushes that wait at the
// same time share one barrier: one Write serves them all.
//
// It returns nil if nothing was lost; otherwise an error saying what: records
// dropped (wrapping [ErrDropped], with the count) and the errors of records
// given up on. A loss is reported to every Flush waiting when it happens,
// or, if none was, to the next Flush; a Flush with no loss since the
// previous one returned says nil. At ctx's end it returns ctx's error and
// leaves nothing behind; the records are still delivered later. After
// Shutdown has begun it returns [ErrClosed]; from a Sink or OnError of the
// same queue, [ErrReentrant]. Flush never drops anything, whatever OnFull
// says.
func (pub *Queue) Flush(ctx context.Context) error {
	return pub.q.flush(ctx, false)
}

// Shutdown stops accepting records, drains the queue to the sink, closes
// the sink if it has a Close(ctx) method, and waits for the consumer
// goroutine to exit. Records logged after it began are counted as Dropped.
// Its result is like a last Flush's: an error if records logged before it
// began were dropped or given up on.
//
// ctx bounds it. If ctx has a deadline, Shutdown abandons the drain a grace
// period before it (a tenth of the time it was given, at most 500 ms):
// it cancels the Write in flight, counts every record it could not deliver
// as Failed (so that Enqueued = Delivered + Dropped + Failed holds when it
// returns), and gives the sink the grace to return; it returns by the
// deadline in any case, with an error that wraps ctx's error and says how
// many records were lost. A ctx without a deadline abandons the drain when
// it is cancelled, and Shutdown returns at once. Shutdown is idempotent and
// safe to call while other goroutines log or flush; a later call waits for
// the first one's drain (bounded by its own ctx) and returns its result.
func (pub *Queue) Shutdown(ctx context.Context) error {
	return pub.q.shutdown(ctx)
}

// Close is Shutdown bounded by Options.CloseTimeout.
func (pub *Queue) Close() error {
	return pub.q.close()
}

// enqueue hands a record to the queue under its overflow policy and
// reports whether it was accepted. It copies rec.Encoded, which stays the
// caller's. mustWait (a synchronous record) waits for room whatever OnFull
// says. It never calls OnError: that would run the user's code on the log
// call.
func (q *queue) enqueue(rec Record, raw, mustWait bool) bool {
	q.mu.Lock()
	q.stats.Enqueued++
	switch {
	case q.stopping:
		q.stats.Dropped++ // after Shutdown began: counted, not a loss Flush reports
		q.mu.Unlock()
		return false
	case len(q.waiters) == 0 && q.store.fits(rec):
		return q.acceptLocked(rec, raw)
	case q.store.never(rec):
		q.dropLocked(rec.Level) // can never fit
		q.mu.Unlock()
		return false
	}
	// Full, or others wait before this record.
	keep := mustWait || rec.Level >= q.opts.KeepLevel.Level()
	if q.opts.OnFull != Block && len(q.waiters) == 0 {
		if keep || q.opts.OnFull == DropOldest {
			if q.makeRoomLocked(rec) {
				return q.acceptLocked(rec, raw)
			}
		}
		if !keep {
			q.dropLocked(rec.Level)
			q.mu.Unlock()
			return false
		}
	}
	if q.opts.OnFull != Block && !keep {
		q.dropLocked(rec.Level) // kept records wait ahead of it
		q.mu.Unlock()
		return false
	}
	return q.waitRoomLocked(rec, raw, mustWait, keep) // unlocks
}

// makeRoomLocked evicts records below KeepLevel, oldest first, until rec
// fits (kept records are never evicted). It reports whether rec fits now.
func (q *queue) makeRoomLocked(rec Record) bool {
	for !q.store.fits(rec) {
		l, ok := q.store.evictBelow(q.opts.KeepLevel.Level())
		if !ok {
			return false
		}
		q.dropLocked(l)
	}
	return true
}

// waitRoomLocked queues the log call behind earlier waiters until there is
// room, with q.mu held on entry; it returns unlocked.
//
// The wait is bounded by BlockTimeout, but the bound restarts whenever a
// record has left the queue meanwhile: a slow sink makes the caller wait,
// only a sink that makes no progress makes it drop. A synchronous record
// waits at most CloseTimeout, progress or not: its whole call is bounded
// by one CloseTimeout. Once a wait has run out with no
// progress, later records are dropped without waiting until a record
// leaves the queue (a dead sink costs the application one BlockTimeout),
// and so are those that were waiting. A kept record that cannot wait evicts
// a lower one instead, where there is one.
func (q *queue) waitRoomLocked(rec Record, raw, mustWait, keep bool) bool {
	if (q.stall == q.released+1 && !mustWait) || q.fromConsumer() {
		return q.refuseLocked(rec, raw, keep)
	}
	w := &roomWaiter{rec: rec, raw: raw, mustWait: mustWait, ready: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	if q.parked && !q.pacing {
		q.nudgeLocked() // a lingering consumer takes what is there now
	}
	d := q.opts.BlockTimeout
	if mustWait {
		d = q.opts.CloseTimeout // the synchronous call's one bound: progress does not restart it (issue 18)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	mark := q.released
	for {
		q.mu.Unlock()
		select {
		case <-w.ready:
			return w.accepted
		case <-t.C:
		}
		q.mu.Lock()
		select {
		case <-w.ready: // decided while we took the lock
			q.mu.Unlock()
			return w.accepted
		default:
		}
		// Progress restarts the bound; so does a consumer waiting out
		// MinInterval on purpose, in Block mode only: there the caller is
		// paced by the rate limit, as Block promises, while a kept record
		// in a drop mode must not wait longer than BlockTimeout.
		if !mustWait && (q.released != mark || (q.pacing && q.opts.OnFull == Block)) {
			mark = q.released
			t.Reset(d)
			continue
		}
		// No record left the queue during a whole wait: the sink is stuck.
		q.removeWaiterLocked(w)
		if !mustWait {
			// Those waiting behind it saw no progress either: they drop
			// too, but for synchronous records, which keep their place.
			q.stall = q.released + 1
			k := 0
			keepAt := q.opts.KeepLevel.Level()
			for _, o := range q.waiters {
				if o.mustWait {
					q.waiters[k] = o
					k++
					continue
				}
				// A kept record evicts a lower one rather than being
				// dropped, where there is one.
				q.decideLocked(o, o.rec.Level >= keepAt && q.makeRoomLocked(o.rec))
			}
			clear(q.waiters[k:])
			q.waiters = q.waiters[:k]
		}
		return q.refuseLocked(rec, raw, keep)
	}
}

// refuseLocked handles a record that will not wait: a kept record evicts a
// lower one if it can, anything else is dropped. It unlocks.
func (q *queue) refuseLocked(rec Record, raw, keep bool) bool {
	if keep && q.makeRoomLocked(rec) {
		return q.acceptLocked(rec, raw)
	}
	q.dropLocked(rec.Level)
	q.mu.Unlock()
	return false
}

func (q *queue) removeWaiterLocked(w *roomWaiter) {
	for i, o := range q.waiters {
		if o == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			return
		}
	}
}

// decideLocked answers a waiter: its record is pushed (accepted) or dropped.
func (q *queue) decideLocked(w *roomWaiter, accept bool) {
	if accept {
		p, wake := q.pushLocked(w.rec, w.raw)
		p.write(w.rec) // under the lock: a rare path
		if wake {
			q.signal()
		}
	} else {
		q.dropLocked(w.rec.Level)
	}
	w.accepted = accept
	w.rec = Record{} // the caller's buffer: not ours past this point
	close(w.ready)
}

// admitLocked pushes waiting records, in arrival order, while they fit.
func (q *queue) admitLocked() {
	k := 0
	for k < len(q.waiters) && q.store.fits(q.waiters[k].rec) {
		q.decideLocked(q.waiters[k], true)
		k++
	}
	if k > 0 {
		q.waiters = append(q.waiters[:0], q.waiters[k:]...)
	}
}

// acceptLocked reserves room for a record that fits, unlocks, copies the
// record's bytes into its room, and then wakes the consumer if it waits for
// it: after Unlock, because the consumer it wakes needs the lock at once,
// and after the copy, which the consumer would wait for. It reports true,
// for the log call to return.
func (q *queue) acceptLocked(rec Record, raw bool) bool {
	p, wake := q.pushLocked(rec, raw)
	q.mu.Unlock()
	p.write(rec)
	if wake {
		q.signal()
	}
	return true
}

// wakeMode says what the parked consumer wants to be nudged for.
type wakeMode uint8

const (
	wakeOnRecord wakeMode = iota // any record: the queue was empty
	wakeOnBatch                  // the store half full (store.pressing): it lingers, and its timer wakes it
	wakeNever                    // nothing a log call brings: it waits out MinInterval
)

// pushLocked reserves the record's place in the store and returns what is
// left to copy. If the parked consumer waits for it, it marks the consumer
// awake and reports that the caller must signal it (after Unlock, or at
// once with nudgeLocked's send).
func (q *queue) pushLocked(rec Record, raw bool) (pending, bool) {
	p := q.store.push(q.seq, rec, raw)
	q.seq++
	if q.parked && (q.wakeOn == wakeOnRecord || (q.wakeOn == wakeOnBatch && q.store.pressing())) {
		q.parked = false
		return p, true
	}
	return p, false
}

// nudgeLocked wakes the parked consumer.
func (q *queue) nudgeLocked() {
	q.parked = false
	q.signal()
}

// signal sends the consumer its wake-up; the one slot makes it never block.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// dropLocked counts one record lost to the overflow policy: for the stats,
// the next notice, and the next Flush.
func (q *queue) dropLocked(l slog.Level) {
	q.stats.Dropped++
	q.loss.count.dropped++
	if q.drops.total == 0 {
		q.drops.since = time.Now()
	}
	q.drops.total++
	q.drops.byLevel[levelBucket(l)]++
}

// flush waits for the barrier at the queue's current position. With keep,
// the losses it reports stay for the next Flush too: a synchronous
// record's wait must not take the errors that the program's own Flush or
// Close should return.
func (q *queue) flush(ctx context.Context, keep bool) error {
	if q.fromConsumer() {
		return fmt.Errorf("asynclog: flush: %w", ErrReentrant)
	}
	q.mu.Lock()
	if q.stopping {
		q.mu.Unlock()
		return ErrClosed
	}
	base := q.loss.reported
	if q.settled >= q.seq {
		err := q.loss.since(base, q.loss.count)
		if !keep {
			q.loss.markReported(q.loss.count)
		}
		q.mu.Unlock()
		return err
	}
	w := &flushWait{target: q.seq, keep: keep, ready: make(chan struct{})}
	q.flushes = append(q.flushes, w)
	if q.parked {
		q.nudgeLocked()
	}
	q.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		q.mu.Lock()
		select {
		case <-w.ready: // answered meanwhile: that answer stands
		default:
			for i, o := range q.flushes {
				if o == w {
					q.flushes = append(q.flushes[:i], q.flushes[i+1:]...)
					break
				}
			}
			q.mu.Unlock()
			return fmt.Errorf("asynclog: flush: %w", ctx.Err())
		}
		q.mu.Unlock()
	}
	if w.err != nil {
		return w.err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.loss.since(base, w.loss)
}

// answerFlushesLocked answers every Flush whose barrier has been passed.
func (q *queue) answerFlushesLocked() {
	k := 0
	for _, w := range q.flushes {
		if w.target > q.settled {
			q.flushes[k] = w
			k++
			continue
		}
		w.loss = q.loss.count
		if !w.keep {
			q.loss.markReported(q.loss.count)
		}
		close(w.ready)
	}
	clear(q.flushes[k:])
	q.flushes = q.flushes[:k]
}

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
	q.mu.Lock()
	first := !q.stopping
	if first {
		q.stopping = true
		q.shutdownCtx = ctx
		close(q.stopped)
		// Waiting log calls began before Shutdown: they still get room.
		if q.parked {
			q.nudgeLocked()
		}
	}
	q.mu.Unlock()
	if !first {
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

	// Abandon the drain a grace before the deadline, so that the sink has
	// the grace to notice and Shutdown still returns by the deadline.
	giveUp := ctx.Done()
	var grace time.Duration
	if dl, ok := ctx.Deadline(); ok {
		grace = min(time.Until(dl)/10, maxGrace)
		t := time.NewTimer(max(time.Until(dl)-grace, 0))
		defer t.Stop()
		giveUp = nil
		select {
		case <-q.done:
			return q.joined()
		case <-t.C:
		case <-ctx.Done():
		}
	} else {
		select {
		case <-q.done:
			return q.joined()
		case <-giveUp:
		}
	}
	if !q.abandon(ctx) {
		return q.resultNow() // nothing was left: the consumer is on its way out
	}
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
	q.mu.Lock()
	lost, kept := q.store.abandon(q.inflight)
	for _, w := range q.waiters {
		w.accepted = false
		w.rec = Record{}
		close(w.ready)
		lost++
	}
	q.waiters = nil
	q.stats.Failed += uint64(lost)
	q.loss.count.failed += uint64(lost)
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
		q.loss.add(q.loss.count, err)
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
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.result == nil {
		q.result = q.loss.since(q.loss.reported, q.loss.count)
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

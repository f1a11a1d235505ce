package asynclog

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Queue is a bounded queue of log records with one consumer goroutine that
// writes them in batches to a [Sink].
//
// Front ends ([NewCore] for zap, [NewHandler] for slog) encode each record
// on the caller's goroutine and hand it to the queue; what happens when the
// queue is full is set by Options.OnFull. [NewQueue] starts the consumer;
// [Queue.Shutdown] (or [Queue.Close]) drains the queue, closes the sink and
// stops the consumer. Call Close in main's defer:
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
// returned Queued is 0.
type Stats struct {
	Enqueued  uint64 // records handed to the queue, including those dropped on arrival
	Delivered uint64 // records a sink (or the fallback) took
	Dropped   uint64 // records dropped by the overflow policy or logged after Shutdown began
	Failed    uint64 // records the sink gave up on or refused, and records abandoned at Shutdown's deadline
	FellBack  uint64 // of Delivered, the records the fallback sink took
	Retries   uint64 // Write attempts after the first, over all batches
	Queued    int    // records accepted and not yet settled: in the queue, being written, or waiting for room
}

// entry is one slot of the ring: a record, or a Flush sentinel.
//
// Each slot owns a byte buffer, kept across uses, into which the log call
// copies the record's encoding under the lock; rec.Encoded points into it.
// When the consumer takes a record it swaps in a spare buffer of its own,
// and gives the taken one back as a spare once the batch is done. So a
// record costs one small copy and no allocation, and no buffer travels
// between processors through a sync.Pool.
type entry struct {
	rec   Record
	b     []byte    // storage for rec.Encoded, owned by the slot
	flush *flushReq // non-nil: a sentinel, not a record
}

// slotBytes is the room each slot's buffer starts with, carved from one
// allocation at NewQueue: a typical JSON log line fits, so a warm queue and
// a cold one both cost the log call no allocation. A longer record grows its
// slot's buffer once.
const slotBytes = 256

// maxKeptBuf is the largest buffer a slot keeps for reuse: one huge record
// must not pin its memory for the life of the queue.
const maxKeptBuf = 64 << 10

// flushReq is a Flush sentinel's reply slot. It holds one value, so the
// consumer never blocks on a caller that gave up.
type flushReq struct {
	done chan error
	keep bool // report the failures but leave them for the next Flush
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

// queue is the state shared by the front ends, the consumer and the
// exit-hook registry. The public Queue wraps it so that a forgotten Queue
// can become unreachable while its consumer still runs.
type queue struct {
	sink Sink
	opts Options

	mu       sync.Mutex
	ring     []entry // circular; len(ring) >= Size, more only for sentinels
	head     int
	n        int // entries in ring (records and sentinels)
	records  int // records in ring
	stopping bool
	stalled  bool // a wait for room timed out: drop without waiting until there is room

	waiting     bool // the consumer sleeps on wake
	wakeAt      int  // ... and wants a nudge once records reach this many (sentinels always nudge)
	wake        chan struct{}
	room        chan struct{} // closed when room appears, if roomWaiters > 0
	roomWaiters int

	drops    droppedTally
	stats    Stats // under mu; Queued is derived
	inflight int   // records in the batch being written
	failErrs []error
	nFailErr int // failures since the last Flush reply, including those not kept in failErrs

	abandoned   bool // Shutdown's deadline passed: every undelivered record is counted Failed
	abortCtx    context.Context
	abort       context.CancelFunc
	shutdownCtx context.Context // the first Shutdown's ctx, for the sink's Close
	stopping0   chan struct{}   // closed when Shutdown begins, for a retry's wait
	shutdownErr error
	done        chan struct{} // closed when the consumer exits

	// The consumer's own state, touched by no other goroutine.
	wctx         context.Context // see writeCtx
	wcancel      context.CancelFunc
	wctxDeadline time.Time
	wg           sync.WaitGroup

	reportMu sync.Mutex // guards the default OnError's rate limit
	lastLine time.Time
	muted    int
}

// NewQueue returns a Queue that delivers to sink and starts its consumer
// goroutine. It returns an error for a nil sink or an invalid Options
// value; nothing is started then.
func NewQueue(sink Sink, opts Options) (*Queue, error) {
	if sink == nil {
		return nil, errNilSink
	}
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	q := &queue{
		sink: sink,
		opts: o,
		ring: newRing(o.Size),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),

		stopping0: make(chan struct{}),
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

// newRing makes n slots, each with a slotBytes buffer from one slab.
func newRing(n int) []entry {
	ring := make([]entry, n)
	slab := make([]byte, n*slotBytes)
	for i := range ring {
		ring[i].b = slab[i*slotBytes : i*slotBytes : (i+1)*slotBytes]
	}
	return ring
}

// Options returns the queue's options with every default filled in, as
// NewQueue resolved them: for metrics (the capacity) and for tests.
func (pub *Queue) Options() Options { return pub.q.opts }

// Stats returns a snapshot of the queue's counters.
func (pub *Queue) Stats() Stats {
	q := pub.q
	q.mu.Lock()
	s := q.stats
	s.Queued = q.records + q.inflight + q.roomWaiters
	q.mu.Unlock()
	return s
}

// enqueue hands a record to the queue under its overflow policy. It copies
// rec.Encoded, which stays the caller's. It never calls OnError: that would
// run the user's code on the log call.
func (q *queue) enqueue(rec Record, mustWait bool) (accepted bool) {
	q.mu.Lock()
	q.stats.Enqueued++
	if q.stopping {
		q.dropLocked(rec.Level)
		q.mu.Unlock()
		return false
	}
	if q.records < q.opts.Size {
		q.pushLocked(rec, nil)
		q.mu.Unlock()
		return true
	}
	// Full.
	wait := mustWait || q.opts.OnFull == Block || rec.Level >= q.opts.KeepLevel.Level()
	if !wait {
		accepted = q.opts.OnFull == DropOldest && q.evictOldestLocked()
		if accepted {
			q.pushLocked(rec, nil)
		} else {
			q.dropLocked(rec.Level)
		}
		q.mu.Unlock()
		return accepted
	}
	if q.waitRoomLocked(mustWait) {
		q.pushLocked(rec, nil)
		q.mu.Unlock()
		return true
	}
	q.dropLocked(rec.Level)
	q.mu.Unlock()
	return false
}

// waitRoomLocked waits, with q.mu held on entry and on return, until the
// ring has room for a record. It reports false if the wait ran out
// (Options.BlockTimeout), if an earlier wait ran out and no room has
// appeared since, or if Shutdown abandoned the queue. A synchronous record
// (mustWait) waits regardless of an earlier stall, for up to the longer of
// BlockTimeout and CloseTimeout: it is the line a Fatal must not lose.
func (q *queue) waitRoomLocked(mustWait bool) bool {
	if q.stalled && !mustWait {
		return false
	}
	var timer *time.Timer
	for q.records >= q.opts.Size {
		if (q.stalled && !mustWait) || q.abandoned {
			return false
		}
		if timer == nil {
			d := q.opts.BlockTimeout
			if mustWait {
				d = max(d, q.opts.CloseTimeout)
			}
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.roomWaiters++
		q.mu.Unlock()
		timedOut := false
		select {
		case <-room:
		case <-timer.C:
			timedOut = true
		}
		q.mu.Lock()
		q.roomWaiters--
		if timedOut && q.records >= q.opts.Size {
			if !mustWait {
				q.stalled = true
			}
			return false
		}
	}
	return !q.abandoned
}

// pushLocked appends a record (copying its encoding into the slot's
// buffer) or a sentinel to the ring, and nudges the consumer if it waits
// for it.
func (q *queue) pushLocked(rec Record, flush *flushReq) {
	if q.n == len(q.ring) {
		q.growLocked()
	}
	i := q.head + q.n
	if i >= len(q.ring) {
		i -= len(q.ring)
	}
	e := &q.ring[i]
	q.n++
	if flush != nil {
		e.flush = flush
	} else {
		e.b = append(e.b[:0], rec.Encoded...)
		e.rec = rec
		e.rec.Encoded = e.b
		q.records++
	}
	if q.waiting && (flush != nil || q.records >= q.wakeAt) {
		q.waiting = false
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// growLocked makes room for sentinels beyond Size: records never exceed
// Size, so this runs only when Flush calls pile up behind a full queue.
func (q *queue) growLocked() {
	ring := make([]entry, len(q.ring)+len(q.ring)/4+8)
	for i := 0; i < q.n; i++ {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
}

// evictOldestLocked drops the oldest record below KeepLevel to make room,
// and reports whether it found one. Sentinels and kept records stay.
func (q *queue) evictOldestLocked() bool {
	keep := q.opts.KeepLevel.Level()
	size := len(q.ring)
	for k := 0; k < q.n; k++ {
		i := (q.head + k) % size
		e := q.ring[i]
		if e.flush != nil || e.rec.Level >= keep {
			continue
		}
		// Close the gap by moving the k entries before it one slot on; the
		// freed head slot keeps the dropped record's buffer.
		for j := k; j > 0; j-- {
			q.ring[(q.head+j)%size] = q.ring[(q.head+j-1)%size]
		}
		q.ring[q.head] = entry{b: e.b[:0]}
		q.head = (q.head + 1) % size
		q.n--
		q.records--
		q.dropLocked(e.rec.Level)
		return true
	}
	return false
}

// dropLocked counts one dropped record for the stats and the next notice.
func (q *queue) dropLocked(l slog.Level) {
	q.stats.Dropped++
	if q.drops.total == 0 {
		q.drops.since = time.Now()
	}
	q.drops.total++
	q.drops.byLevel[levelBucket(l)]++
}

// popLocked removes the head entry and returns it, leaving spare (which
// may be nil) as the slot's buffer.
func (q *queue) popLocked(spare []byte) entry {
	e := q.ring[q.head]
	q.ring[q.head] = entry{b: spare}
	q.head++
	if q.head == len(q.ring) {
		q.head = 0
	}
	q.n--
	if e.flush == nil {
		q.records--
	}
	if q.n == 0 {
		// Empty: start again at slot 0, so that a queue that keeps up
		// reuses a few slots (and their buffers) that stay in the cache,
		// rather than walking through all Size of them.
		q.head = 0
	}
	return e
}

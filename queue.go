package asynclog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

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

// queue is the state shared by the front ends, the consumer and the
// exit-hook registry. The public Queue wraps it so that a forgotten Queue
// can become unreachable while its consumer still runs.
//
// Its state is grouped in parts named for who writes them; every field of
// the parts, and stats, fails and loss, is guarded by mu. docs/design.md's
// state table says, for each field, who writes it and why no other field
// could tell the same.
type queue struct {
	// What every log call reads, and only a lock holder writes (once per
	// batch, not per record), has the queue's first cache line (a queue is
	// over 512 bytes, so the allocator places it on a 64-byte boundary).
	fast  atomic.Pointer[segment] // the leased segment (lease.go), nil while the lease is closed
	sleep atomic.Uint32           // what the parked consumer waits for (sleepOnRecord...); sleepAwake if not parked or already woken
	_     [4]byte
	// due is when the consumer lingering for a batch (sleepOnBatch) is to
	// wake, in Unix nanoseconds: a log call whose record is stamped later
	// finds it overdue (see overdue).
	due atomic.Int64
	_   [40]byte

	// mu and admission's first fields, which a log call under the mutex
	// writes, share the second.
	mu sync.Mutex
	admission
	sink Sink
	opts Options // resolved at NewQueue; then only read

	handshake
	lifecycle
	stats Stats     // Queued is derived (statsNow)
	fails failTally // records given up on since the sink last took a failure notice
	loss  lossLog   // what Flush and Close report

	reentry
	reporter reporter                        // the default OnError's rate limit; its own lock
	zapEnc   atomic.Pointer[zapcore.Encoder] // set by the first zap Core: the notices' shape
}

// admission is written by log calls (and by whoever answers a waiter):
// the records, their numbering, the waiters for room and the drops.
type admission struct {
	store    store         // the queued records: segments in memory, or a spool in files
	seq      uint64        // records accepted so far: the next record's sequence number
	enqueued uint64        // Stats.Enqueued: counted here, beside seq, in the log call's cache line
	waiters  []*roomWaiter // log calls waiting for room, in arrival order
	stall    uint64        // released+1 at the last wait for room that saw no progress; 0: none
	drops    droppedTally  // drops since the last notice
}

// handshake is between the consumer and those who wait on it: what it has
// taken and settled, and how it sleeps (and queue.sleep). The consumer
// writes all but flushes (Flush adds and removes its own).
type handshake struct {
	released uint64        // records the consumer has taken from the store: a waiter's sign of progress
	settled  uint64        // every record with a sequence number below it is settled: Flush's barrier
	inflight int           // records in the batch being written
	pacing   bool          // the consumer sleeps, waiting out MinInterval on purpose
	wake     chan struct{} // one slot: nudges the parked consumer
	flushes  []*flushWait  // Flush calls waiting for their barrier
}

// lifecycle is written by Shutdown (and the consumer on its way out).
type lifecycle struct {
	shutdownCtx context.Context    // set once, when Shutdown begins: the queue is stopping
	stopped     chan struct{}      // closed with it, for a retry's wait to select on
	abortCtx    context.Context    // cancelled at Shutdown's deadline: the drain is abandoned
	abort       context.CancelFunc // cancels abortCtx
	done        chan struct{}      // closed when the consumer exits: what Shutdown selects on beside its ctx
	wg          sync.WaitGroup     // the consumer: Shutdown joins it once done is closed
	result      error              // Shutdown's result, once the consumer exits or the drain is abandoned
	left        error              // set when Shutdown's deadline left records in the spool and lost none
}

// reentry tells a call from the consumer's own goroutine (a Sink, OnError)
// apart, for ErrReentrant. Atomics: read on every Flush and Close.
type reentry struct {
	consumer   atomic.Int64 // the consumer goroutine's id, set as it starts
	inCallback atomic.Bool  // the consumer is inside Sink.Write or OnError
	abandoner  atomic.Int64 // the id of the goroutine running OnError from abandon; 0: none
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
		sink:      sink,
		opts:      o,
		handshake: handshake{wake: make(chan struct{}, 1)},
		lifecycle: lifecycle{stopped: make(chan struct{}), done: make(chan struct{})},
	}
	var startErrs []error
	if o.Spool == "" {
		q.store = newMemStore(o.Size, o.MaxBytes, o.BatchSize)
	} else if startErrs, err = q.openSpool(); err != nil {
		return nil, err
	}
	q.abortCtx, q.abort = context.WithCancel(context.Background())
	q.wg.Add(1)
	go q.run(startErrs)
	if o.ExitHook {
		registerExit(q)
	}
	pub := &Queue{q: q}
	runtime.AddCleanup(pub, func(q *queue) { q.forgotten() }, q)
	return pub, nil
}

// Options returns the queue's options with every default filled in, as
// NewQueue resolved them: for metrics (the capacity) and for tests.
func (q *Queue) Options() Options { return q.q.opts }

// Stats returns a snapshot of the queue's counters.
func (q *Queue) Stats() Stats {
	return q.q.statsNow()
}

// statsNow is a snapshot of the counters, Queued derived.
func (q *queue) statsNow() Stats {
	q.lock()
	s := q.stats
	s.Enqueued = q.enqueued
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
func (q *Queue) Flush(ctx context.Context) error {
	return q.q.flush(ctx, false)
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
func (q *Queue) Shutdown(ctx context.Context) error {
	return q.q.shutdown(ctx)
}

// Close is Shutdown bounded by Options.CloseTimeout.
func (q *Queue) Close() error {
	return q.q.close()
}

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

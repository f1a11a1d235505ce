package asynclog

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Overflow says what a log call does when the queue is full.
type Overflow int

const (
	// Block makes the caller wait for room, so nothing is lost while the
	// sink makes progress. Waiting calls are served in arrival order. The
	// wait runs out only after Options.BlockTimeout with no record leaving
	// the queue: a dead sink costs the application one such wait, after
	// which records are dropped (and counted) without waiting until a record
	// leaves the queue again.
	Block Overflow = iota
	// DropNewest does not make the caller wait for the sink: the new
	// record is dropped, unless it is at KeepLevel or above, when the
	// oldest record below KeepLevel is dropped to make room for it (a kept
	// record waits, bounded as in Block, only if every queued record is
	// kept).
	DropNewest
	// DropOldest does not make the caller wait for the sink: the oldest
	// queued record below KeepLevel is dropped to make room for the new
	// one. The eviction's cost does not grow with the kept records queued
	// in front of it.
	DropOldest
)

// String returns the policy's name.
func (o Overflow) String() string {
	switch o {
	case Block:
		return "Block"
	case DropNewest:
		return "DropNewest"
	case DropOldest:
		return "DropOldest"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// Options configures a [Queue]. The zero value means every default; each
// field's comment gives its default. [NewQueue] resolves the defaults once
// and rejects negative values.
type Options struct {
	// Size is the number of records the queue holds. Default 16384: at
	// 2,000 records a second, eight seconds of a destination that is down
	// or restarting (see RetryFor). Its slots (about 80 bytes each) are
	// allocated by NewQueue, with a first byte buffer of 256 bytes a slot
	// (or MaxBytes, if smaller) that grows up to MaxBytes as needed.
	Size int
	// MaxBytes bounds the bytes of the queued records' encodings, alongside
	// Size: the queue is full when either is reached. Default 16 MiB. The
	// batch being written is taken out of the queue and held beside it (at
	// most 1 MiB, or one record). A record longer than MaxBytes is never
	// queued: it is dropped and counted like any drop, at its level.
	MaxBytes int
	// OnFull says what a log call does when the queue is full. Default Block.
	OnFull Overflow
	// KeepLevel: records at or above this level are never dropped to make
	// room while a lower record could be: in the drop modes a kept record
	// that finds the queue full evicts the oldest lower record, whatever
	// the consumer is doing (MinInterval included); only if every queued
	// record is kept does it wait for room (bounded like Block). In Block
	// mode, a kept record whose wait ran out evicts a lower one rather than
	// being dropped. nil means slog.LevelError. Synchronous records are
	// kept whatever KeepLevel says: the level in effect is never above
	// SyncLevel nor zap's DPanic (slog.LevelError+4), so a synchronous
	// record, once queued, is never evicted.
	KeepLevel slog.Leveler
	// BatchSize is the most records per Sink.Write. Default 256.
	BatchSize int
	// FlushInterval is how long the consumer lingers, once it sees records
	// but fewer than a batch's worth, for more to arrive before it writes
	// them; it then writes every batch's worth there is. It does not linger
	// when a batch's worth is there already, and a Flush, Shutdown, a
	// synchronous record, a log call waiting for room or the queue half
	// full ends a linger at once, as does a log call stamped 250µs or more
	// after the linger should have ended (while every processor runs a log
	// call, the Go runtime runs the consumer's timer late: that call hands
	// the consumer its processor). Default 1ms: under a flood the consumer
	// then wakes at most once per batch, not once per record, and a record
	// that trickles in is written within about 1ms.
	FlushInterval time.Duration
	// MinInterval is a rate limit (one email a minute): the next batch's
	// Write starts at least this long after the previous Write returned, so
	// the sink sees at least this much time between the starts of two
	// batches. Records gather meanwhile. Flush and Shutdown do not wait for
	// it. 0: no limit.
	MinInterval time.Duration
	// OnError receives sink errors, recovered panics and drop reports. It is
	// called from the consumer goroutine (and, for what Shutdown abandons at
	// its deadline, from the goroutine running Shutdown), never from a log
	// call, and must not block for long. A Flush or Close it calls on the
	// same queue returns ErrReentrant. nil: a rate-limited line on
	// os.Stderr.
	OnError func(error)
	// ExitHook registers the queue to be drained on SIGINT and SIGTERM
	// (after which the signal is re-raised with its default action, so the
	// process ends as it would have) and by [Exit]. Leave it off in a
	// program that handles those signals itself: call Close there instead.
	ExitHook bool
	// CloseTimeout bounds [Queue.Close], zap's Sync, the exit hook's drain,
	// and the whole call of a synchronous record (at SyncLevel, or zap's
	// DPanic, Panic and Fatal): its wait for room and its delivery, and for
	// a zap Fatal the flush of the hooked queues, each bounded by its own
	// CloseTimeout from the call's start. Default 5s.
	CloseTimeout time.Duration

	// BlockTimeout bounds how long a log call waits for room with no
	// record leaving the queue (in Block mode, and for kept levels when
	// every queued record is kept). Default 2s. The bound restarts whenever
	// a record leaves the queue, so a slow sink only slows the caller. When
	// it runs out the record is dropped and counted, and later records are
	// dropped without waiting until a record leaves the queue again. In
	// Block mode a consumer waiting out MinInterval counts as progress (the
	// caller is paced by the rate limit); in the drop modes it does not, so
	// a kept record never waits longer than BlockTimeout.
	BlockTimeout time.Duration
	// SyncLevel: records at or above it are written synchronously: the log
	// call returns once the record and everything queued before it is
	// delivered, or CloseTimeout after it began. nil means above Error
	// (slog.LevelError+1), which covers zap's DPanic, Panic and Fatal.
	// Such a record is kept (see KeepLevel), even below KeepLevel: no
	// eviction takes it once it is queued, so its call returns nil only
	// once it is delivered. The levels are read at each eviction, so
	// raising SyncLevel while such a call waits makes its record
	// evictable again if it is below KeepLevel. The call's error is a
	// Flush's: it also reports records dropped or given up on while it
	// waited, later ones included, so under DropOldest a synchronous call
	// may return ErrDropped although its own record was delivered.
	SyncLevel slog.Leveler
	// WriteTimeout bounds each Sink.Write: its ctx has a deadline at most
	// WriteTimeout and at least WriteTimeout/2 away (one context serves
	// successive Writes while it has more than half its time left, so that
	// a busy queue does not make one per batch). Default 30s.
	WriteTimeout time.Duration
	// RetryFor is how long the queue retries a batch whose Write fails with
	// a retryable error, counted from the first failed attempt since the
	// sink last took records: the length of an outage it rides out. New
	// records keep queueing behind the batch meanwhile, so a destination
	// that comes back within RetryFor loses nothing unless the queue
	// overflows (under OnFull, counted as drops). When it runs out, the
	// batch goes to Fallback, or counts as Failed and a failure notice
	// opens the next batch the sink takes; until the sink takes records
	// again, each later batch gets one attempt. Shutdown's ctx bounds the
	// retries too. Default 5 minutes, the OpenTelemetry Collector
	// exporters' own bound.
	RetryFor time.Duration
	// MaxAttempts, if set, also bounds the Write attempts for one batch, the
	// first included (1 means no retries): the batch is given up on at
	// whichever of MaxAttempts and RetryFor comes first. Default 0: no
	// attempt limit, only RetryFor.
	MaxAttempts int
	// MinBackoff is the wait after the first failed attempt; it doubles with
	// each further attempt, with jitter. Default 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the backoff and any RetryAfter delay. Default 5s: a
	// destination that comes back is written to within MaxBackoff, before
	// a queue of the default Size filling at thousands of records a second
	// makes log calls wait.
	MaxBackoff time.Duration
	// Spool, if set, is a directory where the queue keeps its records, in
	// files, instead of in memory: every record the log call accepts is in
	// a shared file mapping (so in the kernel's page cache) before the call
	// returns, and survives the process however it ends (SIGKILL, a panic,
	// os.Exit, a return from main without Close). A record leaves the spool
	// only once the sink took it. NewQueue on a spool that holds records of
	// an earlier process delivers those first, in order; records of the
	// batch being written when that process died may be delivered twice,
	// never more than that batch. After a clean Close nothing is replayed.
	// A second queue on a spool held by a live queue gets an error wrapping
	// [ErrSpoolInUse]; the consumer holds the spool until it exits, so
	// after a Shutdown that returned at its deadline with the sink still
	// busy, a second Shutdown waits for the hold to end. Durability is
	// against the process dying, not the machine losing power: the kernel
	// writes the page cache to disk in its own time (a directory on tmpfs
	// survives the process but not a reboot; on a disk, a clean reboot
	// too). In the drop modes an evicted record is marked dead in place,
	// so the caller's cost does not grow with the kept records in front
	// of it; its room is reused at once at the head of the spool, else by
	// a record that fits in the run of dead records around it (see
	// docs/guarantees.md). Records are stored as the front end encoded
	// them. Empty: the in-memory queue. Where file mappings or locks are
	// missing, NewQueue returns an error.
	Spool string
	// SpoolBytes is the size of the spool's ring, and with a Spool the
	// queue's capacity: OnFull applies when it is full, and Size and
	// MaxBytes do not limit it. Default 64 MiB; at least 4096 (NewQueue
	// refuses less), rounded up to a multiple of 4096; the data file is
	// 4096 bytes larger. An existing spool that still holds records keeps
	// its size. [Queue.Options] reports the size in use. A record that
	// takes more than SpoolBytes in the ring (its message, its encoding and
	// a 48-byte header, rounded up to 8 bytes) is never queued: it is
	// dropped and counted. Setting it without Spool is an error.
	SpoolBytes int64
	// CrashReport, with Spool set, asks the runtime to copy its crash
	// report (an unrecovered panic, a fatal error) into the spool directory
	// (runtime/debug.SetCrashOutput); the next queue opened on the spool,
	// with CrashReport set or not, delivers it as one Error record whose
	// message says the previous run crashed, with the report's text in
	// "crash", its time in "crashed_at" and what ended the run in
	// "crash_cause" (the "panic: ..." line; for a fatal error that is not a
	// panic, whose first line the runtime writes to stderr only, the
	// goroutine and function the report shows). The record never evicts
	// another: a report longer than the room left in the spool is cut to
	// fit, with "crash_truncated" true and the full size in "crash_bytes";
	// with no room at all, it stays in the directory for the next start.
	// The runtime keeps one crash output per process: with two such
	// queues, the last one opened receives it.
	CrashReport bool

	// Fallback, if set, receives a batch (one attempt) that the sink gave up
	// on; records it takes count as Delivered and in Stats.FellBack.
	Fallback Sink
}

// Default values of [Options].
const (
	defaultSize         = 16384
	defaultMaxBytes     = 16 << 20
	defaultBatchSize    = 256
	defaultLinger       = time.Millisecond
	defaultCloseTimeout = 5 * time.Second
	defaultBlockTimeout = 2 * time.Second
	defaultWriteTimeout = 30 * time.Second
	defaultRetryFor     = 5 * time.Minute
	defaultMinBackoff   = 100 * time.Millisecond
	defaultMaxBackoff   = 5 * time.Second
)

// resolve checks o and fills in defaults.
func (o Options) resolve() (Options, error) {
	var errs []error
	neg := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("asynclog: Options.%s is negative (%d)", name, v))
		}
	}
	negd := func(name string, v time.Duration) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("asynclog: Options.%s is negative (%v)", name, v))
		}
	}
	neg("Size", o.Size)
	neg("MaxBytes", o.MaxBytes)
	neg("BatchSize", o.BatchSize)
	neg("MaxAttempts", o.MaxAttempts)
	if o.SpoolBytes < 0 {
		errs = append(errs, fmt.Errorf("asynclog: Options.SpoolBytes is negative (%d)", o.SpoolBytes))
	} else if o.SpoolBytes > 0 && o.SpoolBytes < minSpoolBytes {
		errs = append(errs, fmt.Errorf("asynclog: Options.SpoolBytes (%d) is below the minimum, %d", o.SpoolBytes, minSpoolBytes))
	}
	if o.SpoolBytes != 0 && o.Spool == "" {
		errs = append(errs, errors.New("asynclog: Options.SpoolBytes needs Options.Spool"))
	}
	if o.CrashReport && o.Spool == "" {
		errs = append(errs, errors.New("asynclog: Options.CrashReport needs Options.Spool"))
	}
	negd("FlushInterval", o.FlushInterval)
	negd("MinInterval", o.MinInterval)
	negd("CloseTimeout", o.CloseTimeout)
	negd("BlockTimeout", o.BlockTimeout)
	negd("WriteTimeout", o.WriteTimeout)
	negd("RetryFor", o.RetryFor)
	negd("MinBackoff", o.MinBackoff)
	negd("MaxBackoff", o.MaxBackoff)
	if o.OnFull < Block || o.OnFull > DropOldest {
		errs = append(errs, fmt.Errorf("asynclog: Options.OnFull is not a known policy (%d)", int(o.OnFull)))
	}
	if o.MinBackoff > 0 && o.MaxBackoff > 0 && o.MinBackoff > o.MaxBackoff {
		errs = append(errs, fmt.Errorf("asynclog: Options.MinBackoff (%v) is above MaxBackoff (%v)", o.MinBackoff, o.MaxBackoff))
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Size, defaultSize)
	def(&o.MaxBytes, defaultMaxBytes)
	if o.SpoolBytes == 0 {
		o.SpoolBytes = defaultSpoolBytes
	}
	def(&o.BatchSize, defaultBatchSize)
	defd(&o.FlushInterval, defaultLinger)
	defd(&o.CloseTimeout, defaultCloseTimeout)
	defd(&o.BlockTimeout, defaultBlockTimeout)
	defd(&o.WriteTimeout, defaultWriteTimeout)
	defd(&o.RetryFor, defaultRetryFor)
	defd(&o.MinBackoff, defaultMinBackoff)
	defd(&o.MaxBackoff, defaultMaxBackoff)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.KeepLevel == nil {
		o.KeepLevel = slog.LevelError
	}
	if o.SyncLevel == nil {
		o.SyncLevel = slog.LevelError + 1
	}
	return o, nil
}

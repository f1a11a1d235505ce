package asynclog

import (
	"log/slog"
	"runtime"
	"sync/atomic"

	"github.com/asynclog/asynclog/internal/spool"
)

// The store behind the queue, and the segment a batch is taken in: what
// admission reserves into and the consumer takes from (ring.go, spool.go).

// store is where the queue keeps its records: the in-memory segments
// below, or a spool of files (spool.go). Every method runs under queue.mu,
// and none calls back into the queue or the consumer: the log call checks
// fits (or never) and reserves, or evicts to make room; the consumer takes
// a batch, turns it into records outside the lock, and once the batch is
// settled, releases it.
type store interface {
	// queued is the number of records not yet taken by the consumer.
	queued() int
	// fits reports whether rec fits now; never, whether it can never fit.
	fits(rec Record) bool
	never(rec Record) bool
	// ready reports that a batch's worth is waiting: the consumer should
	// not linger for more.
	ready() bool
	// pressing reports that the store is half full: a lingering consumer
	// must be woken now rather than by its timer.
	pressing() bool
	// push stores a record, or reserves its place and leaves the record for
	// the caller to write after it unlocks: pending.write does that.
	push(seq uint64, rec Record, raw bool) pending
	// evictBelow drops the oldest record not yet taken whose level is
	// below keep, and returns its level.
	evictBelow(keep slog.Level) (slog.Level, bool)
	// oldestSeq is the sequence number of the oldest record not yet taken.
	oldestSeq() (uint64, bool)
	// take hands the consumer the oldest records, at most one batch:
	// nil if there are none.
	take() *segment
	// read runs on the consumer after a take, outside the lock: the
	// spool reads the records take claimed here, their encodings where
	// they lie in its file (views, valid until release).
	// A memory segment's records may still be on their way: the consumer
	// waits for them (fillEncoded).
	read(seg *segment)
	// warm runs on the consumer after a take, outside the lock: work that
	// keeps cost off the next log calls (the spool pre-faults the room
	// they will write).
	warm()
	// release says the last batch taken is settled; seg is handed back for
	// reuse (nil if the consumer kept nothing).
	release(n int, seg *segment)
	// sync folds the reservations made without the mutex under a lease
	// (lease.go) into the store's counts, and returns how many records
	// they added; closeLease ends the lease, folding its last ones; and
	// openLease leases the open segment, returning it (nil if the store
	// does not lease, or the segment has no room).
	sync() uint64
	closeLease() uint64
	openLease() *segment
	// abandon gives up at Shutdown's deadline, with inflight records in
	// the sink's hands: it returns how many records are lost, and how
	// many stay stored for the next start.
	abandon(inflight int) (lost, kept int)
}

// segment is a run of records in arrival order: at most one batch. Their
// encodings sit back to back in buf, each followed by a newline, so a
// segment whose records are all delivered is one newline-separated block.
//
// A log call reserves the next record, under queue.mu (its meta and its
// room in buf) or with a CAS on res while the segment is leased (lease.go;
// its meta then comes after). Outside any lock it writes its Record (but
// Encoded), copies its bytes into its room and sets meta.done: the copy,
// proportional to the record, is out of the lock that other log calls wait
// for. The consumer takes a segment whole under the lock and reads it
// outside the lock, waiting on done for a copy still under way (a few
// nanoseconds' work, unless the writer was descheduled in the middle),
// and points each Record's Encoded at its room (fillEncoded).
type segment struct {
	// The lease (lease.go): what a lock-free log call reads and CASes
	// comes first, one cache line; a segment is allocated on a 64-byte
	// boundary. Only res is written while the segment is leased.
	res   atomic.Uint64 // while leased: the reservations, packed (lease.go)
	lim   atomic.Uint64 // while leased: how far reservations may go (packed)
	press atomic.Uint64 // while leased: from where a reservation wakes a lingering consumer (packed)
	base  uint64        // the sequence number of record 0: records are numbered in order
	buf   []byte
	// gen is the segment's use: a record is done once its meta.done holds
	// it. Reuse moves it on, so that the consumer need not write to every
	// record's meta (a cache line the next log calls would pull back).
	gen  uint32
	_    [4]byte
	recs []Record  // the records, as many as a segment holds: their slice headers never change
	meta []recMeta // beside recs
	_    [16]byte  // the fields below start the third cache line

	// Written under queue.mu only: while the segment is leased they lag
	// behind res until memStore.fold.
	n         int      // records reserved
	off       int      // bytes of buf reserved
	live      int      // records not evicted
	liveBytes int      // their encodings' bytes
	first     int      // index of the oldest live record (or len(recs))
	dead      int      // records evicted
	leased    bool     // leased since its last reset: a record's meta may still be on its way
	_         [15]byte // to 192 bytes, a size class of 64-byte multiples
}

// recMeta is what the queue keeps of a record beside its Record.
type recMeta struct {
	seq   uint64        // its sequence number: Flush's barriers are positions in it
	level slog.Level    // its level, for eviction
	size  int           // its encoding's length
	dead  bool          // evicted (DropOldest, KeepLevel): skipped by the consumer
	raw   bool          // Message is still inside Encoded (the io.Writer front end)
	nl    bool          // Encoded ends in its own newline (WriterSink adds none after it)
	done  atomic.Uint32 // the log call has written its Record and bytes: the segment's gen then
}

// set writes what the queue keeps of a new record (not done yet), whose
// encoding is enc.
func (mt *recMeta) set(seq uint64, level slog.Level, enc []byte, raw bool) {
	mt.seq, mt.level, mt.size, mt.dead, mt.raw = seq, level, len(enc), false, raw
	mt.nl = len(enc) > 0 && enc[len(enc)-1] == '\n'
}

// pending is a record whose place is reserved, for the log call to write
// once it has unlocked the queue (its Record but Encoded, which the
// consumer sets: fillEncoded). The zero pending has nothing left to do.
type pending struct {
	s      *segment
	i, off uint64 // the record's index in s, and its room in s.buf; in a spool, its place (spool.Slot.Place), 64 bits wide on every platform
	sp     *spool.Spool
}

// write writes rec into its place, copying its encoding, and marks the
// record done.
func (p pending) write(rec *Record) {
	s := p.s
	if s == nil {
		if p.sp != nil {
			p.sp.CommitPlace(p.i, p.off, rec.Message, rec.Encoded)
		}
		return
	}
	n := len(rec.Encoded)
	dst := s.buf[p.off : p.off+uint64(n)+1]
	copy(dst, rec.Encoded)
	dst[n] = '\n'
	// Field by field: a whole Record's store is a typed copy, which while
	// the GC marks walks the type's pointer bitmap (bulkBarrierPreWrite).
	// Encoded is left to the consumer (fillEncoded): the encodings lie back
	// to back in buf, so their places follow from their sizes.
	r := &s.recs[p.i]
	r.Time = rec.Time
	r.Level = rec.Level
	r.Message = rec.Message
	s.meta[p.i].done.Store(s.gen)
}

// fillEncoded points every record's Encoded at its bytes in buf, once its
// log call has written them: the encodings lie back to back, each followed
// by a newline, in index order, evicted ones included.
func (s *segment) fillEncoded() {
	off := 0
	for i := range s.n {
		s.wait(i)
		n := s.meta[i].size
		s.recs[i].Encoded = s.buf[off : off+n : off+n]
		off += n + 1
	}
}

// asBlock waits for every record's bytes, and reports whether the segment
// is the block WriterSink would write: no encoding ends in its own
// newline, where WriterSink adds none. It reads each record's meta only,
// not its Record or its bytes.
func (s *segment) asBlock() bool {
	block := true
	for i := range s.n {
		s.wait(i)
		if s.meta[i].nl {
			block = false
		}
	}
	return block
}

// wait returns once the record at i has its bytes.
func (s *segment) wait(i int) {
	for !s.isDone(i) {
		runtime.Gosched()
	}
}

// metaOf returns record i's meta, once its log call has written it if the
// segment was leased: a lock-free log call writes its meta after its
// reservation (lease.go), where push writes it under the mutex.
func (s *segment) metaOf(i int) *recMeta {
	if s.leased {
		s.wait(i)
	}
	return &s.meta[i]
}

// isDone reports whether the log call has written record i.
func (s *segment) isDone(i int) bool { return s.meta[i].done.Load() == s.gen }

// reset empties s for reuse. It writes nothing in recs or meta: the next
// log calls overwrite them (until then, a spare segment keeps its old
// records' messages reachable, at most a batch's worth).
func (s *segment) reset() {
	s.gen++
	s.leased = false
	s.n, s.off, s.first, s.live, s.liveBytes, s.dead = 0, 0, 0, 0, 0, 0
}

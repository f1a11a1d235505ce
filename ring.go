package asynclog

import (
	"log/slog"
	"runtime"
	"slices"
	"sync/atomic"
)

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
	// warm runs on the consumer after a take, outside the lock: work that
	// keeps cost off the next log calls (the spool pre-faults the room
	// they will write).
	warm()
	// release says the last batch taken is settled; seg is handed back for
	// reuse (nil if the consumer kept nothing).
	release(n int, seg *segment)
	// abandon gives up at Shutdown's deadline, with inflight records in
	// the sink's hands: it returns how many records are lost, and how
	// many stay stored for the next start.
	abandon(inflight int) (lost, kept int)
}

// segment is a run of records in arrival order: at most one batch. Their
// encodings sit back to back in buf, each followed by a newline, so a
// segment whose records are all delivered is one newline-separated block.
//
// Under queue.mu a log call reserves the next record: its meta and its
// room in buf. After Unlock it writes its Record (with Encoded pointing at
// that room), copies its bytes there and sets meta.done: the copy,
// proportional to the record, is out of the lock that other log calls
// wait for. The consumer takes a
// segment whole under the lock and reads it outside the lock, waiting on
// done for a copy still under way (a few nanoseconds' work, unless the
// writer was descheduled in the middle).
type segment struct {
	buf       []byte
	off       int       // bytes of buf reserved
	recs      []Record  // the records, as many as a segment holds: their slice headers never change
	meta      []recMeta // beside recs
	n         int       // records reserved
	first     int       // index of the oldest live record (or len(recs))
	live      int       // records not evicted
	liveBytes int       // their encodings' bytes
	dead      int       // records evicted
	// gen is the segment's use: a record is done once its meta.done holds
	// it. Reuse moves it on, so that the consumer need not write to every
	// record's meta (a cache line the next log calls would pull back).
	gen uint32
}

// recMeta is what the queue keeps of a record beside its Record.
type recMeta struct {
	seq   uint64        // its sequence number: Flush's barriers are positions in it
	level slog.Level    // its level, for eviction
	size  int           // its encoding's length
	dead  bool          // evicted (DropOldest, KeepLevel): skipped by the consumer
	raw   bool          // Message is still inside Encoded (the io.Writer front end)
	done  atomic.Uint32 // the log call has written its Record and bytes: the segment's gen then
}

// pending is a record whose place is reserved, for the log call to write
// once it has unlocked the queue. The zero pending has nothing left to do.
type pending struct {
	s      *segment
	i, off int // the record's index in s, and its room in s.buf
}

// write writes rec into its place, copying its encoding, and marks the
// record done.
func (p pending) write(rec Record) {
	s := p.s
	if s == nil {
		return
	}
	n := len(rec.Encoded)
	dst := s.buf[p.off : p.off+n+1]
	copy(dst, rec.Encoded)
	dst[n] = '\n'
	rec.Encoded = dst[:n:n]
	s.recs[p.i] = rec
	s.meta[p.i].done.Store(s.gen)
}

// wait returns once the record at i has its bytes.
func (s *segment) wait(i int) {
	for spins := 0; !s.isDone(i); spins++ {
		runtime.Gosched()
	}
}

// isDone reports whether the log call has written record i.
func (s *segment) isDone(i int) bool { return s.meta[i].done.Load() == s.gen }

// reset empties s for reuse. It writes nothing in recs or meta: the next
// log calls overwrite them (until then, a spare segment keeps its old
// records' messages reachable, at most a batch's worth).
func (s *segment) reset() {
	s.gen++
	s.n, s.off, s.first, s.live, s.liveBytes, s.dead = 0, 0, 0, 0, 0, 0
}

var _ store = (*memStore)(nil)

// memStore is the in-memory store: a queue of segments, bounded both in
// records (Options.Size) and in bytes of encodings (Options.MaxBytes). Its
// bounds count live records, so an eviction frees room at once, wherever
// the evicted record sits; a segment whose records are all evicted is let
// go, and one mostly evicted is copied down to its live records, so the
// memory held stays near what the bounds allow.
//
// The last segment is open (active) while it has room; the others are
// sealed. The consumer takes the oldest segment whole, sealed or not: one
// batch, held apart from the bounds while it is written.
type memStore struct {
	size        int // Options.Size
	max         int // Options.MaxBytes
	segRecs     int // records a segment holds: min(BatchSize, Size)
	segBytes    int // bytes of a new segment's buf: it follows the records' size ...
	minSegBytes int // ... down to this
	maxBatch    int // bytes a segment's buf may grow to: min(MaxBytes, 1 MiB)

	segs      []*segment // oldest first
	active    bool       // the last of segs takes more records
	n         int        // live records in segs
	bytes     int        // their encodings' bytes
	spares    []*segment // emptied segments kept for reuse ...
	maxSpares int        // ... at most this many: what the bounds let the queue hold

	// The eviction cursor: every live record before (curSeg, curI) is at
	// curKeep or above, so the search for one below starts there.
	curSeg  *segment
	curI    int
	curKeep slog.Level
	// retrim holds segments that trim could not copy down because a log
	// call was still copying into them: the next eviction tries again.
	retrim []*segment
}

// memBytesPerRecord is the room per record that a segment's buf starts with.
const memBytesPerRecord = 256

func newMemStore(size, maxBytes, batch int) *memStore {
	segRecs := min(batch, size)
	maxBatch := min(maxBytes, maxKeptBatchBuf)
	segBytes := min(maxBatch, segRecs*memBytesPerRecord)
	return &memStore{
		size: size, max: maxBytes, segRecs: segRecs, maxBatch: maxBatch, segBytes: segBytes, minSegBytes: segBytes,
		// A queue that filled up once reuses its segments from then on,
		// as a ring that grew would; an idle one holds none.
		maxSpares: max(2, min(size/segRecs, maxBytes/segBytes)+1),
	}
}

func (m *memStore) queued() int           { return m.n }
func (m *memStore) fits(rec Record) bool  { return m.n < m.size && m.bytes+len(rec.Encoded) <= m.max }
func (m *memStore) never(rec Record) bool { return len(rec.Encoded) > m.max }

// ready: a sealed segment waits, or the store is half full.
func (m *memStore) ready() bool {
	return len(m.segs) > 1 || (len(m.segs) == 1 && !m.active) || m.pressing()
}

func (m *memStore) pressing() bool { return 2*m.n >= m.size || 2*m.bytes >= m.max }

func (m *memStore) push(seq uint64, rec Record, raw bool) pending {
	need := len(rec.Encoded) + 1
	var s *segment
	if m.active {
		s = m.segs[len(m.segs)-1]
		if s.n == len(s.recs) || len(s.buf)-s.off < need {
			m.active = false
			switch {
			case s.n < m.segRecs/2 && m.segBytes < m.maxBatch:
				m.segBytes = min(2*m.segBytes, m.maxBatch) // records are larger than guessed
			case s.n == len(s.recs) && 4*s.off < len(s.buf) && m.segBytes > m.minSegBytes:
				m.segBytes = max(m.segBytes/2, m.minSegBytes) // and smaller again
			}
			if s.live == 0 { // all evicted: let it go
				m.segs[len(m.segs)-1] = nil
				m.segs = m.segs[:len(m.segs)-1]
				if m.curSeg == s {
					m.curSeg = nil
				}
				m.recycle(s)
			}
		}
	}
	if !m.active {
		s = m.newSegment(need)
		m.segs = append(m.segs, s)
		m.active = true
	}
	i, off := s.n, s.off
	s.n++
	s.off += need
	mt := &s.meta[i]
	mt.seq, mt.level, mt.size, mt.dead, mt.raw = seq, rec.Level, need-1, false, raw
	s.live++
	s.liveBytes += need - 1
	m.n++
	m.bytes += need - 1
	return pending{s: s, i: i, off: off}
}

// newSegment returns an empty segment whose buf holds at least need bytes.
func (m *memStore) newSegment(need int) *segment {
	size := max(m.segBytes, need)
	if k := len(m.spares); k > 0 && len(m.spares[k-1].buf) >= size {
		s := m.spares[k-1]
		m.spares[k-1] = nil
		m.spares = m.spares[:k-1]
		return s
	}
	return &segment{
		gen:  1, // meta.done starts at 0: no record is done
		buf:  make([]byte, size),
		recs: make([]Record, m.segRecs),
		meta: make([]recMeta, m.segRecs),
	}
}

func (m *memStore) warm() {}

func (m *memStore) oldestSeq() (uint64, bool) {
	for _, s := range m.segs {
		if s.live > 0 {
			return s.meta[s.first].seq, true
		}
	}
	return 0, false
}

func (m *memStore) take() *segment {
	if len(m.segs) == 0 {
		return nil
	}
	s := m.segs[0]
	copy(m.segs, m.segs[1:])
	m.segs[len(m.segs)-1] = nil
	m.segs = m.segs[:len(m.segs)-1]
	if len(m.segs) == 0 {
		m.active = false
	}
	m.n -= s.live
	m.bytes -= s.liveBytes
	if m.curSeg == s {
		m.curSeg = nil
	}
	return s
}

// release keeps the segment handed back (which the consumer has reset)
// for reuse, if it is of the usual size.
func (m *memStore) release(_ int, s *segment) {
	if s != nil && len(m.spares) < m.maxSpares && len(s.buf) == m.segBytes && len(s.recs) == m.segRecs {
		m.spares = append(m.spares, s)
	}
}

func (m *memStore) abandon(inflight int) (lost, kept int) {
	lost = m.n + inflight
	clear(m.segs)
	m.segs, m.active, m.n, m.bytes, m.curSeg, m.retrim = m.segs[:0], false, 0, 0, nil, nil
	return lost, 0
}

// evictBelow marks the oldest live record below keep as evicted and frees
// its room in the bounds. The search starts at the cursor, past records
// known to be kept, so its cost does not grow with the kept records in
// front: an eviction costs O(1) amortized, plus, now and then, the copy of
// one mostly evicted segment's live records (at most one batch's bytes).
func (m *memStore) evictBelow(keep slog.Level) (slog.Level, bool) {
	if len(m.retrim) > 0 {
		m.trimAgain()
	}
	if m.curSeg != nil && keep != m.curKeep {
		m.curSeg = nil
	}
	m.curKeep = keep
	started := m.curSeg == nil
	for k, s := range m.segs {
		i := s.first
		if !started {
			if s != m.curSeg {
				continue
			}
			started, i = true, max(m.curI, s.first)
		}
		for ; i < s.n; i++ {
			if s.meta[i].dead || s.meta[i].level >= keep {
				continue
			}
			l := s.meta[i].level
			m.evict(k, s, i)
			return l, true
		}
		m.curSeg, m.curI = s, s.n
		m.trim(k, s) // kept records the cursor passes stay: keep them compact
	}
	if !started { // the cursor's segment is gone: search from the start
		m.curSeg = nil
		return m.evictBelow(keep)
	}
	return 0, false
}

// evict marks record i of s, the k-th segment, evicted.
func (m *memStore) evict(k int, s *segment, i int) {
	size := s.meta[i].size
	s.meta[i].dead = true
	s.live--
	s.dead++
	s.liveBytes -= size
	m.n--
	m.bytes -= size
	m.curSeg, m.curI = s, i+1
	for s.first < s.n && s.meta[s.first].dead {
		s.first++
	}
	if s.live == 0 && !(m.active && k == len(m.segs)-1) {
		// Nothing left in it: let it go.
		m.segs = append(m.segs[:k], m.segs[k+1:]...)
		m.curSeg = nil
		if k < len(m.segs) {
			m.curSeg, m.curI = m.segs[k], 0
		}
		m.recycle(s)
	}
}

// recycle keeps a segment whose records were all evicted for reuse, unless
// a log call is still copying into it.
func (m *memStore) recycle(s *segment) {
	for i := range s.n {
		if !s.isDone(i) {
			return
		}
	}
	s.reset()
	m.release(0, s)
}

// trim copies the live records of s, the k-th segment, down to a segment
// of their size if s is sealed and less than half of its buf is live. It
// runs when the eviction cursor leaves s, so every live record in s is a
// kept one and stays: records evicted around kept ones, or a segment
// sealed early by a large record, must not hold memory the bounds do not
// count. A copy costs the live bytes, at most one batch's, and happens
// once per segment the cursor passes (again only after the keep level
// changes), so an eviction costs O(1) amortized.
func (m *memStore) trim(k int, s *segment) {
	if (m.active && k == len(m.segs)-1) || len(s.buf) <= 2*(s.liveBytes+s.live) {
		return
	}
	m.compact(k, s)
}

// trimAgain retries trim on the segments that were being copied into.
func (m *memStore) trimAgain() {
	again := m.retrim
	m.retrim = nil
	for _, s := range again {
		if k := slices.Index(m.segs, s); k >= 0 {
			m.trim(k, s)
		}
	}
	clear(again)
}

// compact replaces the sealed segment s, the k-th, by a copy of its live
// records only, so that evicted records do not hold memory; it leaves s
// as it is if a copy into it is still under way.
func (m *memStore) compact(k int, s *segment) {
	for i := range s.n {
		if !s.isDone(i) {
			if !slices.Contains(m.retrim, s) {
				m.retrim = append(m.retrim, s)
			}
			return
		}
	}
	c := &segment{
		gen:  1,
		buf:  make([]byte, s.liveBytes+s.live),
		recs: make([]Record, s.live),
		meta: make([]recMeta, s.live),
		n:    s.live,
	}
	j := 0
	for i := range s.n {
		if s.meta[i].dead {
			continue
		}
		r := s.recs[i]
		n := copy(c.buf[c.off:], r.Encoded)
		c.buf[c.off+n] = '\n'
		r.Encoded = c.buf[c.off : c.off+n : c.off+n]
		c.off += n + 1
		c.recs[j] = r
		mt, old := &c.meta[j], &s.meta[i]
		mt.seq, mt.level, mt.size, mt.raw = old.seq, old.level, old.size, old.raw
		mt.done.Store(c.gen)
		j++
	}
	c.live, c.liveBytes = s.live, s.liveBytes
	m.segs[k] = c
	if m.curSeg == s {
		m.curSeg, m.curI = c, 0
	}
}

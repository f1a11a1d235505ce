package asynclog

import (
	"log/slog"
	"slices"
)

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
	// What a log call under the mutex reads and writes comes first: one cache line (the
	// padding below makes a memStore 256 bytes, which the allocator places
	// on a 64-byte boundary).
	n      int        // live records in segs
	bytes  int        // their encodings' bytes
	size   int        // Options.Size
	max    int        // Options.MaxBytes
	segs   []*segment // oldest first
	active bool       // the last of segs takes more records

	segRecs     int        // records a segment holds: min(BatchSize, Size)
	segBytes    int        // bytes of a new segment's buf: it follows the records' size ...
	minSegBytes int        // ... down to this
	maxBatch    int        // bytes a segment's buf may grow to: min(MaxBytes, 1 MiB)
	spares      []*segment // emptied segments kept for reuse ...
	maxSpares   int        // ... at most this many: what the bounds let the queue hold

	// The eviction cursor: every live record before (curSeg, curI) is at
	// curKeep or above, so the search for one below starts there.
	curSeg  *segment
	curI    int
	curKeep slog.Level
	// retrim holds segments that trim could not copy down because a log
	// call was still copying into them: the next eviction tries again.
	retrim []*segment

	lease *segment // the open segment while leased (lease.go), else nil
	_     [72]byte // to 256 bytes: see the first field
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
	if m.lease != nil {
		panic("asynclog: push into a leased segment") // the queue closes the lease first
	}
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
					// Every live record before it was passed as kept: the
					// cursor stays past them, at the end of the segment
					// before, rather than sending the next search back
					// through all of them.
					m.curSeg = nil
					if k := len(m.segs); k > 0 {
						m.curSeg, m.curI = m.segs[k-1], m.segs[k-1].n
					}
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
	if i == 0 {
		s.base = seq // its records are numbered base+i (lease.go)
	}
	s.n++
	s.off += need
	s.meta[i].set(seq, rec.Level, rec.Encoded, raw)
	s.live++
	s.liveBytes += need - 1
	m.n++
	m.bytes += need - 1
	return pending{s: s, i: uint64(i), off: uint64(off)}
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

func (m *memStore) read(*segment) {}

func (m *memStore) oldestSeq() (uint64, bool) {
	for _, s := range m.segs {
		if s.live > 0 {
			if s.leased { // numbered in order: no need to wait for its meta
				return s.base + uint64(s.first), true
			}
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
			if mt := s.metaOf(i); mt.dead || mt.level >= keep {
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
	for s.first < s.n && s.metaOf(s.first).dead {
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
	s.fillEncoded() // every record is done: it does not wait
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
		mt.seq, mt.level, mt.size, mt.raw, mt.nl = old.seq, old.level, old.size, old.raw, old.nl
		mt.done.Store(c.gen)
		j++
	}
	c.live, c.liveBytes = s.live, s.liveBytes
	m.segs[k] = c
	if m.curSeg == s {
		m.curSeg, m.curI = c, 0
	}
}

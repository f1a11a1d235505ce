package asynclog

import (
	"log/slog"
	"time"
)

// store is where the queue keeps its records: the in-memory ring below, or
// a spool of files (spool.go). Every method runs under queue.mu. The log
// call checks fits (or never) and pushes, or evicts to make room; the
// consumer takes a batch, and once the batch is settled, releases it.
type store interface {
	// queued is the number of records not yet taken by the consumer.
	queued() int
	// fits reports whether rec fits now; never, whether it can never fit.
	fits(rec Record) bool
	never(rec Record) bool
	push(seq uint64, rec Record, raw bool)
	// evictBelow drops the oldest record not yet taken whose level is
	// below keep, and returns its level.
	evictBelow(keep slog.Level) (slog.Level, bool)
	// oldestSeq is the sequence number of the oldest record not yet taken.
	oldestSeq() (uint64, bool)
	// take copies up to max records (and up to about limit bytes) into
	// the consumer's batch.
	take(c *consumer, max, limit int)
	// release says the last batch taken is settled.
	release(n int)
	// abandon gives up at Shutdown's deadline, with inflight records in
	// the sink's hands: it returns how many records are lost, and how
	// many stay stored for the next start.
	abandon(inflight int) (lost, kept int)
}

var _ store = (*ring)(nil)

// ring is the queue's storage: the queued records, oldest first, bounded
// both in records (Options.Size) and in bytes (Options.MaxBytes).
//
// A record's encoding lives in buf, a circular byte buffer: each record's
// bytes follow the previous record's, wrapping around the end, so the ring
// holds exactly as many bytes as its records have and no room is lost to
// padding. Its other fields live in a slot of slots, a circular array of
// Size entries. slots is allocated at NewQueue; buf starts at 256 bytes a
// slot (or MaxBytes if smaller) and doubles, up to MaxBytes, the first times
// records need more, so an idle queue does not hold MaxBytes. A warm log
// call copies into them and allocates nothing.
//
// The ring has no lock of its own: every method runs under queue.mu. The
// log call pushes; the consumer copies the oldest records out (take) and
// frees their room at once, so a batch being written holds no room in the
// ring; DropOldest evicts.
type ring struct {
	slots []slot
	buf   []byte
	head  int // index in slots of the oldest record
	n     int // records held
	bhead int // offset in buf of the oldest record's first byte
	bn    int // bytes held
	max   int // MaxBytes: the most buf may grow to
}

// slot is one queued record, but for its encoding, which is in ring.buf.
type slot struct {
	seq   uint64 // the record's sequence number: Flush's barriers are positions in it
	time  time.Time
	level slog.Level
	msg   string
	raw   bool // msg is still inside the encoding (the io.Writer front end)
	off   int  // offset of the encoding in ring.buf
	size  int  // its length
}

// ringBytesPerSlot is the room per slot that buf starts with.
const ringBytesPerSlot = 256

func newRing(size, maxBytes int) ring {
	return ring{slots: make([]slot, size), buf: make([]byte, min(maxBytes, size*ringBytesPerSlot)), max: maxBytes}
}

func (r *ring) queued() int           { return r.n }
func (r *ring) fits(rec Record) bool  { return r.n < len(r.slots) && r.bn+len(rec.Encoded) <= r.max }
func (r *ring) never(rec Record) bool { return len(rec.Encoded) > r.max }
func (r *ring) release(int)           {} // take freed the room already
func (r *ring) abandon(inflight int) (lost, kept int) {
	lost = r.n + inflight
	r.drop(r.n)
	return lost, 0
}
func (r *ring) oldestSeq() (uint64, bool) { return r.at(0).seq, r.n > 0 }

// take copies the oldest records out into the consumer's batch and frees
// their room at once: the batch being written holds none.
func (r *ring) take(c *consumer, max, limit int) {
	m, bytes := 0, 0
	for m < r.n && m < max {
		s := r.at(m)
		if m > 0 && bytes+s.size > limit {
			break
		}
		bytes += s.size
		m++
	}
	c.reserve(bytes)
	for i := range m {
		s := r.at(i)
		start := len(c.buf)
		c.buf = r.appendBytes(c.buf, s)
		c.add(Record{Time: s.time, Level: s.level, Message: s.msg, Encoded: c.buf[start:len(c.buf):len(c.buf)]}, s.raw)
	}
	r.drop(m)
}

// grow makes buf at least need bytes long (at most max), laying the
// records out again from offset 0.
func (r *ring) grow(need int) {
	size := len(r.buf)
	for size < need {
		size *= 2
	}
	buf := make([]byte, min(size, r.max))
	off := 0
	for i := range r.n {
		s := r.at(i)
		r.appendBytes(buf[off:off], s)
		s.off = off
		off += s.size
	}
	r.buf, r.bhead = buf, 0
}

// at returns the i-th oldest record's slot.
func (r *ring) at(i int) *slot {
	j := r.head + i
	if j >= len(r.slots) {
		j -= len(r.slots)
	}
	return &r.slots[j]
}

// push appends a record, copying its encoding. The caller checked fits.
func (r *ring) push(seq uint64, rec Record, raw bool) {
	t, level, msg, enc := rec.Time, rec.Level, rec.Message, rec.Encoded
	if r.bn+len(enc) > len(r.buf) {
		r.grow(r.bn + len(enc))
	}
	off := r.bhead + r.bn
	if off >= len(r.buf) {
		off -= len(r.buf)
	}
	if k := copy(r.buf[off:], enc); k < len(enc) {
		copy(r.buf, enc[k:])
	}
	r.bn += len(enc)
	r.n++
	*r.at(r.n - 1) = slot{seq: seq, time: t, level: level, msg: msg, raw: raw, off: off, size: len(enc)}
}

// appendBytes appends the encoding of s to dst.
func (r *ring) appendBytes(dst []byte, s *slot) []byte {
	end := s.off + s.size
	if end <= len(r.buf) {
		return append(dst, r.buf[s.off:end]...)
	}
	dst = append(dst, r.buf[s.off:]...)
	return append(dst, r.buf[:end-len(r.buf)]...)
}

// drop removes the k oldest records.
func (r *ring) drop(k int) {
	freed := 0
	for i := range k {
		s := r.at(i)
		freed += s.size
		*s = slot{} // let the message strings go
	}
	r.head = (r.head + k) % len(r.slots)
	r.n -= k
	r.bn -= freed
	r.bhead = (r.bhead + freed) % len(r.buf)
	if r.n == 0 {
		// Empty: start again at the beginning, so that a queue that keeps
		// up reuses the same few cache lines.
		r.head, r.bhead = 0, 0
	}
}

// evictBelow removes the oldest record whose level is below keep and
// returns its level; ok is false if every record is at keep or above.
//
// The records before it are all kept ones. They slide forward over the
// evicted record's bytes, so that the freed room joins the free part of
// the ring: the cost is a copy of the kept records that precede it,
// nothing when the oldest record is the one evicted.
func (r *ring) evictBelow(keep slog.Level) (level slog.Level, ok bool) {
	k := -1
	for i := range r.n {
		if r.at(i).level < keep {
			k = i
			break
		}
	}
	if k < 0 {
		return 0, false
	}
	ev := *r.at(k)
	if k > 0 {
		// Move the bytes [bhead, ev.off) forward by ev.size, last byte
		// first, since the two ranges overlap.
		before := ev.off - r.bhead
		if before < 0 {
			before += len(r.buf)
		}
		r.moveForward(r.bhead, before, ev.size)
		for i := k; i > 0; i-- {
			s := *r.at(i - 1)
			s.off = (s.off + ev.size) % len(r.buf)
			*r.at(i) = s
		}
	}
	*r.at(0) = slot{}
	r.head = (r.head + 1) % len(r.slots)
	r.n--
	r.bn -= ev.size
	r.bhead = (r.bhead + ev.size) % len(r.buf)
	if r.n == 0 {
		r.head, r.bhead = 0, 0
	}
	return ev.level, true
}

// moveForward moves the n bytes at from (circularly) by d bytes toward the
// tail. Most moves touch neither end of buf and are one copy.
func (r *ring) moveForward(from, n, d int) {
	size := len(r.buf)
	if from+n+d <= size {
		copy(r.buf[from+d:from+d+n], r.buf[from:from+n])
		return
	}
	for i := n - 1; i >= 0; i-- {
		r.buf[(from+i+d)%size] = r.buf[(from+i)%size]
	}
}

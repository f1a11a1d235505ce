package spool

// The two halves of a write and of a read, for a caller that serialises
// the spool with a lock of its own: what must be under the lock (placing a
// record, claiming the records to read) is split from what is proportional
// to the record (copying its bytes and their checksum in, copying them
// out), which runs outside it.

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// A reserved frame's first word holds its size where a dead frame's
	// does, so that a walk steps over it; Commit replaces it with the
	// record's magic and checksum.
	resMagic    = 0x52505341 // "ASPR": a record in line, reserved, not yet committed
	resOolMagic = 0x51505341 // "ASPQ": the same, out of line
)

// Slot is a record's place, reserved by [Spool.Reserve] and written by
// [Slot.Commit]. The zero Slot is no place.
type Slot struct {
	s    *Spool
	pos  uint64 // logical offset of the frame
	word uint64 // what Commit needs besides: the record's magic, and its body's length above it
}

// Valid reports whether sl is a reserved place.
func (sl Slot) Valid() bool { return sl.s != nil }

// Place returns sl's place in two words, for a caller that keeps them
// without the Spool (the queue's pending record): [Spool.CommitPlace]
// takes them back.
func (sl Slot) Place() (pos, word uint64) { return sl.pos, sl.word }

// Reserve places a record with a message of msgLen bytes and an encoding
// of encLen bytes, as Append would, and writes its fixed part; it returns
// false and places nothing if the record does not fit now. The caller
// copies the rest in with [Slot.Commit], which may run outside the lock
// that serialises the other methods.
//
// Until the Commit, the record is reserved: Read, ReadAt and Evict wait
// for it (briefly: a Commit does not wait on anything), and an Open after
// a crash drops it, as it drops an Append cut short: the call that wrote
// it never returned. Close waits for the Commits under way, at most
// closeCommitWait; if one is still under way then, Close leaves the file
// mapped (until the process ends) rather than unmap the place it writes,
// and says so in its error; the next Open drops that record if its Commit
// never finished.
func (s *Spool) Reserve(seq uint64, level int32, unixNano int64, msgLen, encLen int) (Slot, bool) {
	body := uint64(recHeader) + uint64(msgLen) + uint64(encLen)
	size := align8(body)
	pos, ok := s.place(size)
	if !ok {
		return Slot{}, false
	}
	var h [recHeader]byte
	le := binary.LittleEndian
	le.PutUint64(h[rOff:], pos)
	le.PutUint64(h[rSeq:], seq)
	le.PutUint64(h[rTime:], uint64(unixNano))
	le.PutUint32(h[rLevel:], uint32(level))
	le.PutUint32(h[rSize:], uint32(size))
	le.PutUint32(h[rMsgLen:], uint32(msgLen))
	le.PutUint32(h[rEncLen:], uint32(encLen))
	magic, res := uint64(recMagic), uint64(resMagic)
	a := s.lastHole
	inHole := pos != s.tail
	if inHole {
		magic, res = oolMagic, resOolMagic
	}
	if !inHole || pos != a {
		// A stale word from an earlier lap must not pass for this
		// frame's while its header is half written. (At a hole's start,
		// the hole's dead word stays until the reserved word replaces it.)
		s.setWord(pos, 0)
	}
	s.copyIn(pos+8, h[8:])
	s.setWord(pos, res|size<<32)
	if !inHole {
		s.tail += size
	} else {
		e := s.holeEnd[a]
		delete(s.holeEnd, a)
		delete(s.holeStart, e)
		if pos != a {
			s.setWord(a, deadWord(pos-a))
			s.holeEnd[a], s.holeStart[pos] = pos, a
		} else {
			s.lastHole = noHole
		}
		s.ool = append(s.ool, oolRec{pos, seq})
	}
	s.n++
	s.live += size
	return Slot{s: s, pos: pos, word: body<<32 | magic}, true
}

// Commit copies msg and enc into the reserved place, with the lengths
// Reserve was given, and then makes the record whole with one atomic store
// of its first word. It may run concurrently with any method but Close,
// and with other Commits.
func (sl Slot) Commit(msg string, enc []byte) { sl.s.CommitPlace(sl.pos, sl.word, msg, enc) }

// CommitPlace is [Slot.Commit] for the slot whose [Slot.Place] returned
// pos and word.
func (s *Spool) CommitPlace(pos, word uint64, msg string, enc []byte) {
	body, magic := word>>32, word&(1<<32-1)
	if uint64(recHeader+len(msg)+len(enc)) != body {
		panic("spool: Commit with other lengths than Reserve's")
	}
	x := s.copyInString(pos+recHeader, msg)
	s.copyIn(x, enc)
	s.storeWord(pos, magic|uint64(s.crc(0, pos+8, body-8))<<32)
}

// reserved reports whether w is the first word of a reserved frame.
func reserved(w uint64) bool {
	m := uint32(w)
	return m == resMagic || m == resOolMagic
}

// awaitCommit returns once the frame at x is not reserved: its Commit runs
// on another goroutine, outside the caller's lock, and takes no longer
// than its copy unless that goroutine is descheduled, when this one yields.
func (s *Spool) awaitCommit(x uint64) {
	for spins := 0; reserved(s.loadWord(x)); spins++ {
		if spins >= 500 {
			runtime.Gosched()
		}
	}
}

// Claim marks as read the oldest records not yet read, at most n of them
// and no more once their encodings reach limit bytes (at least one), and
// appends their places to dst, for [Spool.ReadAt]. Like Read, it runs under
// the caller's lock; [Spool.Release] removes the records claimed.
func (s *Spool) Claim(dst []uint64, n, limit int) []uint64 {
	if s.ring == nil {
		return dst
	}
	bytes := 0
	for i := 0; i < n && bytes < limit; i++ {
		pos, ok := s.claim()
		if !ok {
			break
		}
		bytes += int(s.u32(pos + rEncLen))
		dst = append(dst, pos)
	}
	return dst
}

// claim marks the oldest record not yet read as read, and returns its
// place.
func (s *Spool) claim() (uint64, bool) {
	pos, outOfLine, ok := s.next()
	if !ok {
		return 0, false
	}
	if outOfLine {
		s.oolRd++
		if s.oolRd > 64 && s.oolRd > len(s.ool)/2 {
			s.compact()
		}
	} else {
		s.rd += uint64(s.u32(pos + rSize))
		s.skipToInLine(&s.rd)
	}
	s.reading = append(s.reading, pos)
	return pos, true
}

// ReadAt copies the record at pos, which Claim returned, into r once it is
// committed, as Read does. It may run without the caller's lock,
// concurrently with Reserve, Commit, Append, Fits, Evict and Claim (none
// of which touches a claimed record), but not with Release, Close, Read
// or another ReadAt. An r.Encoded that ViewAt left a view of the mapping
// is not reused: ReadAt never writes the ring.
func (s *Spool) ReadAt(pos uint64, r *Record) {
	enc, encLen := s.readHead(pos, r)
	if s.inRing(r.Encoded) {
		r.Encoded = nil
	}
	r.Encoded = s.appendOut(r.Encoded[:0], enc, encLen)
}

// inRing reports whether b's array is the ring's: a view from ViewAt.
func (s *Spool) inRing(b []byte) bool {
	if cap(b) == 0 || len(s.ring) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(s.ring)))
	return p >= lo && p < lo+uintptr(len(s.ring))
}

// ViewAt is ReadAt for a caller that is done with the record before it
// releases it (the consumer, whose sink must not keep a batch): r.Encoded
// is the encoding in the mapping itself where it lies in one piece, and
// else a copy in buf's array. It returns buf, grown if the copy needed
// more, for the next call. A view is valid until the record is released
// or the spool closed; its capacity is its length, so that an append to
// it copies rather than write the ring (and ReadAt, given a Record that
// holds one, copies into a new array). It runs where ReadAt may.
func (s *Spool) ViewAt(pos uint64, r *Record, buf []byte) []byte {
	enc, encLen := s.readHead(pos, r)
	if p := enc % s.size; p+encLen <= s.size {
		r.Encoded = s.ring[p : p+encLen : p+encLen]
		return buf
	}
	buf = s.appendOut(buf[:0], enc, encLen)
	r.Encoded = buf
	return buf
}

// readHead waits for the record at pos to be committed and reads its
// header and message into r, which it leaves with r.Encoded as it was; it
// returns where the encoding lies and its length.
func (s *Spool) readHead(pos uint64, r *Record) (enc, encLen uint64) {
	s.awaitCommit(pos)
	var h [recHeader]byte
	s.copyOut(h[:], pos)
	le := binary.LittleEndian
	msgLen := uint64(le.Uint32(h[rMsgLen:]))
	r.Seq = le.Uint64(h[rSeq:])
	r.Time = int64(le.Uint64(h[rTime:]))
	r.Level = int32(le.Uint32(h[rLevel:]))
	s.msg = s.appendOut(s.msg[:0], pos+recHeader, msgLen)
	if string(s.msg) != r.Message {
		r.Message = string(s.msg)
	}
	return pos + recHeader + msgLen, uint64(le.Uint32(h[rEncLen:]))
}

// awaitAllCommits reports, within closeCommitWait, that no frame between
// head and tail, in line or out of line, is reserved: Close must not unmap
// a place a Commit still writes. It returns false if one still is then.
func (s *Spool) awaitAllCommits() bool {
	deadline := time.Now().Add(closeCommitWait)
	for x := s.head; x != s.tail; x += s.frameSize(x) { // the frames tile the ring: records out of line too
		for reserved(s.loadWord(x)) {
			if time.Now().After(deadline) {
				return false
			}
			runtime.Gosched()
		}
	}
	return true
}

// closeCommitWait bounds Close's wait for the Commits under way: each is a
// copy, unless its goroutine stalls or died between Reserve and Commit.
const closeCommitWait = time.Second

// loadWord is word with an atomic load: for a word a Commit may store
// concurrently.
func (s *Spool) loadWord(x uint64) uint64 {
	v := atomic.LoadUint64((*uint64)(unsafe.Pointer(&s.ring[x%s.size])))
	if !littleEndian {
		v = bits.ReverseBytes64(v)
	}
	return v
}

// storeWord is setWord with an atomic store: Commit's, which a reader
// outside the lock waits for.
func (s *Spool) storeWord(x, v uint64) {
	if s.beforeStore != nil {
		s.beforeStore()
	}
	if !littleEndian {
		v = bits.ReverseBytes64(v)
	}
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&s.ring[x%s.size])), v)
}

package spool

import "fmt"

// Removing records: Release after delivery, Evict to make room, and the
// dead frames and holes they leave.

// markDead turns the bytes from a to e into dead frames, each at most
// maxFrame long: its offset first, then its first word, one store each.
func (s *Spool) markDead(a, e uint64) {
	for a < e {
		n := min(e-a, maxFrame)
		if n >= 16 {
			s.put64(a+rOff, a)
		}
		s.setWord(a, deadWord(n))
		a += n
	}
}

func deadWord(size uint64) uint64 { return deadMagic | size<<32 }

// addHole records the dead frame from a to e, joining it to the holes
// just before and after it: the first frame of the joined hole is
// rewritten, with one store, to span it (a walk before the store steps
// through the frames, after it jumps over them). A hole is never longer
// than maxFrame.
func (s *Spool) addHole(a, e uint64) {
	if st, ok := s.holeStart[a]; ok && e-st <= maxFrame {
		delete(s.holeStart, a)
		delete(s.holeEnd, st)
		a = st
	}
	if en, ok := s.holeEnd[e]; ok && en-a <= maxFrame {
		delete(s.holeEnd, e)
		delete(s.holeStart, en)
		e = en
	}
	if s.frameSize(a) != e-a {
		s.setWord(a, deadWord(e-a))
	}
	s.holeEnd[a], s.holeStart[e] = e, a
	s.lastHole = a
}

// advanceHead moves head past the dead frames at it, forgetting their
// holes, and stores it with one aligned store.
func (s *Spool) advanceHead() {
	h := s.head
	for h != s.tail && uint32(s.word(h)) == deadMagic {
		if len(s.holeEnd) == 0 {
			// no hole to forget: the common case, a released batch
		} else if e, ok := s.holeEnd[h]; ok {
			delete(s.holeEnd, h)
			delete(s.holeStart, e)
			if s.lastHole == h {
				s.lastHole = noHole
			}
		}
		h += s.word(h) >> 32
	}
	if h == s.head {
		return
	}
	s.head = h
	s.storeHead(h)
	if s.rd < h {
		s.rd = h
		s.skipToInLine(&s.rd)
	}
	if s.evPos < s.rd {
		s.evPos = s.rd
	}
}

// inLine reports whether w is the first word of a record in line,
// committed or reserved.
func inLine(w uint64) bool {
	m := uint32(w)
	return m == recMagic || m == resMagic
}

// skipToInLine moves *x past dead frames and records out of line, to the
// next record in line or to tail.
func (s *Spool) skipToInLine(x *uint64) {
	for *x != s.tail && !inLine(s.word(*x)) {
		*x += s.frameSize(*x)
	}
}

// Release removes the n oldest records that were read, once the sink has
// them. Each is turned into a dead frame with one aligned store, then head
// moves past the dead frames at it, with one more: a crash keeps some of
// the n, never another record. Their room is free for Append when it
// returns if head passed them, else it joins the holes. Release returns an
// error, and removes nothing, if fewer than n records were read and not
// released.
func (s *Spool) Release(n int) error {
	if s.ring == nil {
		return fmt.Errorf("spool: release: %w", ErrClosed)
	}
	if n < 0 || n > len(s.reading) {
		return fmt.Errorf("spool: release %d of %d read records", n, len(s.reading))
	}
	for _, pos := range s.reading[:n] {
		size := uint64(s.u32(pos + rSize))
		s.setWord(pos, deadWord(size))
		s.live -= size
	}
	s.n -= n
	s.advanceHead()
	for _, pos := range s.reading[:n] {
		if pos >= s.head {
			s.addHole(pos, pos+s.frameSize(pos))
		}
	}
	k := copy(s.reading, s.reading[n:])
	s.reading = s.reading[:k]
	return nil
}

// Evict removes the oldest record not yet read whose level is below below
// (pass math.MaxInt32 for the oldest unread record of any level), and
// tells what it removed; it returns false if no unread record is below
// below.
//
// The record becomes a dead frame with one aligned store of its first
// word, and joins the holes beside it; nothing else moves, so a crash at
// any instant keeps every other record, and the cost does not grow with
// the records in front of it. Its room is free for Append at once if it
// was at head; otherwise a record that fits in its hole (and the holes
// beside it) is placed there, out of line, and the rest of the room comes
// back when head passes it. The search for the record resumes where the
// last one with the same below stopped, so a run of Evicts passes over
// each kept record once.
func (s *Spool) Evict(below int32) (Meta, bool) {
	if s.ring == nil {
		return Meta{}, false
	}
	if below != s.evBelow {
		s.evBelow, s.evPos, s.evIdx = below, s.rd, s.oolRd
	}
	if s.evPos < s.rd {
		s.evPos = s.rd
	}
	s.evIdx = max(s.evIdx, s.oolRd)
	for s.evPos != s.tail && int32(s.u32(s.evPos+rLevel)) >= below {
		s.evPos += uint64(s.u32(s.evPos + rSize))
		s.skipToInLine(&s.evPos)
	}
	for s.evIdx < len(s.ool) && (s.ool[s.evIdx].pos == noHole || int32(s.u32(s.ool[s.evIdx].pos+rLevel)) >= below) {
		s.evIdx++
	}
	var v uint64
	switch {
	case s.evIdx < len(s.ool) && (s.evPos == s.tail || s.ool[s.evIdx].seq < s.u64(s.evPos+rSeq)):
		v = s.ool[s.evIdx].pos
		s.ool[s.evIdx].pos = noHole
		s.evIdx++
		s.oolGone++
		if s.oolGone > 64 && s.oolGone > (len(s.ool)-s.oolRd)/2 {
			s.compact()
		}
	case s.evPos != s.tail:
		v = s.evPos
	default:
		return Meta{}, false
	}
	s.awaitCommit(v) // its Commit would store over the dead word
	e := uint64(s.u32(v + rSize))
	m := Meta{Seq: s.u64(v + rSeq), Level: int32(s.u32(v + rLevel)), Time: int64(s.u64(v + rTime)), Size: int64(e)}
	s.setWord(v, deadWord(e))
	s.n--
	s.live -= e
	if v == s.rd {
		s.skipToInLine(&s.rd)
	}
	if v == s.evPos {
		s.skipToInLine(&s.evPos)
	}
	if v == s.head {
		s.advanceHead() // its room is free at once: no hole
	} else {
		s.addHole(v, v+e)
	}
	return m, true
}

// compact drops from ool the entries read and those evicted, keeping
// Evict's place: a copy of the live entries, 16 bytes each, done when the
// dropped ones are as many, so each Evict or Read pays for it once.
func (s *Spool) compact() {
	w, ev := 0, -1
	if s.evIdx <= s.oolRd {
		ev = 0
	}
	for i := s.oolRd; i < len(s.ool); i++ {
		if ev < 0 && i == s.evIdx {
			ev = w
		}
		if s.ool[i].pos != noHole {
			s.ool[w] = s.ool[i]
			w++
		}
	}
	if ev < 0 {
		ev = w
	}
	s.ool, s.oolRd, s.oolGone, s.evIdx = s.ool[:w], 0, 0, ev
}

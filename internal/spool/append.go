package spool

// Placing and appending a record: in line after the newest one, or out of
// line in the last hole.

// Fits reports whether a record with a message of msgLen bytes and an
// encoding of encLen bytes fits now, so that Append would store it: in
// line, after the newest record, or out of line, in the hole Evict last
// made or grew. A record larger than [Spool.Cap] never fits.
func (s *Spool) Fits(msgLen, encLen int) bool {
	_, ok := s.place(uint64(RecordSize(msgLen, encLen)))
	return ok
}

// Room returns the size in the ring (see [RecordSize]) of the largest
// record that fits now: the room after the newest record, or in the hole
// the last Evict made or grew, whichever is larger.
func (s *Spool) Room() int64 {
	if s.ring == nil {
		return 0
	}
	room := s.size - (s.tail - s.head)
	if e, ok := s.holeEnd[s.lastHole]; ok {
		room = max(room, e-s.lastHole)
	}
	return int64(min(room, maxFrame))
}

// place returns where a record of size bytes goes: tail, or the end of the
// last hole; false if neither has room.
func (s *Spool) place(size uint64) (uint64, bool) {
	if s.ring == nil || size > s.size || size > maxFrame {
		return 0, false
	}
	if size <= s.size-(s.tail-s.head) {
		return s.tail, true
	}
	if e, ok := s.holeEnd[s.lastHole]; ok && e-s.lastHole >= size {
		return e - size, true
	}
	return 0, false
}

// Append stores one record and returns true, or returns false and stores
// nothing if it does not fit now (see [Spool.Fits]). When it returns true
// the record is in the mapping, so it outlives the process. It does not
// allocate, but to note a record placed out of line, and keeps neither msg
// nor enc.
//
// A record in line is written after the newest one with its first word
// (magic and CRC) cleared, and that word is stored last, with one aligned
// store. A record out of line is written at the end of a hole, whose dead
// first frame still spans it, and then the dead frame is shortened with
// one store (or, when the record fills the hole, the record's first word
// replaces the dead one): at every instant the ring reads as the records
// before the call, or as those and the new one.
func (s *Spool) Append(seq uint64, level int32, unixNano int64, msg string, enc []byte) bool {
	sl, ok := s.Reserve(seq, level, unixNano, len(msg), len(enc))
	if !ok {
		return false
	}
	sl.Commit(msg, enc)
	return true
}

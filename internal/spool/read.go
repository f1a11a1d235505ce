package spool

// Reading the oldest record not yet read, in line or out of line, in the
// order of sequence numbers.

// next returns the record Read would return: in line at rd, or out of
// line at ool[oolRd], whichever has the lower seq; ok is false if every
// record has been read.
func (s *Spool) next() (pos uint64, outOfLine, ok bool) {
	for s.oolRd < len(s.ool) && s.ool[s.oolRd].pos == noHole {
		s.oolRd++
		s.oolGone--
	}
	o := s.oolRd < len(s.ool)
	if s.rd == s.tail {
		if !o {
			return 0, false, false
		}
		return s.ool[s.oolRd].pos, true, true
	}
	if o && s.ool[s.oolRd].seq < s.u64(s.rd+rSeq) {
		return s.ool[s.oolRd].pos, true, true
	}
	return s.rd, false, true
}

// Read copies the oldest record not yet read into r and returns true, or
// returns false if every record has been read. The record stays in the
// spool, and is read again by the next process to open it, until
// [Spool.Release] removes it. Read reuses r.Encoded's array and keeps
// r.Message when it already holds the same text, so a reused Record costs
// an allocation only for a new message or a longer encoding. Nothing in r
// refers to the mapping.
func (s *Spool) Read(r *Record) bool {
	if s.ring == nil {
		return false
	}
	pos, ok := s.claim()
	if !ok {
		return false
	}
	s.ReadAt(pos, r)
	return true
}

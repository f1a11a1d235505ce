package jsonscan

// Scanner reads JSON text from B, starting at I. Its methods skip leading
// whitespace, advance I past what they read, and return it as a sub-slice
// of B; they do not allocate. After a method reports false, I is
// unspecified.
//
// An object is read as Enter('{') then Member until it reports no more
// members, reading or skipping each member's value in between; an array as
// Enter('[') then Element the same way:
//
//	s := jsonscan.Scanner{B: b}
//	if !s.Enter('{') { ... }
//	for {
//		key, more, ok := s.Member()
//		if !ok { ... } // malformed
//		if !more { break }
//		v, ok := s.Skip() // or read it: s.String(), s.Bare(), s.Enter(...)
//		...
//	}
type Scanner struct {
	B []byte
	I int

	// first is set by Enter and cleared by the first Member or Element:
	// before the first, no comma.
	first bool
}

// Peek skips whitespace and returns the next byte, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.I = SkipSpace(s.B, s.I)
	if s.I < len(s.B) {
		return s.B[s.I]
	}
	return 0
}

// Consume skips whitespace and then c, and reports whether c was there.
func (s *Scanner) Consume(c byte) bool {
	s.I = SkipSpace(s.B, s.I)
	if s.I < len(s.B) && s.B[s.I] == c {
		s.I++
		return true
	}
	return false
}

// AtEnd skips whitespace and reports whether nothing is left.
func (s *Scanner) AtEnd() bool {
	s.I = SkipSpace(s.B, s.I)
	return s.I == len(s.B)
}

// Enter consumes open, '{' or '[', that begins an object or array, and
// reports whether it was there. Member or Element then reads its contents.
func (s *Scanner) Enter(open byte) bool {
	if !s.Consume(open) {
		return false
	}
	s.first = true
	return true
}

// Member reads up to the value of the next member of the object entered:
// the comma before it (except for the first), its key, as written (quotes
// and escapes included; see [Unquote]), and the colon, leaving I at the
// value, which the caller must then read or skip. At the closing '}',
// consumed, more is false. ok is false if the text is malformed there.
//
// Member keeps no stack: after reading a value that is itself an object
// or array, the caller goes on with Member as if the inner one had been
// skipped.
func (s *Scanner) Member() (key []byte, more, ok bool) {
	if more, ok = s.next('}'); !more || !ok {
		return nil, false, ok
	}
	key, ok = s.String()
	if !ok || !s.Consume(':') {
		return nil, false, false
	}
	return key, true, true
}

// Element reports whether another element of the array entered follows,
// consuming the comma before it (except for the first) and leaving I at
// the element, which the caller must then read or skip. At the closing
// ']', consumed, more is false. ok is false if the text is malformed there.
func (s *Scanner) Element() (more, ok bool) {
	return s.next(']')
}

// next consumes the separator before a member or element, or close.
func (s *Scanner) next(close byte) (more, ok bool) {
	if s.first {
		s.first = false
		if s.Consume(close) {
			return false, true
		}
		return true, s.I < len(s.B)
	}
	if s.Consume(',') {
		return true, true
	}
	return false, s.Consume(close)
}

// String reads a string and returns it as written, quotes included.
func (s *Scanner) String() ([]byte, bool) {
	i := SkipSpace(s.B, s.I)
	if i >= len(s.B) || s.B[i] != '"' {
		return nil, false
	}
	end := SkipString(s.B, i)
	if end < 0 {
		return nil, false
	}
	s.I = end
	return s.B[i:end], true
}

// Bare reads a value that is neither a string, an object nor an array: a
// number, true, false or null, up to the next delimiter. It is not checked
// (see [Number] and [Literal]); ok is false if it is empty.
func (s *Scanner) Bare() ([]byte, bool) {
	i := SkipSpace(s.B, s.I)
	end := skipBare(s.B, i)
	if end == i {
		return nil, false
	}
	s.I = end
	return s.B[i:end], true
}

// Skip passes over the next value, as [SkipValue] does, and returns it.
func (s *Scanner) Skip() ([]byte, bool) {
	i := SkipSpace(s.B, s.I)
	end := SkipValue(s.B, i)
	if end < 0 {
		return nil, false
	}
	s.I = end
	return s.B[i:end], true
}

// Package jsonscan is the JSON scanner that the module's readers share: the
// io.Writer front end, which finds a record's level and message among the
// top-level members of an object without allocating, and the sink
// adapters, which rebuild a record's attributes from its members.
//
// The scanner works on a byte slice and an offset and builds nothing: it
// finds where strings, values and members begin and end, and leaves to the
// caller what to make of them. Decoding is separate and explicit:
// [Unquote] for strings, [Number] for numbers.
//
// The scanner checks structure only as far as its caller asks: [Scanner.Skip]
// passes over a value by counting brackets outside strings, without
// checking what is inside; a caller that wants the whole text checked reads
// every value itself, with [Scanner.Member], [Scanner.Element],
// [Scanner.String] and [Scanner.Bare].
package jsonscan

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte of b at or after i that is
// not whitespace, or len(b).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// FirstNonSpace returns the first byte of b that is not whitespace, or 0.
func FirstNonSpace(b []byte) byte {
	if i := SkipSpace(b, 0); i < len(b) {
		return b[i]
	}
	return 0
}

// SkipString returns the index just past the quoted string that starts at
// b[i] (a double quote), or -1 if it does not end. A backslash escapes the
// byte after it; escapes are not checked. Go quoting (strconv.Quote) ends
// where JSON quoting does, so this serves logfmt values too.
func SkipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// SkipValue returns the index just past the value that starts at b[i], or
// -1 if there is none. A string ends at its closing quote; an object or
// array at its closing bracket, found by counting brackets outside strings
// (what is inside is not checked); anything else at the next ',', '}', ']'
// or whitespace.
func SkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := SkipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	if j := skipBare(b, i); j > i {
		return j
	}
	return -1
}

// skipBare returns the index of the first delimiter (',', '}', ']' or
// whitespace) at or after i, or len(b).
func skipBare(b []byte, i int) int {
	for i < len(b) {
		switch c := b[i]; c {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

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

// Literal reads a bare token as true, false or null (nil); ok is false for
// anything else.
func Literal(tok []byte) (v any, ok bool) {
	switch string(tok) {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	}
	return nil, false
}

// Number reads a bare token as a number: an int64 if it is an integer that
// fits (but -0, which keeps its sign, as a float64), a float64 otherwise,
// and its text, as a string, if it is beyond float64's range, rather than
// an infinity. ok is false if it is not a number. The check is strconv's,
// on JSON's number characters, so a little more than JSON is accepted
// ("+1", "01", ".5"); everything JSON accepts reads as encoding/json reads
// it.
func Number(tok []byte) (v any, ok bool) {
	if len(tok) == 0 {
		return nil, false
	}
	for _, c := range tok {
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return nil, false // not a JSON number: "Inf", "0x10"
		}
	}
	t := string(tok)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n == 0 && t[0] == '-' {
			return math.Copysign(0, -1), true
		}
		return n, true
	}
	f, err := strconv.ParseFloat(t, 64)
	if errors.Is(err, strconv.ErrRange) {
		return t, true
	}
	if err != nil {
		return nil, false
	}
	return f, true
}

// Unquote decodes a JSON string as written (quotes included) as
// encoding/json does: escapes are decoded, an escaped surrogate that is not
// half of a pair and invalid UTF-8 become U+FFFD, and a control character
// or an unknown escape makes it fail.
func Unquote(raw []byte) (string, bool) {
	n := len(raw)
	if n < 2 || raw[0] != '"' || raw[n-1] != '"' {
		return "", false
	}
	in := raw[1 : n-1]
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '\\':
			if i+1 >= len(in) {
				return "", false
			}
			i += 2
			switch in[i-1] {
			case '"', '\\', '/':
				out = append(out, in[i-1])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in, i)
				if !ok {
					return "", false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(in, i+2); ok && in[i] == '\\' && in[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
							r = pair
							i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c == '"' || c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			i += size
			out = utf8.AppendRune(out, r) // RuneError for invalid UTF-8
		}
	}
	return string(out), true
}

// hex4 reads the four hex digits at b[i:], or reports false.
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

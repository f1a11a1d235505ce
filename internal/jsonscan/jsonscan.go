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
//
// [FindMember] is the walk the front end makes on every log call: the
// Scanner's member walk and skip in one loop, with no call per member,
// for one key or two.
package jsonscan

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte of b at or after i that is
// not whitespace, or len(b).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && IsSpace(b[i]) { // one test for the usual none
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

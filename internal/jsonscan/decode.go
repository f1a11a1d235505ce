package jsonscan

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

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
				r, next, ok := unicodeEscape(in, i)
				if !ok {
					return "", false
				}
				out, i = utf8.AppendRune(out, r), next
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

// unicodeEscape reads the four hex digits of a \u escape at in[i:], and
// the second half of a surrogate pair after them if there is one, and
// returns the rune and the index past what it read: U+FFFD for a surrogate
// that is not half of a pair, whose next escape is then read on its own,
// as encoding/json does. ok is false if the digits are not hex.
func unicodeEscape(in []byte, i int) (r rune, next int, ok bool) {
	r, ok = hex4(in, i)
	if !ok {
		return 0, 0, false
	}
	i += 4
	if !utf16.IsSurrogate(r) {
		return r, i, true
	}
	if r2, ok := hex4(in, i+2); ok && in[i] == '\\' && in[i+1] == 'u' {
		if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
			return pair, i + 6, true
		}
	}
	return utf8.RuneError, i, true
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

package httpsink

import (
	"bytes"
	"unicode/utf8"
)

// Scanning a record's JSON, for both OTLP encodings: the lexer, and the
// filter of the members OTLP carries in fields of its own.

// lexer scans one record's JSON; both OTLP encodings read records with it.
type lexer struct {
	in      []byte
	i       int
	escaped bool // the last string str returned has an escape
}

// keyFilter recognises the top-level members that OTLP carries in fields
// of its own: the front end's time, level and message.
type keyFilter struct {
	levelKey []byte
	omit     [][]byte
	omitted  uint64 // bit i: omit[i] seen; bit 63: level key seen
	level    []byte // the level key's raw JSON string, for severityText
}

func (t *lexer) ws() {
	for t.i < len(t.in) {
		switch t.in[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// skips reports whether skip would drop a member with this key, without
// recording it.
func (t *keyFilter) skips(key []byte) bool {
	if t.omitted&(1<<63) == 0 && bytes.Equal(key, t.levelKey) {
		return true
	}
	for i, k := range t.omit {
		if i < 63 && t.omitted&(1<<i) == 0 && bytes.Equal(key, k) {
			return true
		}
	}
	return false
}

// skip reports whether a top-level member is the front end's own time,
// level or message (its first occurrence only), and keeps the level.
func (t *keyFilter) skip(key, raw []byte) bool {
	if t.omitted&(1<<63) == 0 && bytes.Equal(key, t.levelKey) {
		t.omitted |= 1 << 63
		if len(raw) > 0 && raw[0] == '"' {
			t.level = raw
		}
		return true
	}
	for i, k := range t.omit {
		if i < 63 && t.omitted&(1<<i) == 0 && bytes.Equal(key, k) {
			t.omitted |= 1 << i
			return true
		}
	}
	return false
}

// str scans a JSON string at t.i and returns it raw, quotes included.
func (t *lexer) str() ([]byte, error) {
	if t.i >= len(t.in) || t.in[t.i] != '"' {
		return nil, errSyntax
	}
	start := t.i
	t.i++
	ascii := true
	t.escaped = false
	for t.i < len(t.in) {
		c := t.in[t.i]
		switch {
		case c == '"':
			t.i++
			s := t.in[start:t.i]
			if !ascii && !utf8.Valid(s) {
				return nil, errSyntax
			}
			return s, nil
		case c == '\\':
			t.escaped = true
			if t.i+1 >= len(t.in) {
				return nil, errSyntax
			}
			switch t.in[t.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				t.i += 2
			case 'u':
				if t.i+6 > len(t.in) {
					return nil, errSyntax
				}
				for _, h := range t.in[t.i+2 : t.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, errSyntax
					}
				}
				t.i += 6
			default:
				return nil, errSyntax
			}
		case c < 0x20:
			return nil, errSyntax
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			t.i++
		}
	}
	return nil, errSyntax
}

// numberLit scans the characters a JSON number may hold, and reports
// whether they had no fraction or exponent. Its caller checks the grammar.
func (t *lexer) numberLit() (lit []byte, integer bool) {
	start := t.i
	integer = true
	for t.i < len(t.in) {
		c := t.in[t.i]
		if c >= '0' && c <= '9' || c == '-' {
			t.i++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' {
			integer = false
			t.i++
			continue
		}
		break
	}
	return t.in[start:t.i], integer
}

// validNumber reports whether lit follows JSON's number grammar, and
// whether it has an exponent.
func validNumber(lit []byte) (exp, ok bool) {
	i := 0
	digits := func() int {
		start := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	switch n := digits(); {
	case n == 0, n > 1 && lit[i-n] == '0':
		return false, false
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		if digits() == 0 {
			return false, false
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		exp = true
		i++
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false, false
		}
	}
	return exp, i == len(lit)
}

// fitsInt64 reports whether lit, a run of digits with an optional leading
// minus, is a valid JSON integer within int64.
func fitsInt64(lit []byte) bool {
	neg := len(lit) > 0 && lit[0] == '-'
	d := lit
	if neg {
		d = d[1:]
	}
	if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	const maxInt, minInt = "9223372036854775807", "9223372036854775808"
	limit := maxInt
	if neg {
		limit = minInt
	}
	if len(d) != len(limit) {
		return len(d) < len(limit)
	}
	return string(d) <= limit
}

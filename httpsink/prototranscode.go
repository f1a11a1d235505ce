package httpsink

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// A record's JSON members as protobuf KeyValues.

// protoTranscoder rewrites one record's JSON object as the KeyValue fields
// of a protobuf LogRecord, in one pass, with the types [transcoder] gives
// them in JSON: strings are unescaped, integers that fit int64 become
// int_value, other numbers double_value, null an empty AnyValue.
type protoTranscoder struct {
	lexer
	keyFilter
	out []byte
	key []byte // the top-level member's raw key
}

// object transcodes the top-level object's members as attributes.
func (t *protoTranscoder) object() error {
	t.ws()
	if t.i >= len(t.in) || t.in[t.i] != '{' {
		return errSyntax
	}
	t.i++
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == '}' {
		t.i++
		return t.end()
	}
	for {
		mark := len(t.out)
		t.out = appendTag(t.out, pbLogAttributes, protowire.BytesType)
		key, vstart, err := t.member(0)
		if err != nil {
			return err
		}
		if t.skip(key[1:len(key)-1], t.in[vstart:t.i]) {
			t.out = t.out[:mark]
		}
		done, err := t.next('}')
		if err != nil {
			return err
		}
		if done {
			return t.end()
		}
	}
}

// end checks that nothing but space follows the top-level object.
func (t *protoTranscoder) end() error {
	t.ws()
	if t.i != len(t.in) {
		return errSyntax
	}
	return nil
}

// next reads the ',' between members or elements, or the closing byte,
// and reports whether it was the closing one.
func (t *protoTranscoder) next(closing byte) (bool, error) {
	t.ws()
	if t.i >= len(t.in) {
		return false, errSyntax
	}
	c := t.in[t.i]
	t.i++
	switch c {
	case closing:
		return true, nil
	case ',':
		return false, nil
	}
	return false, errSyntax
}

// appendString writes the raw JSON string that str has just returned,
// unescaped, as a string field.
func (t *protoTranscoder) appendString(b []byte, field protowire.Number, raw []byte) []byte {
	b = appendTag(b, field, protowire.BytesType)
	if !t.escaped {
		return appendBytes(b, raw[1:len(raw)-1])
	}
	b, start := openLen(b)
	b = appendUnquoted(b, raw)
	return closeLen(b, start)
}

// value transcodes the JSON value at t.i as AnyValue fields.
func (t *protoTranscoder) value(depth int) error {
	if t.i >= len(t.in) || depth > maxDepth {
		return errSyntax
	}
	switch c := t.in[t.i]; {
	case c == '"':
		s, err := t.str()
		if err != nil {
			return err
		}
		t.out = t.appendString(t.out, pbAnyString, s)
	case c == '{':
		return t.kvlist(depth)
	case c == '[':
		return t.array(depth)
	case c == 't':
		return t.literal("true", true)
	case c == 'f':
		return t.literal("false", true)
	case c == 'n':
		return t.literal("null", false)
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number(depth)
	default:
		return errSyntax
	}
	return nil
}

// literal reads true, false or null; a boolean becomes bool_value, null
// an empty AnyValue.
func (t *protoTranscoder) literal(word string, boolean bool) error {
	if !bytes.HasPrefix(t.in[t.i:], []byte(word)) {
		return errSyntax
	}
	t.i += len(word)
	if boolean {
		t.out = appendTag(t.out, pbAnyBool, protowire.VarintType)
		t.out = appendVarint(t.out, protowire.EncodeBool(word == "true"))
	}
	return nil
}

// number writes an int_value if the literal is an integer that fits
// int64, else a double_value, or the digits as a string_value if they
// leave double's range.
func (t *protoTranscoder) number(depth int) error {
	lit, integer := t.numberLit()
	if integer {
		if i, ok := parseInt64(lit); ok {
			t.out = appendProtoInt(t.out, i)
			return nil
		}
	}
	if depth == 0 && t.skips(t.key[1:len(t.key)-1]) {
		// The front end's own time, which object drops: only its syntax
		// matters, and parsing it would cost more than all the rest.
		if _, ok := validNumber(lit); !ok {
			return errSyntax
		}
		return nil
	}
	if f, ok := shortDecimal(lit); ok {
		t.out = appendProtoDouble(t.out, f)
		return nil
	}
	if _, ok := validNumber(lit); !ok {
		return errSyntax
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsInf(f, 0) {
		t.out = appendProtoString(t.out, pbAnyString, string(lit))
		return nil
	}
	t.out = appendProtoDouble(t.out, f)
	return nil
}

func (t *protoTranscoder) kvlist(depth int) error {
	t.i++ // '{'
	t.out = appendTag(t.out, pbAnyKvlist, protowire.BytesType)
	var list int
	t.out, list = openLen(t.out)
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == '}' {
		t.i++
		t.out = closeLen(t.out, list)
		return nil
	}
	for {
		t.out = appendTag(t.out, pbListValues, protowire.BytesType)
		if _, _, err := t.member(depth + 1); err != nil {
			return err
		}
		done, err := t.next('}')
		if err != nil {
			return err
		}
		if done {
			t.out = closeLen(t.out, list)
			return nil
		}
	}
}

// member transcodes `"key": value` at t.i as a length-prefixed KeyValue,
// its value depth deep, and returns the raw key and where the value began.
func (t *protoTranscoder) member(depth int) (key []byte, vstart int, err error) {
	t.ws()
	key, err = t.str()
	if err != nil {
		return nil, 0, err
	}
	t.ws()
	if t.i >= len(t.in) || t.in[t.i] != ':' {
		return nil, 0, errSyntax
	}
	t.i++
	t.ws()
	var kv, v int
	t.out, kv = openLen(t.out)
	t.out = t.appendString(t.out, pbKeyValueKey, key)
	t.out = appendTag(t.out, pbKeyValueValue, protowire.BytesType)
	t.out, v = openLen(t.out)
	vstart = t.i
	if depth == 0 {
		t.key = key
	}
	if err := t.value(depth); err != nil {
		return nil, 0, err
	}
	t.out = closeLen(t.out, v)
	t.out = closeLen(t.out, kv)
	return key, vstart, nil
}

func (t *protoTranscoder) array(depth int) error {
	t.i++ // '['
	t.out = appendTag(t.out, pbAnyArray, protowire.BytesType)
	var list int
	t.out, list = openLen(t.out)
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == ']' {
		t.i++
		t.out = closeLen(t.out, list)
		return nil
	}
	for {
		t.ws()
		t.out = appendTag(t.out, pbListValues, protowire.BytesType)
		var v int
		t.out, v = openLen(t.out)
		if err := t.value(depth + 1); err != nil {
			return err
		}
		t.out = closeLen(t.out, v)
		done, err := t.next(']')
		if err != nil {
			return err
		}
		if done {
			t.out = closeLen(t.out, list)
			return nil
		}
	}
}

// appendUnquoted appends the text of a raw JSON string that str has
// accepted. A \u escape of a lone surrogate becomes U+FFFD, as
// encoding/json has it.
func appendUnquoted(b, raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s)
			s = s[4:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2 = hex4(s[2:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					s = s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default: // '"', '\\', '/'
			b = append(b, c)
		}
	}
	return b
}

// hex4 decodes four hex digits that str has checked.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

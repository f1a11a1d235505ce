package httpsink

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// A record's JSON members as OTLP JSON KeyValues.

var errSyntax = errors.New("httpsink: record is not a JSON object")

// transcoder rewrites one record's JSON object as OTLP KeyValues, in one
// pass. Strings are copied as they are (JSON to JSON); numbers keep their
// type: integers that fit int64 become intValue (a JSON string, as the
// OTLP JSON mapping has it), others doubleValue.
type transcoder struct {
	lexer
	keyFilter
	out []byte
}

// object transcodes the top-level object's members as KeyValues.
func (t *transcoder) object() error {
	t.ws()
	if t.i >= len(t.in) || t.in[t.i] != '{' {
		return errSyntax
	}
	t.i++
	first := true
	for {
		t.ws()
		if t.i < len(t.in) && t.in[t.i] == '}' && first {
			t.i++
			break
		}
		key, err := t.str()
		if err != nil {
			return err
		}
		t.ws()
		if t.i >= len(t.in) || t.in[t.i] != ':' {
			return errSyntax
		}
		t.i++
		t.ws()
		mark := len(t.out)
		sep := len(t.out) > 0 && t.out[len(t.out)-1] == '}'
		if sep {
			t.out = append(t.out, ',')
		}
		t.out = append(t.out, `{"key":`...)
		t.out = append(t.out, key...)
		t.out = append(t.out, `,"value":`...)
		vstart := t.i
		if err := t.value(0); err != nil {
			return err
		}
		t.out = append(t.out, '}')
		if t.skip(key[1:len(key)-1], t.in[vstart:t.i]) {
			t.out = t.out[:mark]
		}
		t.ws()
		if t.i >= len(t.in) {
			return errSyntax
		}
		c := t.in[t.i]
		t.i++
		if c == '}' {
			break
		}
		if c != ',' {
			return errSyntax
		}
		first = false
	}
	t.ws()
	if t.i != len(t.in) {
		return errSyntax
	}
	return nil
}

// value transcodes the JSON value at t.i as an OTLP AnyValue.
func (t *transcoder) value(depth int) error {
	if t.i >= len(t.in) || depth > maxDepth {
		return errSyntax
	}
	switch c := t.in[t.i]; {
	case c == '"':
		s, err := t.str()
		if err != nil {
			return err
		}
		t.out = append(t.out, `{"stringValue":`...)
		t.out = append(t.out, s...)
		t.out = append(t.out, '}')
	case c == '{':
		return t.kvlist(depth)
	case c == '[':
		return t.array(depth)
	case c == 't':
		return t.literal("true", `{"boolValue":true}`)
	case c == 'f':
		return t.literal("false", `{"boolValue":false}`)
	case c == 'n':
		return t.literal("null", `{}`)
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number()
	default:
		return errSyntax
	}
	return nil
}

func (t *transcoder) literal(word, out string) error {
	if !bytes.HasPrefix(t.in[t.i:], []byte(word)) {
		return errSyntax
	}
	t.i += len(word)
	t.out = append(t.out, out...)
	return nil
}

// number writes an intValue if the literal is an integer that fits int64,
// else a doubleValue.
func (t *transcoder) number() error {
	lit, integer := t.numberLit()
	if integer && fitsInt64(lit) {
		t.out = append(t.out, `{"intValue":"`...)
		t.out = append(t.out, lit...)
		t.out = append(t.out, `"}`...)
		return nil
	}
	exp, ok := validNumber(lit)
	if !ok {
		return errSyntax
	}
	// Only an exponent or a very long literal can leave double's range.
	if exp || len(lit) > 300 {
		if f, err := strconv.ParseFloat(string(lit), 64); err != nil || math.IsInf(f, 0) {
			// Out of double's range: keep the digits as text.
			t.out = append(t.out, `{"stringValue":"`...)
			t.out = append(t.out, lit...)
			t.out = append(t.out, `"}`...)
			return nil
		}
	}
	t.out = append(t.out, `{"doubleValue":`...)
	t.out = append(t.out, lit...)
	t.out = append(t.out, '}')
	return nil
}

func (t *transcoder) kvlist(depth int) error {
	t.i++ // '{'
	t.out = append(t.out, `{"kvlistValue":{"values":[`...)
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == '}' {
		t.i++
		t.out = append(t.out, "]}}"...)
		return nil
	}
	for n := 0; ; n++ {
		t.ws()
		key, err := t.str()
		if err != nil {
			return err
		}
		t.ws()
		if t.i >= len(t.in) || t.in[t.i] != ':' {
			return errSyntax
		}
		t.i++
		t.ws()
		if n > 0 {
			t.out = append(t.out, ',')
		}
		t.out = append(t.out, `{"key":`...)
		t.out = append(t.out, key...)
		t.out = append(t.out, `,"value":`...)
		if err := t.value(depth + 1); err != nil {
			return err
		}
		t.out = append(t.out, '}')
		t.ws()
		if t.i >= len(t.in) {
			return errSyntax
		}
		c := t.in[t.i]
		t.i++
		if c == '}' {
			t.out = append(t.out, "]}}"...)
			return nil
		}
		if c != ',' {
			return errSyntax
		}
	}
}

func (t *transcoder) array(depth int) error {
	t.i++ // '['
	t.out = append(t.out, `{"arrayValue":{"values":[`...)
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == ']' {
		t.i++
		t.out = append(t.out, "]}}"...)
		return nil
	}
	for n := 0; ; n++ {
		t.ws()
		if n > 0 {
			t.out = append(t.out, ',')
		}
		if err := t.value(depth + 1); err != nil {
			return err
		}
		t.ws()
		if t.i >= len(t.in) {
			return errSyntax
		}
		c := t.in[t.i]
		t.i++
		if c == ']' {
			t.out = append(t.out, "]}}"...)
			return nil
		}
		if c != ',' {
			return errSyntax
		}
	}
}

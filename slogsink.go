package asynclog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
)

// slogSink delivers records to a slog.Handler.
type slogSink struct {
	h slog.Handler
}

var _ Sink = (*slogSink)(nil)

// SlogSink returns a Sink that hands each record to h, on the queue's
// consumer goroutine, so that a slow handler (one that posts to a chat
// service, say) is safe behind a fast front end:
//
//	q, err := asynclog.NewQueue(asynclog.SlogSink(slackHandler), asynclog.Options{})
//	...
//	logger := slog.New(asynclog.NewHandler(q, nil))
//
// The slog.Record h sees has the record's original time, level and message.
// Its attributes are rebuilt from Encoded, a JSON object, in order:
// strings, booleans, integers that fit int64 (as int64), other numbers (as
// float64), null (a nil Any), objects (as groups) and arrays (as []any,
// whose objects become map[string]any). The front end's own time, level and
// message keys are left out: the first top-level "time" or "ts", "level",
// and "msg" or "message". What JSON cannot tell apart comes back changed:
// a duration or a time arrives as the number or string it was encoded as,
// an unsigned integer above the int64 range as a float64, a number beyond
// float64's range as a string of its digits, an empty object
// not at all (slog elides empty groups), a source as a group. A record that
// is not one JSON object (a console encoder's, or text through [NewWriter])
// reaches h with its whole text as the message and no attributes.
//
// Records below h.Enabled's level are skipped. Write stops at the first
// record h fails or panics on and returns h's error (or the panic, as an
// error), wrapped and marked with [Delivered] for the records before it, so the queue retries from the
// failing record and nothing h took is written twice. Write honours ctx
// between records and passes it to h.Handle. SlogSink panics if h is nil.
func SlogSink(h slog.Handler) Sink {
	if h == nil {
		panic("asynclog: SlogSink called with a nil slog.Handler")
	}
	return &slogSink{h: h}
}

func (s *slogSink) Write(ctx context.Context, batch []Record) error {
	for i := range batch {
		if err := ctx.Err(); err != nil {
			return Delivered(fmt.Errorf("asynclog: slog sink: %w", err), i)
		}
		rec := &batch[i]
		if !s.h.Enabled(ctx, rec.Level) {
			continue
		}
		msg, attrs := decodeRecord(rec)
		r := slog.NewRecord(rec.Time, rec.Level, msg, 0)
		r.AddAttrs(attrs...)
		if err := s.handle(ctx, r); err != nil {
			return Delivered(fmt.Errorf("asynclog: slog sink: record %d of %d: %w", i+1, len(batch), err), i)
		}
	}
	return nil
}

// handle calls h.Handle, turning a panic into an error at this record, so
// that the records before it count as delivered and are not handed over
// again.
func (s *slogSink) handle(ctx context.Context, r slog.Record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("asynclog: sink panicked: %v", v)
		}
	}()
	return s.h.Handle(ctx, r)
}

// decodeRecord returns a record's message and attributes as the sink
// adapters deliver them: see [SlogSink].
func decodeRecord(rec *Record) (string, []slog.Attr) {
	attrs, ok := parseRecordJSON(rec.Encoded)
	if !ok {
		return string(rec.Encoded), nil
	}
	return rec.Message, attrs
}

// maxJSONDepth bounds the nesting the adapters parse; a deeper record is
// delivered as text.
const maxJSONDepth = 512

// jsonParser reads one JSON text into slog values. It is strict about
// structure and lenient about nothing else: any error makes the whole
// record text.
type jsonParser struct {
	b     []byte
	i     int
	depth int
}

// parseRecordJSON parses b, one JSON object, into its attributes, leaving
// out the first top-level "time" or "ts", "level", and "msg" or "message".
func parseRecordJSON(b []byte) ([]slog.Attr, bool) {
	p := jsonParser{b: b}
	var seenTime, seenLevel, seenMsg bool
	var attrs []slog.Attr
	ok := p.members(func(key string, v slog.Value) {
		switch key {
		case slog.TimeKey, "ts":
			if !seenTime {
				seenTime = true
				return
			}
		case slog.LevelKey:
			if !seenLevel {
				seenLevel = true
				return
			}
		case slog.MessageKey, "message":
			if !seenMsg {
				seenMsg = true
				return
			}
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: v})
	})
	if !ok {
		return nil, false
	}
	p.space()
	return attrs, p.i == len(p.b)
}

func (p *jsonParser) space() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

// consume skips space and then c, and reports whether c was there.
func (p *jsonParser) consume(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// members reads an object, calling f for each member in order.
func (p *jsonParser) members(f func(key string, v slog.Value)) bool {
	if !p.consume('{') {
		return false
	}
	if p.depth++; p.depth > maxJSONDepth {
		return false
	}
	defer func() { p.depth-- }()
	if p.consume('}') {
		return true
	}
	for {
		p.space()
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return false
		}
		v, ok := p.value()
		if !ok {
			return false
		}
		f(key, v)
		if p.consume(',') {
			continue
		}
		return p.consume('}')
	}
}

// str reads a string at p.i.
func (p *jsonParser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	end := skipString(p.b, p.i)
	if end < 0 {
		return "", false
	}
	raw := p.b[p.i:end]
	p.i = end
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// value reads any value as a slog.Value: objects become groups.
func (p *jsonParser) value() (slog.Value, bool) {
	p.space()
	if p.i >= len(p.b) {
		return slog.Value{}, false
	}
	switch p.b[p.i] {
	case '{':
		var as []slog.Attr
		ok := p.members(func(key string, v slog.Value) { as = append(as, slog.Attr{Key: key, Value: v}) })
		return slog.GroupValue(as...), ok
	case '[':
		a, ok := p.array()
		return slog.AnyValue(a), ok
	}
	v, ok := p.scalar()
	if !ok {
		return slog.Value{}, false
	}
	return slog.AnyValue(v), true
}

// anyValue reads a value inside an array: objects become map[string]any.
func (p *jsonParser) anyValue() (any, bool) {
	p.space()
	if p.i >= len(p.b) {
		return nil, false
	}
	switch p.b[p.i] {
	case '{':
		m := map[string]any{}
		ok := p.members(func(key string, v slog.Value) { m[key] = plainValue(v) })
		return m, ok
	case '[':
		return p.array()
	}
	return p.scalar()
}

// plainValue turns a parsed slog.Value back into the plain Go value JSON
// gives it, for use inside arrays.
func plainValue(v slog.Value) any {
	if v.Kind() != slog.KindGroup {
		return v.Any()
	}
	m := make(map[string]any, len(v.Group()))
	for _, a := range v.Group() {
		m[a.Key] = plainValue(a.Value)
	}
	return m
}

func (p *jsonParser) array() ([]any, bool) {
	if !p.consume('[') {
		return nil, false
	}
	if p.depth++; p.depth > maxJSONDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	a := []any{}
	if p.consume(']') {
		return a, true
	}
	for {
		v, ok := p.anyValue()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if p.consume(',') {
			continue
		}
		return a, p.consume(']')
	}
}

// scalar reads a string, number, boolean or null: string, int64 (integers
// that fit), float64 (other numbers), bool, or nil.
func (p *jsonParser) scalar() (any, bool) {
	if p.b[p.i] == '"' {
		return p.str()
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == ',' || c == '}' || c == ']' || isSpace(c) {
			break
		}
		p.i++
	}
	tok := string(p.b[start:p.i])
	switch tok {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	case "":
		return nil, false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return nil, false // not a JSON number: "Inf", "0x10"
		}
	}
	if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
		if n == 0 && tok[0] == '-' {
			return math.Copysign(0, -1), true // -0 keeps its sign, as a float64
		}
		return n, true
	}
	f, err := strconv.ParseFloat(tok, 64)
	if errors.Is(err, strconv.ErrRange) {
		return tok, true // beyond float64: its text, rather than an infinity
	}
	if err != nil {
		return nil, false
	}
	return f, true
}

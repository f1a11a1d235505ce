package asynclog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"

	"github.com/asynclog/asynclog/internal/jsonscan"
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

// jsonParser reads one JSON text into slog values, with the scanner the
// io.Writer front end uses. It is strict about structure and lenient about
// nothing else: any error makes the whole record text.
type jsonParser struct {
	s     jsonscan.Scanner
	depth int
}

// parseRecordJSON parses b, one JSON object, into its attributes, leaving
// out the first top-level "time" or "ts", "level", and "msg" or "message".
func parseRecordJSON(b []byte) ([]slog.Attr, bool) {
	p := jsonParser{s: jsonscan.Scanner{B: b}}
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
	if !ok || !p.s.AtEnd() {
		return nil, false
	}
	return attrs, true
}

// enter enters an object or array, within maxJSONDepth.
func (p *jsonParser) enter(open byte) bool {
	if !p.s.Enter(open) {
		return false
	}
	p.depth++
	return p.depth <= maxJSONDepth
}

// members reads an object, calling f for each member in order.
func (p *jsonParser) members(f func(key string, v slog.Value)) bool {
	if !p.enter('{') {
		return false
	}
	defer func() { p.depth-- }()
	for {
		raw, more, ok := p.s.Member()
		if !more || !ok {
			return ok
		}
		key, ok := decodeString(raw)
		if !ok {
			return false
		}
		v, ok := p.value()
		if !ok {
			return false
		}
		f(key, v)
	}
}

// decodeString decodes a string as the scanner returns it, quotes
// included.
func decodeString(raw []byte) (string, bool) {
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	return jsonscan.Unquote(raw)
}

// value reads any value as a slog.Value: objects become groups.
func (p *jsonParser) value() (slog.Value, bool) {
	switch p.s.Peek() {
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
	switch p.s.Peek() {
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
	if !p.enter('[') {
		return nil, false
	}
	defer func() { p.depth-- }()
	a := []any{}
	for {
		more, ok := p.s.Element()
		if !more || !ok {
			if !ok {
				return nil, false
			}
			return a, true
		}
		v, ok := p.anyValue()
		if !ok {
			return nil, false
		}
		a = append(a, v)
	}
}

// scalar reads a string, number, boolean or null: string, int64 (integers
// that fit), float64 (other numbers, and -0), the digits of a number beyond
// float64 as a string, bool, or nil.
func (p *jsonParser) scalar() (any, bool) {
	if p.s.Peek() == '"' {
		raw, ok := p.s.String()
		if !ok {
			return nil, false
		}
		return decodeString(raw)
	}
	tok, ok := p.s.Bare()
	if !ok {
		return nil, false
	}
	if v, ok := jsonscan.Literal(tok); ok {
		return v, true
	}
	return jsonscan.Number(tok)
}

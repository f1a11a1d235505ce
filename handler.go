package asynclog

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// log hands an encoded record to the queue. Synchronous records (sync, or
// at SyncLevel and above) wait for room whatever OnFull says, and the call
// returns only once they and everything before them are delivered (bounded
// by CloseTimeout); it returns an error if that did not happen.
//
// rec.Encoded stays the caller's: the queue copies it.
func (q *queue) log(rec Record, sync bool) error {
	if !sync && rec.Level < q.opts.SyncLevel.Level() {
		q.enqueue(rec, false)
		return nil
	}
	if !q.enqueue(rec, true) {
		return fmt.Errorf("asynclog: synchronous record %q: %w", rec.Message, ErrDropped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.opts.CloseTimeout)
	defer cancel()
	return q.flush(ctx, true)
}

// zapLevel maps a zap level onto the slog scale: Debug -4, Info 0, Warn 4,
// Error 8, DPanic 12, Panic 16, Fatal 20.
func zapLevel(l zapcore.Level) slog.Level { return slog.Level(4 * int(l)) }

// trimLineEnding drops the encoder's line ending from an encoded record.
func trimLineEnding(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// core is the zap front end: a zapcore.Core that encodes each entry on the
// caller's goroutine with its own Encoder and hands it to a Queue.
type core struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	q   *Queue
}

var _ zapcore.Core = (*core)(nil)

// NewCore returns a zapcore.Core that encodes entries with enc, on the
// caller's goroutine, and hands them to q. Fields given to With are encoded
// once, as zapcore.NewCore does. Entries above Error (DPanic, Panic, Fatal)
// are written synchronously whatever Options.SyncLevel says: Write returns once they and everything queued
// before them are delivered, bounded by Options.CloseTimeout, so
// logger.Fatal loses nothing. Sync is Flush bounded by CloseTimeout.
//
// NewCore panics if q or enc is nil: a mistake at construction, never on
// a log call.
func NewCore(enc zapcore.Encoder, enab zapcore.LevelEnabler, q *Queue) zapcore.Core {
	if q == nil {
		panic("asynclog: NewCore called with a nil *Queue")
	}
	if enc == nil {
		panic("asynclog: NewCore called with a nil zapcore.Encoder")
	}
	if enab == nil {
		panic("asynclog: NewCore called with a nil zapcore.LevelEnabler")
	}
	return &core{LevelEnabler: enab, enc: enc, q: q}
}

// Level reports the minimum enabled level, for zapcore.LevelOf.
func (c *core) Level() zapcore.Level { return zapcore.LevelOf(c.LevelEnabler) }

func (c *core) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for i := range fields {
		fields[i].AddTo(enc)
	}
	return &core{LevelEnabler: c.LevelEnabler, enc: enc, q: c.q}
}

func (c *core) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *core) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(ent, fields)
	if err != nil {
		return fmt.Errorf("asynclog: encode entry: %w", err)
	}
	rec := Record{Time: ent.Time, Level: zapLevel(ent.Level), Message: ent.Message, Encoded: trimLineEnding(buf.Bytes())}
	err = c.q.q.log(rec, ent.Level > zapcore.ErrorLevel)
	buf.Free()
	return err
}

func (c *core) Sync() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.q.q.opts.CloseTimeout)
	defer cancel()
	return c.q.q.flush(ctx, false)
}

// encBuf is a pooled buffer holding one slog record's encoding.
type encBuf struct{ b []byte }

const maxPooledBuf = 64 << 10

var encBufPool = sync.Pool{New: func() any { return &encBuf{b: make([]byte, 0, 1024)} }}

func (e *encBuf) free() {
	if cap(e.b) > maxPooledBuf {
		return
	}
	e.b = e.b[:0]
	encBufPool.Put(e)
}

// handler is the slog front end. It writes JSON in the shape
// slog.JSONHandler writes, into a pooled buffer, on the caller's goroutine.
type handler struct {
	q     *Queue
	opts  slog.HandlerOptions
	pre   []byte   // attributes from WithAttrs, encoded, inside nOpen groups
	group []string // every group from WithGroup
	nOpen int      // how many of them pre has opened
}

var _ slog.Handler = (*handler)(nil)

// NewHandler returns a slog.Handler that writes each record as one JSON
// object, in the shape slog.JSONHandler writes (time, level, msg, source,
// nested groups; ReplaceAttr and AddSource honoured), on the caller's
// goroutine, and hands it to q. opts may be nil. Records at
// Options.SyncLevel and above are written synchronously.
//
// NewHandler panics if q is nil: a mistake at construction, never on a
// log call.
func NewHandler(q *Queue, opts *slog.HandlerOptions) slog.Handler {
	if q == nil {
		panic("asynclog: NewHandler called with a nil *Queue")
	}
	h := &handler{q: q}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	min := slog.LevelInfo
	if h.opts.Level != nil {
		min = h.opts.Level.Level()
	}
	return l >= min
}

func (h *handler) clone() *handler {
	c := *h
	c.pre = c.pre[:len(c.pre):len(c.pre)]
	c.group = c.group[:len(c.group):len(c.group)]
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.group = append(c.group, name)
	return c
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	c := h.clone()
	s := encoder{h: c, b: c.pre, sep: len(c.pre) > 0 && c.pre[len(c.pre)-1] != '{'}
	if c.opts.ReplaceAttr != nil {
		s.groups = append([]string(nil), c.group[:c.nOpen]...)
	}
	pos, sep := len(s.b), s.sep
	s.openGroups()
	if !s.appendAttrs(as) {
		s.b, s.sep = s.b[:pos], sep
		if len(s.b) == len(h.pre) {
			return h
		}
	} else {
		c.nOpen = len(c.group)
	}
	c.pre = s.b
	return c
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	eb := encBufPool.Get().(*encBuf)
	s := encoder{h: h, b: eb.b}
	rep := h.opts.ReplaceAttr
	if rep != nil {
		gp := groupsPool.Get().(*[]string)
		defer func() { *gp = (*gp)[:0]; groupsPool.Put(gp) }()
		s.groups = (*gp)[:0]
	}
	s.b = append(s.b, '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		if rep == nil {
			s.appendKey(slog.TimeKey)
			s.appendTime(t)
		} else {
			s.appendAttr(slog.Time(slog.TimeKey, t))
		}
	}
	if rep == nil {
		s.appendKey(slog.LevelKey)
		s.b = appendJSONString(s.b, r.Level.String())
	} else {
		s.appendAttr(slog.Any(slog.LevelKey, r.Level))
	}
	if h.opts.AddSource {
		src := r.Source()
		if src == nil {
			src = &slog.Source{}
		}
		s.appendAttr(slog.Any(slog.SourceKey, src))
	}
	if rep == nil {
		s.appendKey(slog.MessageKey)
		s.b = appendJSONString(s.b, r.Message)
	} else {
		s.appendAttr(slog.String(slog.MessageKey, r.Message))
	}
	if len(h.pre) > 0 {
		if s.sep {
			s.b = append(s.b, ',')
		}
		s.b = append(s.b, h.pre...)
		s.sep = h.pre[len(h.pre)-1] != '{'
	}
	if rep != nil {
		s.groups = append(s.groups, h.group[:h.nOpen]...)
	}
	open := h.nOpen
	if r.NumAttrs() > 0 {
		pos, sep, ng := len(s.b), s.sep, len(s.groups)
		s.openGroups()
		open = len(h.group)
		any := false
		r.Attrs(func(a slog.Attr) bool {
			if s.appendAttr(a) {
				any = true
			}
			return true
		})
		if !any {
			s.b, s.sep, open = s.b[:pos], sep, h.nOpen
			s.groups = s.groups[:ng]
		}
	}
	for range open {
		s.b = append(s.b, '}')
	}
	s.b = append(s.b, '}')
	eb.b = s.b
	err := h.q.q.log(Record{Time: r.Time, Level: r.Level, Message: r.Message, Encoded: eb.b}, false)
	eb.free()
	return err
}

var groupsPool = sync.Pool{New: func() any { s := make([]string, 0, 8); return &s }}

// encoder is the state of one encoding: the buffer, whether a comma is due,
// and (only with ReplaceAttr) the open groups' names.
type encoder struct {
	h      *handler
	b      []byte
	sep    bool
	groups []string
}

func (s *encoder) appendKey(k string) {
	if s.sep {
		s.b = append(s.b, ',')
	}
	s.b = appendJSONString(s.b, k)
	s.b = append(s.b, ':')
	s.sep = true
}

func (s *encoder) openGroups() {
	for _, g := range s.h.group[s.h.nOpen:] {
		s.openGroup(g)
	}
}

func (s *encoder) openGroup(name string) {
	s.appendKey(name)
	s.b = append(s.b, '{')
	s.sep = false
	if s.h.opts.ReplaceAttr != nil {
		s.groups = append(s.groups, name)
	}
}

func (s *encoder) closeGroup() {
	s.b = append(s.b, '}')
	s.sep = true
	if s.h.opts.ReplaceAttr != nil {
		s.groups = s.groups[:len(s.groups)-1]
	}
}

func (s *encoder) appendAttrs(as []slog.Attr) bool {
	any := false
	for _, a := range as {
		if s.appendAttr(a) {
			any = true
		}
	}
	return any
}

// appendAttr writes one attribute, after ReplaceAttr, and reports whether
// it wrote anything: empty attributes and empty groups are elided.
func (s *encoder) appendAttr(a slog.Attr) bool {
	a.Value = a.Value.Resolve()
	if rep := s.h.opts.ReplaceAttr; rep != nil && a.Value.Kind() != slog.KindGroup {
		a = rep(s.groups, a)
		a.Value = a.Value.Resolve()
	}
	if a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil {
		return false
	}
	if a.Value.Kind() == slog.KindAny {
		if src, ok := a.Value.Any().(*slog.Source); ok {
			if src == nil || *src == (slog.Source{}) {
				return false
			}
			a.Value = sourceGroup(src)
		}
	}
	if a.Value.Kind() != slog.KindGroup {
		s.appendKey(a.Key)
		s.appendValue(a.Value)
		return true
	}
	attrs := a.Value.Group()
	if len(attrs) == 0 {
		return false
	}
	pos, sep := len(s.b), s.sep
	if a.Key != "" {
		s.openGroup(a.Key)
	}
	if !s.appendAttrs(attrs) {
		s.b, s.sep = s.b[:pos], sep
		if a.Key != "" && s.h.opts.ReplaceAttr != nil {
			s.groups = s.groups[:len(s.groups)-1]
		}
		return false
	}
	if a.Key != "" {
		s.closeGroup()
	}
	return true
}

func sourceGroup(src *slog.Source) slog.Value {
	as := make([]slog.Attr, 0, 3)
	if src.Function != "" {
		as = append(as, slog.String("function", src.Function))
	}
	if src.File != "" {
		as = append(as, slog.String("file", src.File))
	}
	if src.Line != 0 {
		as = append(as, slog.Int("line", src.Line))
	}
	return slog.GroupValue(as...)
}

func (s *encoder) appendTime(t time.Time) {
	if y := t.Year(); y < 0 || y >= 10000 {
		s.appendError(fmt.Errorf("time.Time year outside of range [0,9999]"))
		return
	}
	s.b = append(s.b, '"')
	s.b = t.AppendFormat(s.b, time.RFC3339Nano)
	s.b = append(s.b, '"')
}

func (s *encoder) appendError(err error) {
	s.b = appendJSONString(s.b, "!ERROR:"+err.Error())
}

func (s *encoder) appendValue(v slog.Value) {
	switch v.Kind() {
	case slog.KindString:
		s.b = appendJSONString(s.b, v.String())
	case slog.KindInt64:
		s.b = strconv.AppendInt(s.b, v.Int64(), 10)
	case slog.KindUint64:
		s.b = strconv.AppendUint(s.b, v.Uint64(), 10)
	case slog.KindFloat64:
		s.appendFloat(v.Float64())
	case slog.KindBool:
		s.b = strconv.AppendBool(s.b, v.Bool())
	case slog.KindDuration:
		s.b = strconv.AppendInt(s.b, int64(v.Duration()), 10)
	case slog.KindTime:
		s.appendTime(v.Time())
	default:
		s.appendAny(v.Any())
	}
}

// appendFloat writes f as encoding/json does; NaN and infinities, which
// JSON cannot hold, become an error string as in slog.JSONHandler.
func (s *encoder) appendFloat(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		s.appendError(fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64)))
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(s.b)
	s.b = strconv.AppendFloat(s.b, f, format, -1, 64)
	if format == 'e' {
		// Like encoding/json: e-09 becomes e-9.
		if m := len(s.b) - n; m >= 4 && s.b[len(s.b)-4] == 'e' && s.b[len(s.b)-3] == '-' && s.b[len(s.b)-2] == '0' {
			s.b[len(s.b)-2] = s.b[len(s.b)-1]
			s.b = s.b[:len(s.b)-1]
		}
	}
}

func (s *encoder) appendAny(a any) {
	defer func() {
		if r := recover(); r != nil {
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.Pointer && rv.IsNil() {
				s.b = appendJSONString(s.b, "<nil>")
				return
			}
			s.b = appendJSONString(s.b, fmt.Sprintf("!PANIC: %v", r))
		}
	}()
	if err, ok := a.(error); ok {
		if _, m := a.(interface{ MarshalJSON() ([]byte, error) }); !m {
			s.b = appendJSONString(s.b, err.Error())
			return
		}
	}
	n := len(s.b)
	b, err := appendJSONMarshal(s.b, a)
	if err != nil {
		s.b = s.b[:n]
		s.appendError(err)
		return
	}
	s.b = b
}

// logRaw is log for a record whose Message is still inside Encoded (the
// io.Writer front end): the message is found by writerMessage. The
// in-memory core will do that on the consumer, off the log call.
func (q *queue) logRaw(rec Record, sync bool) error {
	rec.Message = writerMessage(rec.Encoded)
	return q.log(rec, sync)
}

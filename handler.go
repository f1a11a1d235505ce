package asynclog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// log hands an encoded record to the queue. Synchronous records (sync, or
// at SyncLevel and above) wait for room whatever OnFull says, and the call
// returns only once they and everything before them are settled (bounded
// by CloseTimeout); it returns an error if they were not all delivered.
//
// rec.Encoded stays the caller's: the queue copies it.
func (q *queue) log(rec Record, sync bool) error {
	return q.logEnc(rec, false, sync)
}

// logRaw is log for a record whose Message is still inside Encoded (the
// io.Writer front end): the consumer finds it, with writerMessage, off the
// log call.
func (q *queue) logRaw(rec Record, sync bool) error {
	return q.logEnc(rec, true, sync)
}

func (q *queue) logEnc(rec Record, raw, sync bool) error {
	at := q.syncLevel
	if q.syncDyn != nil {
		at = q.syncDyn.Level()
	}
	if !sync && rec.Level < at {
		q.enqueue(rec, raw, false)
		return nil
	}
	// One deadline bounds the whole call: the wait for room (at most
	// CloseTimeout for a synchronous record) and the barrier after it.
	deadline := time.Now().Add(q.opts.CloseTimeout)
	if !q.enqueue(rec, raw, true) {
		if q.closing() {
			return fmt.Errorf("asynclog: synchronous record %q: %w", rec.Message, ErrClosed)
		}
		return fmt.Errorf("asynclog: synchronous record %q: %w", rec.Message, ErrDropped)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return q.flush(ctx, true)
}

// closing reports whether Shutdown has begun.
func (q *queue) closing() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stopping
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
// are written synchronously whatever Options.SyncLevel says: Write returns
// once they and everything queued before them are settled, bounded by
// Options.CloseTimeout from the call's start, and says so with an error if
// they were not all delivered (wrapping [ErrClosed] after Shutdown began).
// A Fatal entry also flushes every queue whose Options.ExitHook is set,
// each bounded by its CloseTimeout from the same start, before zap exits
// the process, so that Write returns within the longest of those
// CloseTimeouts (one CloseTimeout when every queue has the same):
// with a live sink logger.Fatal loses nothing; with a dead one, what was
// lost is counted on stderr. Sync is Flush bounded by CloseTimeout.
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
	shape := enc.Clone()
	q.q.zapEnc.CompareAndSwap(nil, &shape) // the drop notice takes this core's shape
	return &core{LevelEnabler: enab, enc: enc, q: q}
}

// zapNotice encodes the drop notice with a zap Core's encoder, so that a
// zap pipeline's parser sees its own keys and level names.
func zapNotice(enc zapcore.Encoder, now time.Time, msg string, d droppedTally, names [4]string) ([]byte, bool) {
	byLevel := zapcore.ObjectMarshalerFunc(func(oe zapcore.ObjectEncoder) error {
		for i, c := range d.byLevel {
			if c > 0 {
				oe.AddUint64(names[i], c)
			}
		}
		return nil
	})
	buf, err := enc.Clone().EncodeEntry(zapcore.Entry{Level: zapcore.WarnLevel, Time: now, Message: msg}, []zapcore.Field{
		{Key: "dropped", Type: zapcore.Uint64Type, Integer: int64(d.total)},
		{Key: "dropped_by_level", Type: zapcore.ObjectMarshalerType, Interface: byLevel},
		{Key: "since", Type: zapcore.TimeFullType, Interface: d.since},
	})
	if err != nil {
		return nil, false
	}
	b := append([]byte(nil), trimLineEnding(buf.Bytes())...)
	buf.Free()
	return b, true
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
	start := time.Now() // a Fatal's hooked flushes are bounded from here
	buf, err := c.enc.EncodeEntry(ent, fields)
	if err != nil {
		return fmt.Errorf("asynclog: encode entry: %w", err)
	}
	rec := Record{Time: ent.Time, Level: zapLevel(ent.Level), Message: ent.Message, Encoded: trimLineEnding(buf.Bytes())}
	err = c.q.q.log(rec, ent.Level > zapcore.ErrorLevel)
	buf.Free()
	if ent.Level == zapcore.FatalLevel {
		// zap exits the process once the cores have written: every hooked
		// queue drains first, as on SIGTERM.
		flushRegistered(start)
	}
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

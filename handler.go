package asynclog

import (
	"context"
	"log/slog"
	"sync"
)

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
	if h.opts.ReplaceAttr != nil {
		gp := groupsPool.Get().(*[]string)
		defer func() { *gp = (*gp)[:0]; groupsPool.Put(gp) }()
		s.groups = (*gp)[:0]
	}
	s.b = append(s.b, '{')
	s.appendBuiltins(r)
	open := s.appendAttrsOf(r)
	for range open {
		s.b = append(s.b, '}')
	}
	s.b = append(s.b, '}')
	eb.b = s.b
	var rec Record // field by field, in place: see core.Write
	rec.Time = r.Time
	rec.Level = r.Level
	rec.Message = r.Message
	rec.Encoded = eb.b
	err := h.q.q.log(&rec, false)
	eb.free()
	return err
}

// appendBuiltins appends the record's time, level, source (with
// AddSource) and message, through ReplaceAttr if there is one.
func (s *encoder) appendBuiltins(r slog.Record) {
	rep := s.h.opts.ReplaceAttr
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
	if s.h.opts.AddSource {
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
}

// appendAttrsOf appends the attributes from WithAttrs, then the record's,
// inside the groups from WithGroup (opened only if an attribute is
// written), and returns how many groups are left open.
func (s *encoder) appendAttrsOf(r slog.Record) (open int) {
	h := s.h
	if len(h.pre) > 0 {
		if s.sep {
			s.b = append(s.b, ',')
		}
		s.b = append(s.b, h.pre...)
		s.sep = h.pre[len(h.pre)-1] != '{'
	}
	if h.opts.ReplaceAttr != nil {
		s.groups = append(s.groups, h.group[:h.nOpen]...)
	}
	open = h.nOpen
	if r.NumAttrs() == 0 {
		return open
	}
	pos, sep, ng := len(s.b), s.sep, len(s.groups)
	s.openGroups()
	any := false
	r.Attrs(func(a slog.Attr) bool {
		if s.appendAttr(a) {
			any = true
		}
		return true
	})
	if !any {
		s.b, s.sep = s.b[:pos], sep
		s.groups = s.groups[:ng]
		return h.nOpen
	}
	return len(h.group)
}

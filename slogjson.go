package asynclog

import (
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"
)

// The slog front end's JSON encoder: it writes what slog.JSONHandler
// writes, byte for byte, into the handler's pooled buffer. It is our own
// rather than a JSONHandler writing into a buffer because a JSONHandler
// takes a lock and an io.Writer call per record, and cannot hand us the
// bytes without a copy through that writer.

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

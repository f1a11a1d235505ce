package asynclog

import (
	"bytes"
	"io"
	"log/slog"
	"strconv"
	"unsafe"

	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog/internal/jsonscan"
)

// writer is the io.Writer front end: one record per Write.
type writer struct {
	q *Queue
}

var _ io.Writer = (*writer)(nil)

// NewWriter returns an io.Writer that hands each Write to q as one record:
// the front end for loggers that format a whole record and write it in one
// call (zerolog, logrus, the standard log package, slog.NewTextHandler and
// any slog handler that writes to an io.Writer).
//
//	logger := zerolog.New(asynclog.NewWriter(q)).With().Timestamp().Logger()
//	log.SetOutput(asynclog.NewWriter(q)) // the standard log package
//
// Write copies p (the caller may reuse it once Write returns), trims one
// line ending (\n or \r\n), and stamps the record with the time of the
// call (the wall clock read at most 100 ms earlier, carried forward by the
// monotonic clock: a step of the wall clock shows within 100 ms). A Write of nothing but a line ending is not a record and is
// skipped. The record's level is read from the bytes, without allocating:
// the first top-level "level" key of a JSON object, or the first level=
// field of logfmt text, in any of the spellings of zerolog, logrus, zap and
// slog (trace, debug, info, warn, warning, error, dpanic, panic, fatal, in
// any case, with slog's offsets such as ERROR+2); Info when there is none.
// So Options.KeepLevel, Options.SyncLevel and the drop counts by level work:
// a zerolog Fatal or Panic is written synchronously and Write returns once
// it and everything before it is delivered (bounded by
// Options.CloseTimeout). The record's Message is the "msg" or "message"
// value of a JSON object, or the msg= field of logfmt text, and "" when
// there is none; it is found off the log call, on the consumer goroutine.
//
// Write always returns len(p), nil: it never fails because of the sink,
// not even for a synchronous record whose delivery failed (that failure
// reaches Options.OnError and the next Flush). Write is safe for concurrent
// use, as the Queue is.
//
// NewWriter panics if q is nil: a mistake at construction, never on a
// log call.
func NewWriter(q *Queue) io.Writer {
	if q == nil {
		panic("asynclog: NewWriter called with a nil *Queue")
	}
	return &writer{q: q}
}

func (w *writer) Write(p []byte) (int, error) {
	b := trimLineEnding(p)
	if len(b) == 0 {
		return len(p), nil
	}
	rec := Record{Time: wallNow(), Level: writerLevel(b), Encoded: b}
	_ = w.q.q.logRaw(rec, false) // see the contract: a sink's failure is not the caller's
	return len(p), nil
}

// writerLevel returns the level written in an encoded record, or Info.
func writerLevel(b []byte) slog.Level {
	if n := len(levelFirstPrefix); len(b) > n && string(b[:n]) == levelFirstPrefix {
		// The fast path: the level's name runs to the next quote. A name
		// holding an escaped quote is cut short at it, which is no loss:
		// no level name holds a backslash, so neither the cut nor the
		// whole would parse.
		if end := bytes.IndexByte(b[n:], '"'); end >= 0 {
			return levelOrInfo(b[n : n+end])
		}
	}
	v, _, ok := findField(b, "level", "")
	if !ok {
		return slog.LevelInfo
	}
	return levelOrInfo(v)
}

// levelOrInfo is parseLevel, or Info for what it does not read.
func levelOrInfo(v []byte) slog.Level {
	if l, ok := parseLevel(v); ok {
		return l
	}
	return slog.LevelInfo
}

// levelFirstPrefix is how zerolog, zap and logrus (whose keys are sorted)
// begin a JSON record: the level first, a string.
const levelFirstPrefix = `{"level":"`

// writerMessage returns the message of a record written through the
// io.Writer front end: the first top-level "msg" or "message" value of a
// JSON object, unescaped, or the first msg= field of logfmt text, unquoted;
// "" if there is none.
func writerMessage(b []byte) string {
	if span, plain := writerMessageSpan(b); plain {
		return string(span)
	}
	v, quoted, ok := findField(b, "msg", "message")
	if !ok {
		return ""
	}
	if !quoted {
		return string(v)
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) // nothing to unescape, in JSON or Go quoting
	}
	if jsonscan.FirstNonSpace(b) == '{' {
		if s, ok := jsonscan.Unquote(v); ok {
			return s
		}
		return string(inner)
	}
	s, err := strconv.Unquote(string(v))
	if err != nil {
		return string(inner)
	}
	return s
}

// findField finds the first top-level field named k1 or k2 (k2 may be "")
// in b, a JSON object or logfmt text, and returns its value's bytes. quoted
// says the value is a string, returned with its quotes and escapes as
// written (JSON or Go quoting). A JSON key written with escapes never
// matches: no encoder escapes "level" or "msg". It does not allocate.
func findField(b []byte, k1, k2 string) (v []byte, quoted, ok bool) {
	if jsonscan.FirstNonSpace(b) != '{' {
		return findLogfmtField(b, k1, k2)
	}
	v, ok = jsonscan.FindMember(b, k1, k2)
	return v, ok && v[0] == '"', ok
}

// findLogfmtField walks the key=value fields of logfmt text (what
// slog.TextHandler and logrus's TextFormatter write). A value in double
// quotes may hold spaces and escaped quotes. Words that are not key=value
// (a timestamp prefix, say) are passed over.
func findLogfmtField(b []byte, k1, k2 string) (v []byte, quoted, ok bool) {
	// Most lines have the key before any double quote (time=… level=INFO
	// msg="…"): there a plain search finds it, and the walk is only for
	// the rest.
	head := b
	if q := bytes.IndexByte(b, '"'); q >= 0 {
		head = b[:q]
	}
	j := logfmtKeyAt(head, k1)
	if k2 != "" {
		if j2 := logfmtKeyAt(head, k2); j2 >= 0 && (j < 0 || j2 < j) {
			j, k1 = j2, k2
		}
	}
	if j >= 0 {
		return logfmtValue(b, j+len(k1)+1)
	}
	if len(head) == len(b) {
		return nil, false, false // no quote, no key
	}
	return walkLogfmt(b, k1, k2)
}

// logfmtKeyAt returns the index of the first word of b that is k followed
// by '=', or -1. b holds no double quote, so no word is inside a value.
func logfmtKeyAt(b []byte, k string) int {
	for off := 0; off < len(b); {
		j := bytes.Index(b[off:], unsafe.Slice(unsafe.StringData(k), len(k)))
		if j < 0 {
			return -1
		}
		j += off
		if end := j + len(k); end < len(b) && b[end] == '=' && (j == 0 || jsonscan.IsSpace(b[j-1])) {
			return j
		}
		off = j + 1
	}
	return -1
}

// logfmtValue returns the value that starts at b[i].
func logfmtValue(b []byte, i int) (v []byte, quoted, ok bool) {
	vstart := i
	if i < len(b) && b[i] == '"' {
		end := jsonscan.SkipString(b, i)
		if end < 0 {
			return nil, false, false
		}
		return b[vstart:end], true, true
	}
	for i < len(b) && !jsonscan.IsSpace(b[i]) {
		i++
	}
	return b[vstart:i], false, true
}

// walkLogfmt is findLogfmtField's walk over every word.
func walkLogfmt(b []byte, k1, k2 string) (v []byte, quoted, ok bool) {
	i := 0
	for i < len(b) {
		i = jsonscan.SkipSpace(b, i)
		start := i
		for i < len(b) && b[i] != '=' && !jsonscan.IsSpace(b[i]) && b[i] != '"' {
			i++
		}
		key := b[start:i]
		if i < len(b) && b[i] == '"' { // a quoted word that is not a key
			end := jsonscan.SkipString(b, i)
			if end < 0 {
				return nil, false, false
			}
			i = end
			continue
		}
		if i >= len(b) || b[i] != '=' {
			continue
		}
		i++ // '='
		vstart := i
		if i < len(b) && b[i] == '"' {
			end := jsonscan.SkipString(b, i)
			if end < 0 {
				return nil, false, false
			}
			i = end
		} else {
			for i < len(b) && !jsonscan.IsSpace(b[i]) {
				i++
			}
		}
		if len(key) > 0 && (string(key) == k1 || (k2 != "" && string(key) == k2)) {
			return b[vstart:i], i > vstart && b[vstart] == '"', true
		}
	}
	return nil, false, false
}

// parseLevel reads a level name as zerolog, logrus, zap or slog spell it,
// in any case, quoted or not, with an optional slog offset ("ERROR+2").
func parseLevel(v []byte) (slog.Level, bool) {
	if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' {
		v = v[1 : n-1]
	}
	switch string(v) { // the usual spellings, without the general walk
	case "INFO", "info":
		return slog.LevelInfo, true
	case "DEBUG", "debug":
		return slog.LevelDebug, true
	case "WARN", "warn":
		return slog.LevelWarn, true
	case "ERROR", "error":
		return slog.LevelError, true
	}
	name, off := v, 0
	for i, c := range v {
		if c == '+' || c == '-' {
			digits := v[i+1:]
			if len(digits) == 0 || len(digits) > 4 {
				return 0, false
			}
			n := 0
			for _, d := range digits {
				if d < '0' || d > '9' {
					return 0, false
				}
				n = 10*n + int(d-'0')
			}
			if c == '-' {
				n = -n
			}
			name, off = v[:i], n
			break
		}
	}
	var buf [8]byte
	if len(name) > len(buf) {
		return 0, false
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	var l slog.Level
	switch string(lower) {
	case "trace":
		l = slog.LevelDebug - 4
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	case "dpanic":
		l = zapLevel(zapcore.DPanicLevel)
	case "panic":
		l = zapLevel(zapcore.PanicLevel)
	case "fatal":
		l = zapLevel(zapcore.FatalLevel)
	default:
		return 0, false
	}
	return l + slog.Level(off), true
}

// writerMessageSpan returns the bytes of the message in b when they need
// no unescaping (plain), so that the consumer can copy them into its
// message arena instead of allocating a string per record.
func writerMessageSpan(b []byte) (span []byte, plain bool) {
	v, quoted, ok := findField(b, "msg", "message")
	if !ok {
		return nil, true
	}
	if !quoted {
		return v, true
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	return nil, false
}

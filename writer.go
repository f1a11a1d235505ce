package asynclog

import (
	"bytes"
	"io"
	"log/slog"
	"strconv"

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
	var rec Record // field by field, in place: see core.Write
	rec.Time = wallNow()
	rec.Level = writerLevel(b)
	rec.Encoded = b
	_ = w.q.q.logRaw(&rec, false) // see the contract: a sink's failure is not the caller's
	return len(p), nil
}

// writerLevel returns the level written in an encoded record, or Info.
func writerLevel(b []byte) slog.Level {
	var v []byte
	var ok bool
	if jsonscan.FirstNonSpace(b) == '{' {
		v, ok = jsonLevel(b)
	} else {
		v, _, ok = findLogfmtField(b, "level", "")
	}
	if !ok {
		return slog.LevelInfo
	}
	return levelOrInfo(v)
}

// jsonLevel returns the value of the "level" member of a JSON record. A
// record that begins with levelFirstPrefix has its level's name read to
// the next quote, without the walk over members. A name holding an
// escaped quote is cut short at it, which is no loss: no level name holds
// a backslash, so neither the cut nor the whole would parse.
func jsonLevel(b []byte) ([]byte, bool) {
	if n := len(levelFirstPrefix); len(b) > n && string(b[:n]) == levelFirstPrefix {
		if end := bytes.IndexByte(b[n:], '"'); end >= 0 {
			return b[n : n+end], true
		}
	}
	return jsonscan.FindMember(b, "level", "")
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

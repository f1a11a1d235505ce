package asynclog

import (
	"log/slog"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"
)

// failTally counts the records given up on since the main sink last took a
// failure notice: how many, the span of their times, and the sink's last
// error. Guarded by queue.mu; written by the consumer's settle.
type failTally struct {
	total    uint64
	from, to time.Time
	cause    error
}

// settleFailuresLocked updates the failure tally with the outcome of the
// last batch: a failure notice the main sink took clears it, and the
// batch's failed records join it.
func (c *consumer) settleFailuresLocked(o outcome) {
	q := c.q
	if c.failNotice && o.noticed {
		q.fails = failTally{}
	}
	c.failNotice = false
	if o.failed == 0 {
		return
	}
	f := &q.fails
	f.total += uint64(o.failed)
	if !o.from.IsZero() && (f.from.IsZero() || o.from.Before(f.from)) {
		f.from = o.from
	}
	if o.to.After(f.to) {
		f.to = o.to
	}
	f.cause = o.cause
}

// failuresDueLocked returns the failure tally if records were given up on
// since the main sink last took a failure notice, for the next batch to
// open with one. The tally stays until a batch carrying the notice reaches
// the main sink, so a notice lost with its batch is sent again with the
// next one.
func (c *consumer) failuresDueLocked() failTally {
	if c.q.fails.total == 0 {
		return failTally{}
	}
	c.failNotice = true
	return c.q.fails
}

// failureNotice builds the synthetic record that says, in the log
// stream, that records were given up on: "asynclog: N records failed
// between T1 and T2: <cause>", T1 and T2 being the earliest and the latest
// time of those records. Like the drop notice, it takes the shape of the
// zap Core that feeds the queue, or else of slog.JSONHandler.
func (q *queue) failureNotice(f failTally) Record {
	now := time.Now()
	cause := "unknown"
	if f.cause != nil {
		cause = f.cause.Error()
	}
	msg := "asynclog: " + strconv.FormatUint(f.total, 10) + " " + plural(int(f.total), "record", "records") +
		" failed between " + f.from.UTC().Format(time.RFC3339Nano) + " and " + f.to.UTC().Format(time.RFC3339Nano) + ": " + cause
	if enc := q.zapEnc.Load(); enc != nil {
		buf, err := (*enc).Clone().EncodeEntry(zapcore.Entry{Level: zapcore.WarnLevel, Time: now, Message: msg}, []zapcore.Field{
			{Key: "failed", Type: zapcore.Uint64Type, Integer: int64(f.total)},
			{Key: "from", Type: zapcore.TimeFullType, Interface: f.from},
			{Key: "to", Type: zapcore.TimeFullType, Interface: f.to},
			{Key: "error", Type: zapcore.StringType, String: cause},
		})
		if err == nil {
			b := append([]byte(nil), trimLineEnding(buf.Bytes())...)
			buf.Free()
			return Record{Time: now, Level: slog.LevelWarn, Message: msg, Encoded: b}
		}
	}
	b := make([]byte, 0, 256+len(msg)+len(cause))
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"WARN","msg":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"failed":`...)
	b = strconv.AppendUint(b, f.total, 10)
	b = append(b, `,"from":"`...)
	b = f.from.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","to":"`...)
	b = f.to.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","error":`...)
	b = appendJSONString(b, cause)
	b = append(b, '}')
	return Record{Time: now, Level: slog.LevelWarn, Message: msg, Encoded: b}
}

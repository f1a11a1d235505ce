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

// dropNoticePrefix opens the drop notice's message.
const dropNoticePrefix = "asynclog: dropped "

// notice builds the synthetic record that opens a batch after drops: in
// the shape of the zap Core that feeds the queue (its encoder's keys and
// level names), or else as slog.JSONHandler writes.
func (q *queue) notice(d droppedTally) Record {
	now := time.Now()
	msg := dropNoticePrefix + strconv.FormatUint(d.total, 10) + " " + plural(int(d.total), "record", "records") +
		" since " + d.since.UTC().Format(time.RFC3339Nano)
	names := [4]string{"DEBUG", "INFO", "WARN", "ERROR"}
	if enc := q.zapEnc.Load(); enc != nil {
		if b, ok := zapNotice(*enc, now, msg, d, names); ok {
			return Record{Time: now, Level: slog.LevelWarn, Message: msg, Encoded: b}
		}
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"WARN","msg":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"dropped":`...)
	b = strconv.AppendUint(b, d.total, 10)
	b = append(b, `,"dropped_by_level":{`...)
	sep := false
	for i, c := range d.byLevel {
		if c == 0 {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, names[i]...)
		b = append(b, `":`...)
		b = strconv.AppendUint(b, c, 10)
	}
	b = append(b, `},"since":"`...)
	b = d.since.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return Record{Time: now, Level: slog.LevelWarn, Message: msg, Encoded: b}
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

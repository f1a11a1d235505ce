package asynclog

// The zap front end: a zapcore.Core that encodes on the caller's
// goroutine and hands the record to a Queue.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/zap/zapcore"
)

// zapLevel maps a zap level onto the slog scale: Debug -4, Info 0, Warn 4,
// Error 8, DPanic 12, Panic 16, Fatal 20.
func zapLevel(l zapcore.Level) slog.Level { return slog.Level(4 * int(l)) }

// zapSyncLevel is zapLevel(zapcore.DPanicLevel): the zap Core writes
// entries at it and above synchronously, whatever Options.SyncLevel says,
// so they are kept too (queue.keepLevel).
const zapSyncLevel = slog.Level(4 * int(zapcore.DPanicLevel))

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
	var start time.Time
	if ent.Level == zapcore.FatalLevel {
		start = time.Now() // a Fatal's hooked flushes are bounded from here; no other entry reads the clock again
	}
	buf, err := c.enc.EncodeEntry(ent, fields)
	if err != nil {
		return fmt.Errorf("asynclog: encode entry: %w", err)
	}
	// Field by field, in place: a composite literal is built in a
	// temporary and copied with 16-byte moves that stall on the 8-byte
	// stores just made (store forwarding fails).
	var rec Record
	rec.Time = ent.Time
	rec.Level = zapLevel(ent.Level)
	rec.Message = ent.Message
	rec.Encoded = trimLineEnding(buf.Bytes())
	err = c.q.q.log(&rec, rec.Level >= zapSyncLevel)
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

package asynclog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapSink delivers records to a zapcore.Core.
type zapSink struct {
	c zapcore.Core
}

var _ Sink = (*zapSink)(nil)

// ZapSink returns a Sink that writes each record to c, on the queue's
// consumer goroutine, and calls c.Sync after each batch: the zap
// counterpart of [SlogSink], for a slow core behind any front end.
//
// Each record becomes a zapcore.Entry with the record's time, message and
// level (slog's scale mapped back: below Info Debug, below Warn Info, below
// Error Warn, below 12 Error, then DPanic 12, Panic 16, Fatal 20), and
// fields rebuilt from Encoded as SlogSink rebuilds attributes: strings,
// booleans, int64, float64, null (a nil Reflect), objects as zap.Dict and
// arrays as zap.Array, in order, with the front end's own time, level and
// message keys left out. A zap encoder's "logger", "caller" and
// "stacktrace" keys stay fields: the Entry's own fields for them are left
// empty. A record that is not one JSON object is written with its text as
// the message and no fields.
//
// Each entry goes through c.Check, so c's level, a sampler's decision and a
// tee's per-core levels are honoured. A Fatal or Panic entry is only
// written: what zap does after such an entry (exit, panic) is its Logger's
// CheckWriteAction, applied by the Logger that made the entry, never by a
// Core, so the consumer goroutine neither exits nor panics.
//
// Write stops at the first entry c fails or panics on and returns its error
// (as the text zap reports it, or the panic as an error), marked with
// [Delivered] for the entries before it,
// so the queue retries from there. An error from Sync after a batch that
// was written is reported but not retried (it is marked with [Partial]
// with no record refused); Sync's EINVAL and ENOTTY, which os.Stderr or a
// pipe return because they cannot be synced, are ignored. ZapSink panics if
// c is nil.
func ZapSink(c zapcore.Core) Sink {
	if c == nil {
		panic("asynclog: ZapSink called with a nil zapcore.Core")
	}
	return &zapSink{c: c}
}

func (s *zapSink) Write(ctx context.Context, batch []Record) error {
	var werr error
	written := len(batch)
	for i := range batch {
		if err := ctx.Err(); err != nil {
			werr, written = fmt.Errorf("asynclog: zap sink: %w", err), i
			break
		}
		rec := &batch[i]
		msg, attrs := decodeRecord(rec)
		ent := zapcore.Entry{Time: rec.Time, Level: fromSlogLevel(rec.Level), Message: msg}
		ce := s.c.Check(ent, nil)
		if ce == nil {
			continue
		}
		var out errCatcher
		ce.ErrorOutput = &out
		if perr := writeEntry(ce, zapFields(attrs)); perr != nil {
			werr, written = fmt.Errorf("asynclog: zap sink: entry %d of %d: %w", i+1, len(batch), perr), i
			break
		}
		if out.err != nil {
			werr, written = fmt.Errorf("asynclog: zap sink: entry %d of %d: %w", i+1, len(batch), out.err), i
			break
		}
	}
	serr := s.c.Sync()
	if serr != nil && (errors.Is(serr, syscall.EINVAL) || errors.Is(serr, syscall.ENOTTY)) {
		serr = nil
	}
	if serr != nil {
		serr = fmt.Errorf("asynclog: zap sink: sync: %w", serr)
	}
	switch {
	case werr != nil:
		return Delivered(errors.Join(werr, serr), written)
	case serr != nil:
		return Partial(serr, 0)
	}
	return nil
}

// writeEntry writes a checked entry, turning a panic in a core into an
// error at this entry, so that the entries before it count as delivered and
// are not written again.
func writeEntry(ce *zapcore.CheckedEntry, fields []zapcore.Field) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("asynclog: sink panicked: %v", v)
		}
	}()
	ce.Write(fields...)
	return nil
}

// errCatcher is a CheckedEntry's ErrorOutput: CheckedEntry.Write reports
// the cores' write errors there, as "<time> write error: <err>".
type errCatcher struct{ err error }

func (e *errCatcher) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if _, after, ok := strings.Cut(msg, " write error: "); ok {
		msg = after
	}
	e.err = errors.Join(e.err, errors.New(msg))
	return len(p), nil
}

func (e *errCatcher) Sync() error { return nil }

// fromSlogLevel maps slog's scale onto zap's levels, the inverse of
// zapLevel with slog's levels in between rounded down.
func fromSlogLevel(l slog.Level) zapcore.Level {
	switch {
	case l < slog.LevelInfo:
		return zapcore.DebugLevel
	case l < slog.LevelWarn:
		return zapcore.InfoLevel
	case l < slog.LevelError:
		return zapcore.WarnLevel
	case l < zapLevel(zapcore.DPanicLevel):
		return zapcore.ErrorLevel
	case l < zapLevel(zapcore.PanicLevel):
		return zapcore.DPanicLevel
	case l < zapLevel(zapcore.FatalLevel):
		return zapcore.PanicLevel
	}
	return zapcore.FatalLevel
}

// zapFields turns parsed attributes into zap fields.
func zapFields(attrs []slog.Attr) []zapcore.Field {
	if len(attrs) == 0 {
		return nil
	}
	fs := make([]zapcore.Field, len(attrs))
	for i, a := range attrs {
		fs[i] = zapField(a.Key, a.Value)
	}
	return fs
}

func zapField(key string, v slog.Value) zapcore.Field {
	switch v.Kind() {
	case slog.KindString:
		return zap.String(key, v.String())
	case slog.KindInt64:
		return zap.Int64(key, v.Int64())
	case slog.KindFloat64:
		return zap.Float64(key, v.Float64())
	case slog.KindBool:
		return zap.Bool(key, v.Bool())
	case slog.KindGroup:
		return zap.Dict(key, zapFields(v.Group())...)
	}
	if a, ok := v.Any().([]any); ok {
		return zap.Array(key, zapArray(a))
	}
	return zap.Reflect(key, v.Any()) // null
}

// zapArray is a parsed JSON array for zap's encoders.
type zapArray []any

func (a zapArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, v := range a {
		switch v := v.(type) {
		case string:
			enc.AppendString(v)
		case int64:
			enc.AppendInt64(v)
		case float64:
			enc.AppendFloat64(v)
		case bool:
			enc.AppendBool(v)
		case []any:
			if err := enc.AppendArray(zapArray(v)); err != nil {
				return err
			}
		case map[string]any:
			if err := enc.AppendObject(zapObject(v)); err != nil {
				return err
			}
		default:
			if err := enc.AppendReflected(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// zapObject is a JSON object inside an array, written in key order.
type zapObject map[string]any

func (o zapObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := o[k].(type) {
		case string:
			enc.AddString(k, v)
		case int64:
			enc.AddInt64(k, v)
		case float64:
			enc.AddFloat64(k, v)
		case bool:
			enc.AddBool(k, v)
		case []any:
			if err := enc.AddArray(k, zapArray(v)); err != nil {
				return err
			}
		case map[string]any:
			if err := enc.AddObject(k, zapObject(v)); err != nil {
				return err
			}
		default:
			if err := enc.AddReflected(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

package asynclog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/asynclog/asynclog"
)

type user struct {
	Name string
	Age  int
}

func (u user) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", u.Name)
	enc.AddInt("age", u.Age)
	return nil
}

// TestZapSinkObserver: entries logged through NewCore, the queue and
// ZapSink reach zap's observer core with their time, level, message and
// fields, typed as JSON carries them.
func TestZapSinkObserver(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	q := newQueue(t, asynclog.ZapSink(obs), asynclog.Options{})
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	l := zap.New(asynclog.NewCore(enc, zapcore.DebugLevel, q))
	le := zap.New(asynclog.NewCore(enc, zapcore.DebugLevel, q), zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel)).Named("svc")

	before := time.Now()
	l.Info("order placed",
		zap.String("id", "A-1"), zap.Int("items", 3), zap.Float64("total", 19.99), zap.Bool("gift", true),
		zap.Object("user", user{"ann", 41}), zap.Strings("tags", []string{"a", "b"}), zap.Ints("qty", []int{1, 2}),
		zap.Any("meta", map[string]any{"k": "v"}), zap.Reflect("none", nil), zap.Uint64("big", 1<<63),
		zap.Dict("outer", zap.Dict("inner", zap.Int("n", 1))),
	)
	l.With(zap.String("svc", "api")).Warn("slow", zap.Duration("took", 1500*time.Millisecond))
	l.Debug("low")
	le.Error("failed", zap.Error(errors.New("boom")))
	require.NoError(t, l.Sync(), "Sync")

	entries := logs.AllUntimed()
	require.Len(t, entries, 4, "every entry")
	got := logs.All()
	for _, e := range got {
		assert.WithinDuration(t, before, e.Time, time.Minute, "the original time")
	}
	assert.Equal(t, zapcore.InfoLevel, entries[0].Level, "level")
	assert.Equal(t, "order placed", entries[0].Message, "message")
	assert.Equal(t, map[string]any{
		"id": "A-1", "items": int64(3), "total": 19.99, "gift": true,
		"user": map[string]any{"name": "ann", "age": int64(41)}, "tags": []any{"a", "b"}, "qty": []any{int64(1), int64(2)},
		"meta": map[string]any{"k": "v"}, "none": nil, "big": float64(1 << 63),
		"outer": map[string]any{"inner": map[string]any{"n": int64(1)}},
	}, entries[0].ContextMap(), "fields rebuilt from the JSON")
	assert.Equal(t, zapcore.WarnLevel, entries[1].Level, "warn")
	assert.Equal(t, map[string]any{"svc": "api", "took": 1.5}, entries[1].ContextMap(), "With fields; a duration as the encoder wrote it (seconds)")
	assert.Equal(t, zapcore.DebugLevel, entries[2].Level, "debug")
	assert.Empty(t, entries[2].ContextMap(), "no fields")
	assert.Equal(t, zapcore.ErrorLevel, entries[3].Level, "error")
	ctx := entries[3].ContextMap()
	assert.Equal(t, "boom", ctx["error"], "the error's text")
	for _, k := range []string{"logger", "caller", "stacktrace"} {
		assert.Contains(t, ctx, k, "the encoder's %s key stays a field", k)
	}
	assert.Equal(t, "svc", ctx["logger"], "the logger's name")
}

// TestZapSinkLevels: slog's levels reach zap rounded down to zap's; a Fatal
// or Panic entry is written and nothing exits or panics.
func TestZapSinkLevels(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	q := newQueue(t, asynclog.ZapSink(obs), asynclog.Options{})
	h := asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.Level(-100)})
	tests := []struct {
		in   slog.Level
		want zapcore.Level
	}{
		{slog.LevelDebug - 4, zapcore.DebugLevel},
		{slog.LevelDebug, zapcore.DebugLevel},
		{slog.LevelInfo, zapcore.InfoLevel},
		{slog.LevelInfo + 2, zapcore.InfoLevel},
		{slog.LevelWarn, zapcore.WarnLevel},
		{slog.LevelError, zapcore.ErrorLevel},
		{slog.LevelError + 2, zapcore.ErrorLevel},
		{12, zapcore.DPanicLevel},
		{16, zapcore.PanicLevel},
		{20, zapcore.FatalLevel},
		{30, zapcore.FatalLevel},
	}
	for _, tt := range tests {
		r := slog.NewRecord(time.Now(), tt.in, tt.in.String(), 0)
		require.NoError(t, h.Handle(context.Background(), r), "Handle %v", tt.in)
	}
	require.NoError(t, q.Flush(context.Background()), "Flush")
	entries := logs.AllUntimed()
	require.Len(t, entries, len(tests), "every entry written, Fatal and Panic included")
	for i, tt := range tests {
		assert.Equal(t, tt.want, entries[i].Level, "slog %v", tt.in)
	}
}

// TestZapSinkCheck: entries go through Check, so a tee's per-core levels
// hold: an Info entry reaches only the core that enables Info.
func TestZapSinkCheck(t *testing.T) {
	debug, dlogs := observer.New(zapcore.DebugLevel)
	warn, wlogs := observer.New(zapcore.WarnLevel)
	q := newQueue(t, asynclog.ZapSink(zapcore.NewTee(debug, warn)), asynclog.Options{})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("info")
	l.Warn("warn")
	require.NoError(t, q.Flush(context.Background()), "Flush")
	assert.Equal(t, 2, dlogs.Len(), "the Debug core sees both")
	assert.Equal(t, 1, wlogs.Len(), "the Warn core sees only the Warn entry")
}

// TestZapSinkText: a record that is not JSON is written with its text as
// the message.
func TestZapSinkText(t *testing.T) {
	obs, logs := observer.New(zapcore.DebugLevel)
	q := newQueue(t, asynclog.ZapSink(obs), asynclog.Options{})
	_, _ = asynclog.NewWriter(q).Write([]byte("2026/01/01 00:00:00 level=error disk gone\n"))
	require.NoError(t, q.Flush(context.Background()), "Flush")
	entries := logs.AllUntimed()
	require.Len(t, entries, 1, "one entry")
	assert.Equal(t, "2026/01/01 00:00:00 level=error disk gone", entries[0].Message, "the text is the message")
	assert.Equal(t, zapcore.ErrorLevel, entries[0].Level, "the level read by NewWriter")
	assert.Empty(t, entries[0].ContextMap(), "no fields")
}

// faultyCore fails Write for one message and Sync with syncErr.
type faultyCore struct {
	zapcore.Core
	failMsg string
	syncErr error
	synced  int
}

func (c *faultyCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}

func (c *faultyCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	if e.Message == c.failMsg {
		return fmt.Errorf("core down at %s", e.Message)
	}
	return c.Core.Write(e, fs)
}

func (c *faultyCore) Sync() error { c.synced++; return c.syncErr }

// TestZapSinkWriteContract: called directly, Write stops at the entry the
// core fails on and reports the ones before it as delivered; it syncs after
// each batch; a Sync error is reported without a retry, except EINVAL and
// ENOTTY, which unsyncable files return.
func TestZapSinkWriteContract(t *testing.T) {
	rec := func(msg string) asynclog.Record {
		return asynclog.Record{Time: sinkTime, Message: msg, Encoded: []byte(`{"msg":"` + msg + `"}`)}
	}
	batch := []asynclog.Record{rec("a"), rec("b"), rec("c")}
	tests := []struct {
		name      string
		failMsg   string
		syncErr   error
		wantErr   string
		wantN     int // DeliveredError.N, or -1 for none
		partial   bool
		wantCount int
	}{
		{name: "all written", wantN: -1, wantCount: 3},
		{name: "write fails", failMsg: "b", wantErr: "asynclog: zap sink: entry 2 of 3: core down at b", wantN: 1, wantCount: 1},
		{name: "sync fails", syncErr: errors.New("disk full"), wantErr: "asynclog: zap sink: sync: disk full", wantN: -1, partial: true, wantCount: 3},
		{name: "sync EINVAL ignored", syncErr: &os.PathError{Op: "sync", Path: "/dev/stderr", Err: syscall.EINVAL}, wantN: -1, wantCount: 3},
		{name: "write and sync fail", failMsg: "a", syncErr: errors.New("disk full"), wantErr: "sync: disk full", wantN: 0, wantCount: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs, logs := observer.New(zapcore.DebugLevel)
			c := &faultyCore{Core: obs, failMsg: tt.failMsg, syncErr: tt.syncErr}
			err := asynclog.ZapSink(c).Write(context.Background(), batch)
			assert.Equal(t, 1, c.synced, "Sync once after the batch")
			assert.Equal(t, tt.wantCount, logs.Len(), "entries written")
			if tt.wantErr == "" {
				assert.NoError(t, err, "Write")
				return
			}
			assert.ErrorContains(t, err, tt.wantErr, "the error, with context")
			var dl *asynclog.DeliveredError
			if tt.wantN >= 0 {
				require.ErrorAs(t, err, &dl, "a DeliveredError")
				assert.Equal(t, tt.wantN, dl.N, "entries before the failure")
			}
			var pe *asynclog.PartialError
			assert.Equal(t, tt.partial, errors.As(err, &pe), "marked Partial: reported, not retried")
		})
	}
}

// Any front end in front of a zap core: here slog records written by zap's
// console encoder on the consumer goroutine.
func ExampleZapSink() {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.CapitalLevelEncoder})
	q, err := asynclog.NewQueue(asynclog.ZapSink(zapcore.NewCore(enc, zapcore.AddSync(os.Stdout), zapcore.InfoLevel)), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()

	logger := slog.New(asynclog.NewHandler(q, nil))
	logger.Warn("stock low", "sku", "A-7", "left", 2)

	_ = q.Close() // drain before the output is checked
	// Output:
	// WARN	stock low	{"sku": "A-7", "left": 2}
}

package asynclog_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

func TestSlogtest(t *testing.T) {
	var sink *recSink
	var q *asynclog.Queue
	newHandler := func(t *testing.T) slog.Handler {
		sink = newRecSink()
		q = newQueue(t, sink, asynclog.Options{})
		return asynclog.NewHandler(q, nil)
	}
	result := func(t *testing.T) map[string]any {
		require.NoError(t, q.Flush(context.Background()))
		recs := sink.all()
		require.Len(t, recs, 1)
		return decode(t, recs[0].Encoded)
	}
	slogtest.Run(t, newHandler, result)
}

// TestSlogMatchesJSONHandler: our slog front end writes what
// slog.JSONHandler writes, byte for byte, for a spread of values and
// options.
func TestSlogMatchesJSONHandler(t *testing.T) {
	type point struct{ X, Y int }
	when := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	dropTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		if a.Key == "secret" {
			return slog.String("secret", "[redacted "+strings.Join(groups, ".")+"]")
		}
		return a
	}
	cases := []struct {
		name string
		opts *slog.HandlerOptions
		log  func(l *slog.Logger)
	}{
		{"kinds", nil, func(l *slog.Logger) {
			l.Info("kinds", "s", "str", "i", -42, "u", uint64(42), "f", 3.25, "tiny", 1e-9, "huge", 1e22,
				"b", true, "d", 1500*time.Millisecond, "t", when, "err", fmt.Errorf("boom"), "struct", point{1, 2},
				"nan", slogNaN(), "nilptr", (*point)(nil), "map", map[string]int{"a": 1})
		}},
		{"escaping", nil, func(l *slog.Logger) {
			l.Warn("quote \" backslash \\ newline \n tab \t ctrl \x01 html <&> bad \xff utf8 é \u2028", "k\"ey", "v\nal")
		}},
		{"groups", nil, func(l *slog.Logger) {
			l.With("a", 1).WithGroup("g").With("b", 2).WithGroup("h").Error("grouped",
				slog.Group("inner", "c", 3), slog.Group("empty"), slog.Group("", "inline", 4))
		}},
		{"empty group at the end", nil, func(l *slog.Logger) {
			l.WithGroup("g").Info("no attrs")
		}},
		{"replace attr", &slog.HandlerOptions{ReplaceAttr: dropTime, Level: slog.LevelDebug}, func(l *slog.Logger) {
			l.WithGroup("g").With("secret", "pw").Debug("replaced", "secret", "x", slog.Group("h", "secret", "y"))
		}},
		{"source", &slog.HandlerOptions{AddSource: true}, func(l *slog.Logger) {
			l.Info("with source", "k", "v")
		}},
		{"custom level", nil, func(l *slog.Logger) {
			l.Log(context.Background(), slog.LevelError+2, "above error")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want strings.Builder
			tc.log(slog.New(slog.NewJSONHandler(&want, tc.opts)))

			sink := newRecSink()
			q := newQueue(t, sink, asynclog.Options{})
			tc.log(slog.New(asynclog.NewHandler(q, tc.opts)))
			require.NoError(t, q.Close())

			var got strings.Builder
			for _, r := range sink.all() {
				got.Write(r.Encoded)
				got.WriteByte('\n')
			}
			// Times differ between the two calls: compare with them masked.
			assert.Equal(t, maskTime(want.String()), maskTime(got.String()))
		})
	}
}

func slogNaN() float64 { var z float64; return z / z }

// maskTime replaces the top-level time value and the source line, which
// differ between two calls.
func maskTime(s string) string {
	if i := strings.Index(s, `"time":"`); i >= 0 {
		j := strings.Index(s[i+8:], `"`)
		s = s[:i+8] + "T" + s[i+8+j:]
	}
	if i := strings.Index(s, `"line":`); i >= 0 {
		j := strings.IndexAny(s[i+7:], ",}")
		s = s[:i+7] + "0" + s[i+7+j:]
	}
	return s
}

// TestZapCore: the zap front end encodes with the given encoder, With fields
// once, levels mapped onto slog's scale, Encoded without the line ending.
func TestZapCore(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{})
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = ""
	l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.DebugLevel, q)).With(zap.String("svc", "api"))
	l.Debug("d", zap.Int("n", 1))
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	require.NoError(t, l.Sync())
	recs := sink.all()
	require.Len(t, recs, 4)
	wantLevels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	for i, r := range recs {
		assert.Equal(t, wantLevels[i], r.Level, "level of %q", r.Message)
		assert.False(t, strings.HasSuffix(string(r.Encoded), "\n"), "Encoded keeps no line ending: %q", r.Encoded)
		assert.Equal(t, "api", decode(t, r.Encoded)["svc"], "With field in %s", r.Encoded)
	}
	assert.JSONEq(t, `{"level":"debug","msg":"d","svc":"api","n":1}`, string(recs[0].Encoded))
	assert.False(t, recs[0].Time.IsZero(), "Record.Time comes from the entry")
}

// TestValuesCapturedAtCall: a map or struct mutated right after the call
// changes nothing delivered (and -race stays clean).
func TestValuesCapturedAtCall(t *testing.T) {
	sink := newRecSink()
	gate := newGateSink(sink, true)
	q := newQueue(t, gate, asynclog.Options{})
	sl := slog.New(asynclog.NewHandler(q, nil))
	zl := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, q))

	m := map[string]int{"n": 1}
	s := &struct{ N int }{N: 1}
	sl.Info("slog", "m", m, "s", s)
	zl.Info("zap", zap.Any("m", m), zap.Any("s", s))
	m["n"], s.N = 2, 2 // while the records wait behind the gate
	gate.open()
	require.NoError(t, q.Flush(context.Background()))
	recs := sink.all()
	require.Len(t, recs, 2)
	for _, r := range recs {
		got := decode(t, r.Encoded)
		assert.Equal(t, map[string]any{"n": 1.0}, got["m"], "map as logged, in %s", r.Encoded)
		assert.Equal(t, map[string]any{"N": 1.0}, got["s"], "struct as logged, in %s", r.Encoded)
	}
}

// TestFloodWithoutLoss: Block mode, a small queue, goroutines logging
// through zap and slog at once into a sink with a small delay: every record
// arrives exactly once, each goroutine's in order, and Stats agree.
func TestFloodWithoutLoss(t *testing.T) {
	const goroutines, perG = 8, 2000
	sink := newRecSink()
	slow := asynclog.SinkFunc(func(ctx context.Context, batch []asynclog.Record) error {
		time.Sleep(50 * time.Microsecond) // the sink's cost, not synchronisation
		return sink.Write(ctx, batch)
	})
	q, err := asynclog.NewQueue(slow, asynclog.Options{Size: 64, BatchSize: 16})
	require.NoError(t, err)
	sl := slog.New(asynclog.NewHandler(q, nil))
	zl := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, q))

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				if g%2 == 0 {
					sl.Info("flood", "g", g, "i", i)
				} else {
					zl.Info("flood", zap.Int("g", g), zap.Int("i", i))
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close())

	next := make([]int, goroutines)
	for _, r := range sink.all() {
		m := decode(t, r.Encoded)
		g, i := int(m["g"].(float64)), int(m["i"].(float64))
		require.Equal(t, next[g], i, "goroutine %d: records out of order or lost", g)
		next[g]++
	}
	for g, n := range next {
		assert.Equal(t, perG, n, "goroutine %d delivered", g)
	}
	s := q.Stats()
	assert.Equal(t, uint64(goroutines*perG), s.Enqueued, "enqueued")
	assert.Equal(t, uint64(goroutines*perG), s.Delivered, "delivered")
	assert.Zero(t, s.Dropped+s.Failed, "nothing dropped or failed in Block mode")
	checkIdentity(t, s)
}

func TestNilQueuePanicsAtConstruction(t *testing.T) {
	assert.PanicsWithValue(t, "asynclog: NewCore called with a nil *Queue", func() {
		asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, nil)
	})
	assert.PanicsWithValue(t, "asynclog: NewHandler called with a nil *Queue", func() {
		asynclog.NewHandler(nil, nil)
	})
}

// TestDropNoticeTakesZapShape: with the zap Core in front, the drop notice
// uses the encoder config's keys and level names, so that a zap pipeline's
// parser reads it like any other line.
func TestDropNoticeTakesZapShape(t *testing.T) {
	sink := newRecSink()
	gate := newGateSink(sink, true)
	q := newQueue(t, gate, asynclog.Options{Size: 1, OnFull: asynclog.DropNewest})
	cfg := zap.NewProductionEncoderConfig() // "ts", "level" in lowercase, "msg"
	l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.InfoLevel, q))
	l.Info("first")
	gate.waitStarted(t)
	l.Info("queued")
	l.Info("dropped")
	l.Warn("dropped too")
	gate.open()
	require.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrDropped)
	var notice map[string]any
	for _, r := range sink.all() {
		if strings.HasPrefix(r.Message, "asynclog: dropped") {
			notice = decode(t, r.Encoded)
		}
	}
	require.NotNil(t, notice, "a notice was delivered")
	assert.Equal(t, "warn", notice["level"], "zap's level name: %v", notice)
	assert.Contains(t, notice, "ts", "zap's time key: %v", notice)
	assert.NotContains(t, notice, "time", "not slog's: %v", notice)
	assert.Equal(t, 2.0, notice["dropped"], "%v", notice)
	assert.Equal(t, map[string]any{"INFO": 1.0, "WARN": 1.0}, notice["dropped_by_level"], "%v", notice)
}

// TestDynamicSyncLevel: a SyncLevel that can change (a *slog.LevelVar) is
// read on each call.
func TestDynamicSyncLevel(t *testing.T) {
	sink := newRecSink()
	var lv slog.LevelVar
	lv.Set(slog.LevelError + 4)
	q := newQueue(t, sink, asynclog.Options{SyncLevel: &lv, FlushInterval: time.Hour, BatchSize: 1000})
	l := slog.New(asynclog.NewHandler(q, nil))
	lv.Set(slog.LevelInfo) // now every Info is synchronous
	l.Info("synchronous")
	assert.Equal(t, []string{"synchronous"}, sink.messages(), "delivered before the call returned")
}

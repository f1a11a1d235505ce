package asynclog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// lockedBuffer is a bytes.Buffer safe for the consumer to write while a
// test reads it after a Flush.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type point struct {
	X, Y int
	Tag  string
}

var sinkTime = time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)

// TestSlogSinkMatchesJSONHandler: a record through NewHandler, the queue
// and SlogSink(slog.NewJSONHandler) comes out byte for byte as the
// JSONHandler writes it directly, for every value JSON carries unchanged.
func TestSlogSinkMatchesJSONHandler(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		attrs []slog.Attr
		with  func(slog.Handler) slog.Handler
	}{
		{name: "no attributes", msg: "hello"},
		{name: "scalars", msg: "scalars", attrs: []slog.Attr{
			slog.String("s", "text"), slog.Int("i", -42), slog.Int64("big", math.MaxInt64), slog.Uint64("u", 7),
			slog.Float64("f", 2.5), slog.Float64("tiny", 1e-9), slog.Float64("whole", 3), slog.Bool("b", true), slog.Bool("nb", false),
		}},
		{name: "escapes", msg: "say \"hi\"\n<é>\u2028", attrs: []slog.Attr{slog.String("q", "a\"b\\c\td\x01"), slog.String("k\"ey", "v")}},
		{name: "duration time error nil", msg: "kinds", attrs: []slog.Attr{
			slog.Duration("d", 1500*time.Microsecond), slog.Time("at", sinkTime), slog.Any("err", errors.New("boom")), slog.Any("nothing", nil),
		}},
		{name: "groups", msg: "groups", attrs: []slog.Attr{
			slog.Group("req", slog.String("method", "GET"), slog.Group("hdr", slog.Int("n", 2))), slog.String("after", "x"),
		}},
		{name: "slices maps structs", msg: "composites", attrs: []slog.Attr{
			slog.Any("ints", []int{1, 2, 3}), slog.Any("strs", []string{"a", "b"}), slog.Any("empty", []int{}),
			slog.Any("nested", [][]any{{1, "x"}, {true, nil}}), slog.Any("m", map[string]any{"b": 1, "a": "z"}),
			slog.Any("p", point{X: 1, Y: 2, Tag: "t"}),
		}},
		{name: "level offset", level: slog.LevelError + 2, msg: "high"},
		{name: "debug", level: slog.LevelDebug, msg: "low", attrs: []slog.Attr{slog.Int("n", 1)}},
		{name: "WithAttrs and WithGroup", msg: "with", attrs: []slog.Attr{slog.Int("n", 1)},
			with: func(h slog.Handler) slog.Handler {
				return h.WithAttrs([]slog.Attr{slog.String("svc", "api")}).WithGroup("g").WithAttrs([]slog.Attr{slog.Int("a", 1)})
			}},
		{name: "duplicate keys", msg: "dups", attrs: []slog.Attr{slog.Int("k", 1), slog.Int("k", 2), slog.String("msg", "an attribute named msg")}},
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var direct bytes.Buffer
			var via lockedBuffer
			q := newQueue(t, asynclog.SlogSink(slog.NewJSONHandler(&via, opts)), asynclog.Options{})
			var hd, hq slog.Handler = slog.NewJSONHandler(&direct, opts), asynclog.NewHandler(q, opts)
			if tt.with != nil {
				hd, hq = tt.with(hd), tt.with(hq)
			}
			for _, h := range []slog.Handler{hd, hq} {
				r := slog.NewRecord(sinkTime, tt.level, tt.msg, 0)
				r.AddAttrs(tt.attrs...)
				require.NoError(t, h.Handle(context.Background(), r), "Handle")
			}
			require.NoError(t, q.Flush(context.Background()), "Flush")
			assert.Equal(t, direct.String(), via.String(), "what the inner handler writes through the queue")
		})
	}
}

// TestSlogSinkTypeChanges: what JSON cannot carry comes back as the
// documented type.
func TestSlogSinkTypeChanges(t *testing.T) {
	tests := []struct {
		name string
		attr slog.Attr
		want string // the attribute as the inner JSONHandler writes it
	}{
		{"uint64 above int64", slog.Uint64("u", math.MaxUint64), `"u":18446744073709552000`},
		{"empty group elided", slog.Any("p", struct{}{}), ``},
		{"empty map elided", slog.Any("m", map[string]int{}), ``},
		{"objects in arrays as maps, keys sorted", slog.Any("objs", []point{{X: 1, Tag: "a"}}), `"objs":[{"Tag":"a","X":1,"Y":0}]`},
		{"source group", slog.Any("src", &slog.Source{Function: "f", File: "a.go", Line: 3}), `"src":{"function":"f","file":"a.go","line":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var via lockedBuffer
			q := newQueue(t, asynclog.SlogSink(slog.NewJSONHandler(&via, nil)), asynclog.Options{})
			r := slog.NewRecord(sinkTime, slog.LevelInfo, "m", 0)
			r.AddAttrs(tt.attr)
			require.NoError(t, asynclog.NewHandler(q, nil).Handle(context.Background(), r), "Handle")
			require.NoError(t, q.Flush(context.Background()), "Flush")
			want := `{"time":"2026-03-04T05:06:07.891011121Z","level":"INFO","msg":"m"}` + "\n"
			if tt.want != "" {
				want = strings.TrimSuffix(want, "}\n") + "," + tt.want + "}\n"
			}
			assert.Equal(t, want, via.String(), "the inner handler's line")
		})
	}
}

// TestSlogSinkText: a record that is not JSON reaches the handler with its
// text as the message, at its level.
func TestSlogSinkText(t *testing.T) {
	var via lockedBuffer
	q := newQueue(t, asynclog.SlogSink(slog.NewJSONHandler(&via, nil)), asynclog.Options{})
	w := asynclog.NewWriter(q)
	_, _ = w.Write([]byte("time=x level=WARN msg=\"disk low\" free=3\n"))
	_, _ = w.Write([]byte("2026/01/01 00:00:00 plain\n"))
	_, _ = w.Write([]byte(`{"level":"error","message":"zerolog","n":1,"bad":}` + "\n"))
	require.NoError(t, q.Flush(context.Background()), "Flush")
	lines := strings.Split(strings.TrimSpace(via.String()), "\n")
	require.Len(t, lines, 3, "three records")
	for i, want := range []struct{ level, msg string }{
		{"WARN", `time=x level=WARN msg="disk low" free=3`},
		{"INFO", "2026/01/01 00:00:00 plain"},
		{"ERROR", `{"level":"error","message":"zerolog","n":1,"bad":}`},
	} {
		m := decode(t, []byte(lines[i]))
		assert.Equal(t, want.level, m["level"], "line %d level", i)
		assert.Equal(t, want.msg, m["msg"], "line %d: the text is the message", i)
		assert.Len(t, m, 3, "line %d: time, level, msg and no attributes", i)
	}
}

// TestSlogSinkWriterJSON: zerolog's JSON through NewWriter reaches the
// handler with its message and typed attributes, its own keys left out.
func TestSlogSinkWriterJSON(t *testing.T) {
	var via lockedBuffer
	q := newQueue(t, asynclog.SlogSink(slog.NewJSONHandler(&via, nil)), asynclog.Options{})
	w := asynclog.NewWriter(q)
	_, _ = w.Write([]byte(`{"level":"warn","time":"2026-01-01T00:00:00Z","status":503,"ok":false,"rate":0.5,"req":{"id":"r1"},"tags":["a","b"],"message":"slow"}` + "\n"))
	require.NoError(t, q.Flush(context.Background()), "Flush")
	m := decode(t, []byte(via.String()))
	delete(m, "time") // the Write's time
	assert.Equal(t, map[string]any{"level": "WARN", "msg": "slow", "status": 503.0, "ok": false, "rate": 0.5,
		"req": map[string]any{"id": "r1"}, "tags": []any{"a", "b"}}, m, "attributes rebuilt")
}

// TestSlogSinkSlogtest runs testing/slogtest on NewHandler in front of a
// queue whose sink is SlogSink(slog.NewJSONHandler): the pair is a
// conforming handler for everything JSON carries.
func TestSlogSinkSlogtest(t *testing.T) {
	var mu sync.Mutex
	type state struct {
		q   *asynclog.Queue
		buf *lockedBuffer
	}
	states := map[*testing.T]state{}
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		buf := &lockedBuffer{}
		q := newQueue(t, asynclog.SlogSink(slog.NewJSONHandler(buf, nil)), asynclog.Options{})
		mu.Lock()
		states[t] = state{q, buf}
		mu.Unlock()
		return asynclog.NewHandler(q, nil)
	}, func(t *testing.T) map[string]any {
		mu.Lock()
		s := states[t]
		mu.Unlock()
		require.NoError(t, s.q.Flush(context.Background()), "Flush")
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(s.buf.String()), &m), "the inner handler's line is JSON: %s", s.buf.String())
		return m
	})
}

// failOnce is a slog handler that fails the first time it sees failMsg.
type failOnce struct {
	slog.Handler
	failMsg string
	mu      sync.Mutex
	failed  bool
}

func (f *failOnce) Handle(ctx context.Context, r slog.Record) error {
	f.mu.Lock()
	fail := r.Message == f.failMsg && !f.failed
	f.failed = f.failed || fail
	f.mu.Unlock()
	if fail {
		return errors.New("handler down")
	}
	return f.Handler.Handle(ctx, r)
}

// TestSlogSinkErrors: the handler's error is the sink's; the queue retries
// from the failing record, so nothing is written twice.
func TestSlogSinkErrors(t *testing.T) {
	var via lockedBuffer
	var errs errorLog
	h := &failOnce{Handler: slog.NewJSONHandler(&via, nil), failMsg: "b"}
	gate := newGateSink(asynclog.SlogSink(h), false)
	q := newQueue(t, gate, asynclog.Options{MinBackoff: time.Millisecond, OnError: errs.add})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("x")
	gate.waitStarted(t) // the consumer holds x, so that a, b and c make one batch
	for _, m := range []string{"a", "b", "c"} {
		l.Info(m)
	}
	gate.open()
	require.NoError(t, q.Flush(context.Background()), "Flush: the retry delivered")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(via.String()), "\n") {
		got = append(got, decode(t, []byte(line))["msg"].(string))
	}
	assert.Equal(t, []string{"x", "a", "b", "c"}, got, "each record once, in order")
	require.NotEmpty(t, errs.all(), "the failure reached OnError")
	assert.ErrorContains(t, errs.all()[0], "asynclog: slog sink: record 2 of 3: handler down", "the handler's error, with context")
	require.NoError(t, q.Close(), "Close")
	st := q.Stats()
	assert.Equal(t, uint64(4), st.Delivered, "records delivered before a retried failure are counted: %+v", st)
}

// TestSlogSinkWriteContract: called directly, Write reports the records
// before a failure as delivered, stops at a done ctx, and skips records the
// handler does not enable.
func TestSlogSinkWriteContract(t *testing.T) {
	rec := func(msg string, l slog.Level) asynclog.Record {
		return asynclog.Record{Time: sinkTime, Level: l, Message: msg, Encoded: []byte(`{"msg":"` + msg + `"}`)}
	}
	t.Run("failure", func(t *testing.T) {
		var buf bytes.Buffer
		s := asynclog.SlogSink(&failOnce{Handler: slog.NewJSONHandler(&buf, nil), failMsg: "b"})
		err := s.Write(context.Background(), []asynclog.Record{rec("a", 0), rec("b", 0), rec("c", 0)})
		var dl *asynclog.DeliveredError
		require.ErrorAs(t, err, &dl, "a DeliveredError")
		assert.Equal(t, 1, dl.N, "the record before the failure was delivered")
		assert.ErrorContains(t, err, "asynclog: slog sink: record 2 of 3: handler down", "wrapped with context")
		assert.Equal(t, 1, strings.Count(buf.String(), "\n"), "Write stopped at the failure")
	})
	t.Run("done ctx", func(t *testing.T) {
		var buf bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := asynclog.SlogSink(slog.NewJSONHandler(&buf, nil)).Write(ctx, []asynclog.Record{rec("a", 0)})
		assert.ErrorIs(t, err, context.Canceled, "ctx's error")
		assert.Empty(t, buf.String(), "nothing written")
	})
	t.Run("disabled", func(t *testing.T) {
		var buf bytes.Buffer
		s := asynclog.SlogSink(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
		require.NoError(t, s.Write(context.Background(), []asynclog.Record{rec("info", 0), rec("warn", slog.LevelWarn)}), "Write")
		assert.NotContains(t, buf.String(), `"info"`, "an Info record is below the handler's level")
		assert.Contains(t, buf.String(), `"warn"`, "a Warn record is written")
	})
}

func TestSinkAdaptersRefuseNil(t *testing.T) {
	assert.PanicsWithValue(t, "asynclog: SlogSink called with a nil slog.Handler", func() { asynclog.SlogSink(nil) }, "nil handler")
	assert.PanicsWithValue(t, "asynclog: ZapSink called with a nil zapcore.Core", func() { asynclog.ZapSink(nil) }, "nil core")
}

// A slow slog handler made safe: the application's logger encodes and
// hands off; the inner handler (here a TextHandler) runs on the consumer.
func ExampleSlogSink() {
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	inner := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})
	q, err := asynclog.NewQueue(asynclog.SlogSink(inner), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()

	logger := slog.New(asynclog.NewHandler(q, nil))
	logger.Info("order placed", "id", 42, slog.Group("customer", "country", "NZ"))

	_ = q.Close() // drain before the output is checked
	// Output:
	// level=INFO msg="order placed" id=42 customer.country=NZ
}

package asynclog_test

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// panicTarget counts the records an adapter's target took, by message, and
// panics at the record named "m7" (the 8th of a batch m0..m19) while
// panics says it should.
type panicTarget struct {
	mu     sync.Mutex
	got    map[string]int
	panics int // how many more times to panic at m7; -1: always
}

func newPanicTarget(panics int) *panicTarget {
	return &panicTarget{got: map[string]int{}, panics: panics}
}

func (p *panicTarget) take(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if msg == "m7" && p.panics != 0 {
		if p.panics > 0 {
			p.panics--
		}
		panic("target bug")
	}
	p.got[msg]++
}

func (p *panicTarget) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.got {
		out[k] = v
	}
	return out
}

// panicHandler is a slog.Handler in front of a panicTarget.
type panicHandler struct{ p *panicTarget }

func (h panicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h panicHandler) Handle(_ context.Context, r slog.Record) error {
	h.p.take(r.Message)
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicHandler) WithGroup(string) slog.Handler      { return h }

// panicCore is a zapcore.Core in front of a panicTarget.
type panicCore struct {
	zapcore.LevelEnabler
	p *panicTarget
}

func (c panicCore) With([]zapcore.Field) zapcore.Core { return c }
func (c panicCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (c panicCore) Write(e zapcore.Entry, _ []zapcore.Field) error {
	c.p.take(e.Message)
	return nil
}
func (c panicCore) Sync() error { return nil }

// TestAdapterPanicCountsAtTheRecord: a target that panics mid-batch is
// like an error returned at that record: the records before it count as
// Delivered and are never handed over again; only the rest is retried.
func TestAdapterPanicCountsAtTheRecord(t *testing.T) {
	adapters := []struct {
		name string
		sink func(p *panicTarget) asynclog.Sink
	}{
		{"SlogSink", func(p *panicTarget) asynclog.Sink { return asynclog.SlogSink(panicHandler{p}) }},
		{"ZapSink", func(p *panicTarget) asynclog.Sink {
			return asynclog.ZapSink(panicCore{LevelEnabler: zapcore.DebugLevel, p: p})
		}},
	}
	cases := []struct {
		name          string
		panics        int
		wantDelivered uint64
		wantFailed    uint64
	}{
		{"panics once", 1, 20, 0},
		{"always panics", -1, 7, 13},
	}
	for _, a := range adapters {
		for _, tc := range cases {
			t.Run(a.name+"/"+tc.name, func(t *testing.T) {
				p := newPanicTarget(tc.panics)
				q, err := asynclog.NewQueue(a.sink(p), asynclog.Options{BatchSize: 20, FlushInterval: time.Hour,
					MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, OnError: func(error) {}})
				require.NoError(t, err, "NewQueue")
				l := slog.New(asynclog.NewHandler(q, nil))
				for i := range 20 {
					l.Info("m" + strconv.Itoa(i))
				}
				_ = q.Flush(context.Background())
				require.NoError(t, q.Close(), "Close")
				got := p.counts()
				for i := range 20 {
					if i == 7 && tc.panics < 0 {
						continue
					}
					if i > 7 && tc.wantFailed > 0 {
						assert.Zero(t, got["m"+strconv.Itoa(i)], "m%d is behind the panicking record", i)
						continue
					}
					assert.Equal(t, 1, got["m"+strconv.Itoa(i)], "m%d handed over once", i)
				}
				st := q.Stats()
				assert.Equal(t, tc.wantDelivered, st.Delivered, "Delivered: %+v", st)
				assert.Equal(t, tc.wantFailed, st.Failed, "Failed: %+v", st)
			})
		}
	}
}

// TestAdaptersKeepNegativeZero: a float -0 keeps its sign through SlogSink
// and ZapSink.
func TestAdaptersKeepNegativeZero(t *testing.T) {
	t.Run("SlogSink", func(t *testing.T) {
		var buf lockedBuffer
		q := newQueue(t, asynclog.SlogSink(slog.NewJSONHandler(&buf, nil)), asynclog.Options{})
		slog.New(asynclog.NewHandler(q, nil)).Info("zero", "f", math.Copysign(0, -1))
		require.NoError(t, q.Close(), "Close")
		assert.Contains(t, buf.String(), `"f":-0`, "the sign stays")
	})
	t.Run("ZapSink", func(t *testing.T) {
		var buf lockedBuffer
		enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg"})
		q := newQueue(t, asynclog.ZapSink(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)), asynclog.Options{})
		slog.New(asynclog.NewHandler(q, nil)).Info("zero", "f", math.Copysign(0, -1))
		require.NoError(t, q.Close(), "Close")
		assert.Contains(t, buf.String(), `"f":-0`, "the sign stays")
	})
}

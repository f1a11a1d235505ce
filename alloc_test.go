package asynclog_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// TestLogCallAllocations: the log call allocates no more than its
// synchronous twin: zap with inline fields 1 (zap's own variadic slice),
// zap with prepared fields 0, slog 0. Counted over the whole process, so
// the consumer's work is in the figure too.
func TestLogCallAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race to count allocations")
	}
	q := newQueue(t, &discardSink{}, asynclog.Options{})
	zl := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.InfoLevel, q))
	zp := zapWith(zl)
	sl := slog.New(asynclog.NewHandler(q, nil))
	cases := []struct {
		name string
		want float64
		log  func()
	}{
		{"zap inline", 1, func() { zapInline(zl, 1) }},
		{"zap prepared", 0, func() { zapPrepared(zp) }},
		{"slog", 0, func() { slogInline(sl, 1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.log() // warm the pools
			require.NoError(t, q.Flush(context.Background()))
			got := testing.AllocsPerRun(1000, tc.log)
			assert.LessOrEqual(t, got, tc.want, "allocations per log call")
		})
	}
}

package asynclog_test

import (
	"log/slog"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// BenchmarkSpool: the log call with the queue in a spool beside the same
// front end with the queue in memory, both into the fast sink, serial and
// with 8 producers; and the drain throughput (records/s) of each.
func BenchmarkSpool(b *testing.B) {
	stores := []struct {
		name string
		opts func(b *testing.B) asynclog.Options
	}{
		{"memory", func(*testing.B) asynclog.Options { return asynclog.Options{} }},
		{"spool", func(b *testing.B) asynclog.Options { return asynclog.Options{Spool: b.TempDir()} }},
	}
	for _, st := range stores {
		b.Run("zap/"+st.name, func(b *testing.B) {
			q := newBenchQueue(b, &discardSink{}, st.opts(b))
			l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.InfoLevel, q))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				zapInline(l, i)
			}
			reportRate(b)
		})
		b.Run("slog/"+st.name, func(b *testing.B) {
			q := newBenchQueue(b, &discardSink{}, st.opts(b))
			l := slog.New(asynclog.NewHandler(q, nil))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				slogInline(l, i)
			}
			reportRate(b)
		})
		for _, front := range []string{"zap", "slog"} {
			b.Run(front+"/"+st.name+"/8producers", func(b *testing.B) {
				q := newBenchQueue(b, &discardSink{}, st.opts(b))
				zl := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.InfoLevel, q))
				sl := slog.New(asynclog.NewHandler(q, nil))
				b.ReportAllocs()
				b.SetParallelism(4) // 4 per processor: 8 goroutines on this 2-core machine
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if front == "zap" {
							zapInline(zl, i)
						} else {
							slogInline(sl, i)
						}
						i++
					}
				})
				reportRate(b)
			})
		}
	}
}

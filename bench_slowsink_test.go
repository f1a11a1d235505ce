package asynclog_test

// The caller's latency when every Write costs 1 ms: zap pays it on every
// call, our Core the hand-off. slowWriter serves paced_bench_test.go too.

import (
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// slowWriter costs 1 ms per Write, whatever its size: an HTTP round trip.
type slowWriter struct{}

func (slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return len(p), nil
}

// BenchmarkSlowSink: the caller's latency when every write costs 1 ms.
// zap writing straight to the slow writer pays it on every call; our Core
// pays the hand-off. Reports p50 and p99 of the caller's latency.
func BenchmarkSlowSink(b *testing.B) {
	enc := func() zapcore.Encoder { return zapcore.NewJSONEncoder(benchEncoderConfig()) }
	subjects := []zapSubject{
		{"zap.NewCore", func(b *testing.B) zapcore.Core {
			return zapcore.NewCore(enc(), zapcore.AddSync(slowWriter{}), zapcore.InfoLevel)
		}},
		// Defaults: batches of 256 drain 256,000 records/s, less than a
		// caller logging flat out, so the queue fills and Block mode makes
		// the caller wait: the back-pressure shows in the tail.
		{"asynclog.Core/defaults", func(b *testing.B) zapcore.Core {
			q := newBenchQueue(b, asynclog.WriterSink(slowWriter{}), asynclog.Options{})
			return asynclog.NewCore(enc(), zapcore.InfoLevel, q)
		}},
		// Batches as large as the queue: a write costs 1 ms whatever its
		// size, so the drain keeps up and the caller never waits.
		{"asynclog.Core/batch4096", func(b *testing.B) zapcore.Core {
			q := newBenchQueue(b, asynclog.WriterSink(slowWriter{}), asynclog.Options{BatchSize: 4096})
			return asynclog.NewCore(enc(), zapcore.InfoLevel, q)
		}},
	}
	for _, s := range subjects {
		b.Run(s.name, func(b *testing.B) {
			l := zap.New(s.core(b))
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				zapInline(l, i)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

package asynclog_test

import (
	"io"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// BenchmarkSlowSinkPaced is the bench program's scenario 2 at its steady
// rate as a Go benchmark: one caller logs at 50,000 records/s, and each
// call is timed. Our front ends write to a sink that costs 1 ms a Write;
// beside each, its synchronous twin writes to io.Discard: encoding alone,
// the floor no logger's call can go under on this machine. Reports p50,
// p99 and p99.9 of the caller's latency in ns.
func BenchmarkSlowSinkPaced(b *testing.B) {
	const rate = 50000
	enc := func() zapcore.Encoder { return zapcore.NewJSONEncoder(benchEncoderConfig()) }
	type subject struct {
		name string
		log  func(b *testing.B) func(i int)
	}
	subjects := []subject{
		{"zap.NewCore/discard", func(b *testing.B) func(int) {
			l := zap.New(zapcore.NewCore(enc(), zapcore.AddSync(io.Discard), zapcore.InfoLevel))
			return func(i int) { zapInline(l, i) }
		}},
		{"asynclog.Core/slow", func(b *testing.B) func(int) {
			q := newBenchQueue(b, asynclog.WriterSink(slowWriter{}), asynclog.Options{})
			l := zap.New(asynclog.NewCore(enc(), zapcore.InfoLevel, q))
			return func(i int) { zapInline(l, i) }
		}},
		{"slog.JSONHandler/discard", func(b *testing.B) func(int) {
			l := slog.New(slog.NewJSONHandler(io.Discard, nil))
			return func(i int) { slogInline(l, i) }
		}},
		{"asynclog.Handler/slow", func(b *testing.B) func(int) {
			q := newBenchQueue(b, asynclog.WriterSink(slowWriter{}), asynclog.Options{})
			l := slog.New(asynclog.NewHandler(q, nil))
			return func(i int) { slogInline(l, i) }
		}},
	}
	for _, s := range subjects {
		b.Run(s.name, func(b *testing.B) {
			log := s.log(b)
			lat := make([]time.Duration, 0, b.N)
			interval := time.Second / rate
			b.ResetTimer()
			t0 := time.Now()
			for i := range b.N {
				// The record's slot: a caller that fell behind logs at
				// once, as the bench program's does.
				for next := t0.Add(time.Duration(i) * interval); time.Now().Before(next); {
					runtime.Gosched()
				}
				c := time.Now()
				log(i)
				lat = append(lat, time.Since(c))
			}
			b.StopTimer()
			slices.Sort(lat)
			at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) }
			b.ReportMetric(at(0.5), "p50-ns")
			b.ReportMetric(at(0.99), "p99-ns")
			b.ReportMetric(at(0.999), "p99.9-ns")
		})
	}
}

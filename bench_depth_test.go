package asynclog_test

import (
	"io"
	"runtime"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// BenchmarkFloodDepth: how deep the queue runs when as many goroutines
// log as there are processors, so that the consumer gets a processor only
// when a log call yields one: zap inline into WriterSink(io.Discard) from
// GOMAXPROCS goroutines, the first of which reads Stats.Queued every 1,024
// calls. Reports the mean and the largest depth seen, beside ns/op.
func BenchmarkFloodDepth(b *testing.B) {
	q := newBenchQueue(b, asynclog.WriterSink(io.Discard), asynclog.Options{})
	l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.InfoLevel, q))
	procs := runtime.GOMAXPROCS(0)
	var sum, samples, most int
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for p := range procs {
		n := b.N / procs
		if p < b.N%procs {
			n++
		}
		wg.Go(func() {
			for i := range n {
				zapInline(l, i)
				if p == 0 && i%1024 == 1023 {
					d := q.Stats().Queued
					sum += d
					samples++
					most = max(most, d)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if samples > 0 {
		b.ReportMetric(float64(sum)/float64(samples), "queued-mean")
		b.ReportMetric(float64(most), "queued-max")
	}
	reportRate(b)
}

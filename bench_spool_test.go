package asynclog_test

import (
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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
		{"spool-shm", func(b *testing.B) asynclog.Options { return asynclog.Options{Spool: shmDir(b)} }},
	}
	for _, st := range stores {
		b.Run("zap/"+st.name, func(b *testing.B) {
			q := newBenchQueue(b, &discardSink{}, st.opts(b))
			l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.InfoLevel, q))
			b.ReportAllocs()
			runtime.LockOSThread() // the caller's own faults: RUSAGE_THREAD
			defer runtime.UnlockOSThread()
			f, cf := minorFaults(), threadFaults()
			b.ResetTimer()
			for i := range b.N {
				zapInline(l, i)
			}
			reportRate(b)
			reportFaults(b, f)
			b.ReportMetric(float64(threadFaults()-cf)/float64(b.N), "caller-faults/op")
		})
		b.Run("slog/"+st.name, func(b *testing.B) {
			q := newBenchQueue(b, &discardSink{}, st.opts(b))
			l := slog.New(asynclog.NewHandler(q, nil))
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			f, cf := minorFaults(), threadFaults()
			b.ResetTimer()
			for i := range b.N {
				slogInline(l, i)
			}
			reportRate(b)
			reportFaults(b, f)
			b.ReportMetric(float64(threadFaults()-cf)/float64(b.N), "caller-faults/op")
		})
		for _, front := range []string{"zap", "slog"} {
			b.Run(front+"/"+st.name+"/8producers", func(b *testing.B) {
				q := newBenchQueue(b, &discardSink{}, st.opts(b))
				zl := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.InfoLevel, q))
				sl := slog.New(asynclog.NewHandler(q, nil))
				b.ReportAllocs()
				b.SetParallelism(4) // 4 per processor: 8 goroutines on this 2-core machine
				f := minorFaults()
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
				reportFaults(b, f)
			})
		}
	}
}

// shmDir is a directory on /dev/shm (tmpfs: no write-back, so no
// write-protect faults), removed after the benchmark; the benchmark is
// skipped where there is none.
func shmDir(b *testing.B) string {
	dir, err := os.MkdirTemp("/dev/shm", "asynclog-bench-")
	if err != nil {
		b.Skipf("no /dev/shm: %v", err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// minorFaults is the process's count of minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Minflt
}

// threadFaults is the calling thread's count of minor page faults so far
// (RUSAGE_THREAD): with the goroutine locked to its thread, the faults the
// log call itself took, not the consumer's.
func threadFaults() int64 {
	const rusageThread = 1
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return ru.Minflt
}

// reportFaults adds the minor page faults per record since start.
func reportFaults(b *testing.B, start int64) {
	b.ReportMetric(float64(minorFaults()-start)/float64(b.N), "faults/op")
}

// BenchmarkSpoolEvictBehindKept: the Info log call's latency in the drop
// modes when the default 64 MiB spool is full behind a sink that takes
// nothing: 60 MiB of 4 KB Error records (kept) first, then Info records.
// DropOldest evicts the oldest Info record, behind all the Error records,
// for every call; DropNewest drops the new one. Reports p50, p99 and the
// longest call.
func BenchmarkSpoolEvictBehindKept(b *testing.B) {
	for _, mode := range []asynclog.Overflow{asynclog.DropOldest, asynclog.DropNewest} {
		b.Run(mode.String(), func(b *testing.B) {
			gate := newGateSink(nil, true)
			q, err := asynclog.NewQueue(gate, asynclog.Options{Spool: b.TempDir(), OnFull: mode, OnError: func(error) {}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				gate.open()
				_ = q.Close() // reports the drops
			})
			l := slog.New(asynclog.NewHandler(q, nil))
			l.Info("first")
			<-gate.started // the consumer holds a batch: nothing leaves
			pad := strings.Repeat("e", 4000)
			for range (60 << 20) / 4096 {
				l.Error("kept", "pad", pad)
			}
			for i := 0; q.Stats().Dropped == 0; i++ {
				l.Info("rec", "i", i)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				l.Info("rec", "i", i)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
		})
	}
}

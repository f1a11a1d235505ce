package asynclog_test

// A real file as the destination: every front end and its twin writing
// one (BenchmarkFile), and 8 producers at once into zap's cores and ours,
// to io.Discard and to a file (BenchmarkProducers).

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// benchFile creates an empty file in b.TempDir(), the most common
// destination. Its Close is registered first, so it runs after the Cleanup
// of whatever writes to it (a queue's Close, a BufferedWriteSyncer's Stop).
func benchFile(b *testing.B) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "bench.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	})
	return f
}

// zapFileSubjects are zap's cores and ours writing one *os.File each:
// zapcore.NewCore writes the file on every call, zap's BufferedWriteSyncer
// buffers (256 KiB) and writes when full, our queue writes it from the
// consumer through WriterSink, one Write per batch.
func zapFileSubjects() []zapSubject {
	enc := func() zapcore.Encoder { return zapcore.NewJSONEncoder(benchEncoderConfig()) }
	return []zapSubject{
		{"zap.NewCore", func(b *testing.B) zapcore.Core {
			return zapcore.NewCore(enc(), zapcore.AddSync(benchFile(b)), zapcore.InfoLevel)
		}},
		{"zap.BufferedWriteSyncer", func(b *testing.B) zapcore.Core {
			ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(benchFile(b))}
			b.Cleanup(func() { _ = ws.Stop() })
			return zapcore.NewCore(enc(), ws, zapcore.InfoLevel)
		}},
		{"asynclog.Core", func(b *testing.B) zapcore.Core {
			q := newBenchQueue(b, asynclog.WriterSink(benchFile(b)), asynclog.Options{})
			return asynclog.NewCore(enc(), zapcore.InfoLevel, q)
		}},
	}
}

// slogFileSubjects: slog.JSONHandler writing the file on every call beside
// our Handler, whose queue writes it through WriterSink.
func slogFileSubjects() []slogSubject {
	return []slogSubject{
		{"slog.JSONHandler", func(b *testing.B) slog.Handler { return slog.NewJSONHandler(benchFile(b), nil) }},
		{"asynclog.Handler", func(b *testing.B) slog.Handler {
			q := newBenchQueue(b, asynclog.WriterSink(benchFile(b)), asynclog.Options{})
			return asynclog.NewHandler(q, nil)
		}},
	}
}

// BenchmarkFile: every front end and its twin writing a real file in
// b.TempDir(), fields inline, serial and parallel. A record is logged when
// the call returns; what the file holds at that moment differs (written,
// buffered, queued), and everything is in it after the Cleanup.
func BenchmarkFile(b *testing.B) {
	for _, s := range zapFileSubjects() {
		b.Run("zap/"+s.name, func(b *testing.B) {
			l := zap.New(s.core(b))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				zapInline(l, i)
			}
			reportRate(b)
		})
		b.Run("zap/"+s.name+"/parallel", func(b *testing.B) {
			l := zap.New(s.core(b))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					zapInline(l, i)
					i++
				}
			})
			reportRate(b)
		})
	}
	for _, s := range slogFileSubjects() {
		b.Run("slog/"+s.name, func(b *testing.B) {
			l := slog.New(s.handler(b))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				slogInline(l, i)
			}
			reportRate(b)
		})
		b.Run("slog/"+s.name+"/parallel", func(b *testing.B) {
			l := slog.New(s.handler(b))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					slogInline(l, i)
					i++
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkProducers: 8 goroutines logging at once (b.SetParallelism scaled
// by GOMAXPROCS) into zap's cores and ours, to io.Discard and to a real
// file, fields inline: ns/op is wall time per record over all of them.
func BenchmarkProducers(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	if producers%procs != 0 {
		b.Skipf("GOMAXPROCS %d does not divide %d producers", procs, producers)
	}
	dests := []struct {
		name     string
		subjects []zapSubject
	}{
		{"discard", zapSubjects()},
		{"file", zapFileSubjects()},
	}
	for _, d := range dests {
		for _, s := range d.subjects {
			b.Run(d.name+"/"+s.name, func(b *testing.B) {
				l := zap.New(s.core(b))
				b.ReportAllocs()
				b.SetParallelism(producers / procs)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						zapInline(l, i)
						i++
					}
				})
				reportRate(b)
			})
		}
	}
}

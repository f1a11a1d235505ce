package asynclog_test

// The benchmarks' shared parts (the record shape, the queue, the zap and
// slog subjects, producers) and the log call of each front end beside its
// synchronous twin, to io.Discard: BenchmarkZap, BenchmarkSlog.

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// The benchmarks log one record shape everywhere: a message and five fields
// (two strings, an int, a duration, another string). Each scenario runs our
// front end beside its synchronous twin in the same run, so the figures to
// read are the ratios.

const benchMsg = "request served"

func benchEncoderConfig() zapcore.EncoderConfig {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.EpochNanosTimeEncoder
	return cfg
}

// discardSink takes batches and counts records.
type discardSink struct{ n atomic.Int64 }

func (s *discardSink) Write(_ context.Context, batch []asynclog.Record) error {
	s.n.Add(int64(len(batch)))
	return nil
}

func newBenchQueue(b *testing.B, sink asynclog.Sink, opts asynclog.Options) *asynclog.Queue {
	b.Helper()
	q, err := asynclog.NewQueue(sink, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := q.Close(); err != nil {
			b.Error(err)
		}
	})
	return q
}

// reportRate adds records per second to a benchmark's figures.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func zapInline(l *zap.Logger, i int) {
	l.Info(benchMsg,
		zap.String("method", "GET"),
		zap.String("path", "/api/v1/users"),
		zap.Int("status", 200+i&1),
		zap.Duration("elapsed", 1500*time.Microsecond),
		zap.String("remote", "10.0.0.1:54321"),
	)
}

func zapPrepared(l *zap.Logger) {
	l.Info(benchMsg)
}

func zapWith(l *zap.Logger) *zap.Logger {
	return l.With(
		zap.String("method", "GET"),
		zap.String("path", "/api/v1/users"),
		zap.Int("status", 200),
		zap.Duration("elapsed", 1500*time.Microsecond),
		zap.String("remote", "10.0.0.1:54321"),
	)
}

func slogInline(l *slog.Logger, i int) {
	l.LogAttrs(context.Background(), slog.LevelInfo, benchMsg,
		slog.String("method", "GET"),
		slog.String("path", "/api/v1/users"),
		slog.Int("status", 200+i&1),
		slog.Duration("elapsed", 1500*time.Microsecond),
		slog.String("remote", "10.0.0.1:54321"),
	)
}

type zapSubject struct {
	name string
	core func(b *testing.B) zapcore.Core
}

func zapSubjects() []zapSubject {
	enc := func() zapcore.Encoder { return zapcore.NewJSONEncoder(benchEncoderConfig()) }
	return []zapSubject{
		{"zap.NewCore", func(b *testing.B) zapcore.Core {
			return zapcore.NewCore(enc(), zapcore.AddSync(io.Discard), zapcore.InfoLevel)
		}},
		{"zap.BufferedWriteSyncer", func(b *testing.B) zapcore.Core {
			ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(io.Discard)}
			b.Cleanup(func() { _ = ws.Stop() })
			return zapcore.NewCore(enc(), ws, zapcore.InfoLevel)
		}},
		{"asynclog.Core", func(b *testing.B) zapcore.Core {
			q := newBenchQueue(b, &discardSink{}, asynclog.Options{})
			return asynclog.NewCore(enc(), zapcore.InfoLevel, q)
		}},
	}
}

type slogSubject struct {
	name    string
	handler func(b *testing.B) slog.Handler
}

func slogSubjects() []slogSubject {
	return []slogSubject{
		{"slog.JSONHandler", func(b *testing.B) slog.Handler { return slog.NewJSONHandler(io.Discard, nil) }},
		{"asynclog.Handler", func(b *testing.B) slog.Handler {
			q := newBenchQueue(b, &discardSink{}, asynclog.Options{})
			return asynclog.NewHandler(q, nil)
		}},
	}
}

// BenchmarkZap: the zap front end beside zap's own cores, fields inline and
// prepared through With, serial and parallel.
func BenchmarkZap(b *testing.B) {
	for _, s := range zapSubjects() {
		b.Run(s.name+"/inline", func(b *testing.B) {
			l := zap.New(s.core(b))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				zapInline(l, i)
			}
			reportRate(b)
		})
		b.Run(s.name+"/prepared", func(b *testing.B) {
			l := zapWith(zap.New(s.core(b)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				zapPrepared(l)
			}
			reportRate(b)
		})
		b.Run(s.name+"/inline/parallel", func(b *testing.B) {
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
}

// BenchmarkSlog: the slog front end beside slog.JSONHandler.
func BenchmarkSlog(b *testing.B) {
	for _, s := range slogSubjects() {
		b.Run(s.name, func(b *testing.B) {
			l := slog.New(s.handler(b))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				slogInline(l, i)
			}
			reportRate(b)
		})
		b.Run(s.name+"/parallel", func(b *testing.B) {
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

// producers is how many goroutines BenchmarkProducers logs from: a server
// with more requests in flight than cores.
const producers = 8

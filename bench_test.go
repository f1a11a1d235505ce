package asynclog_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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

// producers is how many goroutines BenchmarkProducers logs from: a server
// with more requests in flight than cores.
const producers = 8

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

// BenchmarkDrain: drain throughput, as the bench program's scenario 5
// measures it, for every front end and its twins: GOMAXPROCS producers log
// b.N records in all to io.Discard, and the clock stops once every record
// has been written (our queue's Flush, the BufferedWriteSyncer's Sync), so
// records/s counts delivered records. Ours write through WriterSink, the
// same path as a file's.
func BenchmarkDrain(b *testing.B) {
	enc := func() zapcore.Encoder { return zapcore.NewJSONEncoder(benchEncoderConfig()) }
	type drainSubject struct {
		name string
		// open returns the log call and what makes its records delivered.
		open func(b *testing.B) (log func(i int), settle func() error)
	}
	zapOpen := func(c zapcore.Core, settle func() error) (func(int), func() error) {
		l := zap.New(c)
		return func(i int) { zapInline(l, i) }, settle
	}
	slogOpen := func(h slog.Handler, settle func() error) (func(int), func() error) {
		l := slog.New(h)
		return func(i int) { slogInline(l, i) }, settle
	}
	none := func() error { return nil }
	flush := func(q *asynclog.Queue) func() error {
		return func() error { return q.Flush(context.Background()) }
	}
	subjects := []drainSubject{
		{"zap.NewCore", func(b *testing.B) (func(int), func() error) {
			return zapOpen(zapcore.NewCore(enc(), zapcore.AddSync(io.Discard), zapcore.InfoLevel), none)
		}},
		{"zap.BufferedWriteSyncer", func(b *testing.B) (func(int), func() error) {
			ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(io.Discard)}
			b.Cleanup(func() { _ = ws.Stop() })
			return zapOpen(zapcore.NewCore(enc(), ws, zapcore.InfoLevel), ws.Sync)
		}},
		{"asynclog.Core", func(b *testing.B) (func(int), func() error) {
			q := newBenchQueue(b, asynclog.WriterSink(io.Discard), asynclog.Options{})
			return zapOpen(asynclog.NewCore(enc(), zapcore.InfoLevel, q), flush(q))
		}},
		{"slog.JSONHandler", func(b *testing.B) (func(int), func() error) {
			return slogOpen(slog.NewJSONHandler(io.Discard, nil), none)
		}},
		{"asynclog.Handler", func(b *testing.B) (func(int), func() error) {
			q := newBenchQueue(b, asynclog.WriterSink(io.Discard), asynclog.Options{})
			return slogOpen(asynclog.NewHandler(q, nil), flush(q))
		}},
	}
	for _, s := range subjects {
		b.Run(s.name, func(b *testing.B) {
			log, settle := s.open(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					log(i)
					i++
				}
			})
			if err := settle(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reportRate(b)
		})
	}
}

// BenchmarkDropModes: the caller's latency in the drop modes when eviction
// must pass kept records: a dead sink, a queue holding 2,000 Error records
// of 4 KB and then Info records up to Size. In DropOldest each Info call
// evicts the oldest Info record, behind all the Errors; in DropNewest each
// Error call does. A fresh queue is filled every 1,000 calls (off the
// clock), before the Info records run out. Reports p50 and p99 of the call.
func BenchmarkDropModes(b *testing.B) {
	for _, mode := range []asynclog.Overflow{asynclog.DropOldest, asynclog.DropNewest} {
		b.Run(mode.String(), func(b *testing.B) {
			dead := asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
				<-ctx.Done()
				return ctx.Err()
			})
			big := strings.Repeat("x", 4<<10)
			var q *asynclog.Queue
			fill := func() *slog.Logger {
				if q != nil {
					_ = q.Close() // the sink is dead: Close says what it lost
				}
				var err error
				q, err = asynclog.NewQueue(dead, asynclog.Options{OnFull: mode, OnError: func(error) {}, CloseTimeout: 50 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				l := slog.New(asynclog.NewHandler(q, nil))
				for range 2000 {
					l.Error("kept", "pad", big)
				}
				for range q.Options().Size {
					l.Info("filler")
				}
				return l
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			var l *slog.Logger
			for i := range b.N {
				if i%1000 == 0 {
					b.StopTimer()
					l = fill()
					b.StartTimer()
				}
				t0 := time.Now()
				if mode == asynclog.DropOldest {
					l.Info("evicts")
				} else {
					l.Error("evicts")
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			_ = q.Close()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

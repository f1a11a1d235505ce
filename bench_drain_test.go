package asynclog_test

// Drain throughput: records delivered a second, for every front end and
// its twins, with GOMAXPROCS producers into io.Discard.

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

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

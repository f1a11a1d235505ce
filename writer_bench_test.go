package asynclog

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// writerBenchLine is the benchmarks' record as zerolog encodes it: a
// message and the five fields of bench_test.go.
const writerBenchLine = `{"level":"info","method":"GET","path":"/api/v1/users","status":200,"elapsed":1.5,"remote":"10.0.0.1:54321","time":"2026-01-01T00:00:00Z","message":"request served"}` + "\n"

// BenchmarkWriter compares a Write through NewWriter with the Handler's
// hand-off: the queue's log call given a Record already built (what both
// front ends end in), and the whole slog call through NewHandler, which
// encodes as well. NewWriter's own cost is the difference between its row
// and the hand-off's: trimming, reading the level, reading the clock, and
// (until the core does it on the consumer) finding the message;
// NewWriter-caller-part is the same Write without that last step.
func BenchmarkWriter(b *testing.B) {
	var n atomic.Int64
	sink := SinkFunc(func(_ context.Context, batch []Record) error { n.Add(int64(len(batch))); return nil })
	line := []byte(writerBenchLine)
	cases := []struct {
		name string
		log  func(q *Queue) func()
	}{
		{"hand-off", func(q *Queue) func() {
			enc := trimLineEnding(line)
			return func() {
				rec := Record{Time: time.Now(), Level: slog.LevelInfo, Message: "request served", Encoded: enc}
				_ = q.q.log(&rec, false)
			}
		}},
		{"NewWriter", func(q *Queue) func() {
			w := NewWriter(q)
			return func() { _, _ = w.Write(line) }
		}},
		{"NewWriter-caller-part", func(q *Queue) func() {
			// What Write does on the caller once the core finds the message
			// on the consumer: logRaw's interim writerMessage left out.
			return func() {
				b := trimLineEnding(line)
				rec := Record{Time: time.Now(), Level: writerLevel(b), Encoded: b}
				_ = q.q.log(&rec, false)
			}
		}},
		{"NewHandler", func(q *Queue) func() {
			l := slog.New(NewHandler(q, nil))
			return func() {
				l.LogAttrs(context.Background(), slog.LevelInfo, "request served",
					slog.String("method", "GET"),
					slog.String("path", "/api/v1/users"),
					slog.Int("status", 200),
					slog.Duration("elapsed", 1500*time.Microsecond),
					slog.String("remote", "10.0.0.1:54321"),
				)
			}
		}},
	}
	for _, tc := range cases {
		for _, par := range []bool{false, true} {
			name := tc.name
			if par {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				q, err := NewQueue(sink, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					if err := q.Close(); err != nil {
						b.Error(err)
					}
				})
				log := tc.log(q)
				b.ReportAllocs()
				b.ResetTimer()
				if par {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							log()
						}
					})
				} else {
					for range b.N {
						log()
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkWriterLevel measures the io.Writer front end's level lookup
// alone, the part of a Write on the log call that reads the record: JSON
// with "level" as the first member (zerolog, zap, logrus's sorted keys),
// JSON with it after eight members of every kind, and slog's text.
func BenchmarkWriterLevel(b *testing.B) {
	for _, tc := range []struct{ name, line string }{
		{"json-first", writerBenchLine},
		{"json-after-8", `{"time":"2026-01-01T00:00:00.000Z","host":"web-1","method":"GET","path":"/api/v1/users?page=2","status":200,"elapsed":1.5,"req":{"id":"7f3a","tags":["a","b"]},"remote":"10.0.0.1:54321","level":"WARN","msg":"request served"}`},
		{"logfmt", `time=2026-01-01T00:00:00.000Z level=INFO msg="request served" method=GET path=/api/v1/users status=200`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			line := trimLineEnding([]byte(tc.line))
			b.ReportAllocs()
			for b.Loop() {
				writerLevelSink = writerLevel(line)
			}
		})
	}
}

// writerLevelSink keeps BenchmarkWriterLevel's calls from being optimised
// away.
var writerLevelSink slog.Level

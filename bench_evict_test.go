package asynclog_test

// The log call in the drop modes when eviction must pass kept records,
// in memory (the spool's are in bench_spool_test.go).

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynclog/asynclog"
)

// BenchmarkEvictBehindKept: the DropOldest Info log call when the
// in-memory queue (default Size, 16,384) holds Size-1 kept Error records
// behind a sink that takes nothing. Each call evicts the Info record the
// previous call left, at the end of the queue, behind all the kept ones;
// the open segment fills with evicted records and is let go every
// BatchSize calls, and the eviction after that must not search the kept
// records again. Reports p50, p99, p99.9 and the longest call (the
// spool's counterpart is BenchmarkSpoolEvictBehindKept).
func BenchmarkEvictBehindKept(b *testing.B) {
	gate := newGateSink(nil, true)
	q, err := asynclog.NewQueue(gate, asynclog.Options{OnFull: asynclog.DropOldest, OnError: func(error) {}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		gate.open()
		_ = q.Close() // reports the drops
	})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("first")
	<-gate.started // the consumer holds it: nothing leaves
	for range q.Options().Size - 1 {
		l.Error("kept")
	}
	l.Info("rec") // the last slot
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		l.Info("rec", "i", i)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	if s := q.Stats(); s.Dropped != uint64(b.N) {
		b.Fatalf("each call evicts one record: %+v", s)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds()), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
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

package asynclog_test

import (
	"log/slog"
	"slices"
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

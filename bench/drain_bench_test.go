package main

import (
	"sync"
	"testing"
	"time"
)

// BenchmarkZerologDrain is scenario 5 for the io.Writer front end as a Go
// benchmark: two goroutines log b.N records each through asynclog's
// NewWriter under zerolog, through zerolog writing to the fast sink
// itself, and through the simplest asynchronous writer (ringWriter): a
// naive baseline for a hand-off between two goroutines on this machine,
// where the sink reads every byte on the other CPU. The clock stops once Close has
// delivered everything; records/s counts delivered records.
func BenchmarkZerologDrain(b *testing.B) {
	subs := map[string]subject{}
	for _, s := range append(append(subjects(), zerologSyncSubject()), ringSubjects()...) {
		subs[s.name] = s
	}
	for _, name := range []string{zerologSync, zerologRing, ourWriter} {
		sub, ok := subs[name]
		if !ok {
			b.Fatalf("no subject %q", name)
		}
		b.Run(name, func(b *testing.B) {
			s := newSink(fast)
			in := sub.open(s, &env{otelDrops: &otelDropCounter{}})
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for range b.N {
						in.log()
					}
				})
			}
			wg.Wait()
			if c := closeWithin(in, 10*time.Second); c.timeout || c.err != nil {
				b.Fatalf("close: timeout %v, err %v", c.timeout, c.err)
			}
			b.StopTimer()
			if got := s.Delivered(); got != int64(2*b.N) {
				b.Fatalf("delivered %d of %d", got, 2*b.N)
			}
			b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

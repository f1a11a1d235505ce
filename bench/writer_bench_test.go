package main

import (
	"io"
	"log"
	"testing"
	"time"
)

// BenchmarkZerolog runs zerolog through asynclog's NewWriter beside zerolog
// with its diode writer, on the fast sink and on the slow one (1 ms a
// Write): ns/op is the caller's cost per record; lost% is the share of the
// b.N records that had not reached the sink once the subject was closed.
func BenchmarkZerolog(b *testing.B) {
	var subs []subject
	for _, s := range subjects() {
		if s.name == "zerolog + diode" || s.name == "asynclog NewWriter (zerolog)" {
			subs = append(subs, s)
		}
	}
	if len(subs) != 2 {
		b.Fatalf("found %d of the two zerolog subjects", len(subs))
	}
	// The diode reports set collisions through the standard logger, which
	// would break the benchmark's output lines.
	prev := log.Writer()
	log.SetOutput(io.Discard)
	b.Cleanup(func() { log.SetOutput(prev) })
	for _, mode := range []sinkMode{fast, slow} {
		for _, sub := range subs {
			b.Run(mode.String()+"/"+sub.name, func(b *testing.B) {
				s := newSink(mode)
				in := sub.open(s, &env{otelDrops: &otelDropCounter{}})
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					in.log()
				}
				b.StopTimer()
				elapsed := b.Elapsed()
				c := closeWithin(in, 10*time.Second)
				if c.timeout || c.err != nil {
					b.Fatalf("close: timeout %v, err %v", c.timeout, c.err)
				}
				lost := int64(b.N) - s.Delivered()
				b.ReportMetric(100*float64(lost)/float64(b.N), "lost%")
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			})
		}
	}
}

package main

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkZerologDrain is scenario 5 for the io.Writer front end as a Go
// benchmark: two goroutines log b.N records each through asynclog's
// NewWriter under zerolog, through zerolog writing to the fast sink
// itself, and through the simplest asynchronous writer (ringWriter): the
// floor of any hand-off between two goroutines on this machine, where the
// sink reads every byte on the other CPU. The clock stops once Close has
// delivered everything; records/s counts delivered records.
func BenchmarkZerologDrain(b *testing.B) {
	subs := map[string]subject{}
	for _, s := range append(subjects(), zerologSyncSubject(), zerologRingSubject()) {
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

const zerologRing = "zerolog + naive ring"

// zerologRingSubject is zerolog writing through ringWriter.
func zerologRingSubject() subject {
	return subject{
		name: zerologRing,
		open: func(s *sink, _ *env) *instance {
			r := newRingWriter(s)
			l := zerolog.New(r).With().Timestamp().Logger()
			return &instance{log: func() { zerologLog(&l) }, close: func(context.Context) error { r.close(); return nil }}
		},
	}
}

// ringWriter is the naive asynchronous writer: writers copy each record
// into one byte buffer under a mutex, and one goroutine takes the whole
// buffer under it and writes it to w in one call, parking on a one-slot
// channel when there is nothing. No levels, barrier, counters or bound
// beyond the buffer's size.
type ringWriter struct {
	mu     sync.Mutex
	room   *sync.Cond
	buf    []byte
	parked bool
	stop   bool
	wake   chan struct{}
	done   chan struct{}
}

func newRingWriter(w io.Writer) *ringWriter {
	r := &ringWriter{buf: make([]byte, 0, 1<<20), wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.room = sync.NewCond(&r.mu)
	go r.consume(w)
	return r
}

func (r *ringWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	for len(r.buf)+len(p) > cap(r.buf) {
		r.room.Wait()
	}
	r.buf = append(r.buf, p...)
	wake := r.parked
	r.parked = false
	r.mu.Unlock()
	if wake {
		r.wake <- struct{}{}
	}
	return len(p), nil
}

func (r *ringWriter) consume(w io.Writer) {
	defer close(r.done)
	out := make([]byte, 0, 1<<20)
	for {
		r.mu.Lock()
		for len(r.buf) == 0 {
			if r.stop {
				r.mu.Unlock()
				return
			}
			r.parked = true
			r.mu.Unlock()
			<-r.wake
			r.mu.Lock()
		}
		out = append(out[:0], r.buf...)
		r.buf = r.buf[:0]
		r.room.Broadcast()
		r.mu.Unlock()
		_, _ = w.Write(out)
	}
}

func (r *ringWriter) close() {
	r.mu.Lock()
	r.stop = true
	wake := r.parked
	r.parked = false
	r.mu.Unlock()
	if wake {
		r.wake <- struct{}{}
	}
	<-r.done
}

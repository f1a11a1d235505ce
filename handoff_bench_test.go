package asynclog

import (
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynclog/asynclog/internal/spool"
)

// naivePark is how the naive rings' one consumer waits: it parks on a
// one-slot channel when there is nothing, and only the producer that finds
// it parked nudges it.
type naivePark struct {
	mu     sync.Mutex
	parked bool
	stop   bool
	wake   chan struct{}
	done   chan struct{}
}

func newNaivePark() naivePark {
	return naivePark{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// unlockNudging unlocks mu, then wakes the consumer if it was parked.
func (p *naivePark) unlockNudging() {
	wake := p.parked
	p.parked = false
	p.mu.Unlock()
	if wake {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// awaitLocked returns with mu held once empty() is false, parking while it
// is true; once stopped with nothing left it returns false, mu released.
func (p *naivePark) awaitLocked(empty func() bool) bool {
	for empty() {
		if p.stop {
			p.mu.Unlock()
			return false
		}
		p.parked = true
		p.mu.Unlock()
		<-p.wake
		p.mu.Lock()
	}
	return true
}

// stopAndWait stops the consumer once it has taken everything, and waits
// for it.
func (p *naivePark) stopAndWait() {
	p.mu.Lock()
	p.stop = true
	p.parked = true // so that unlockNudging wakes it, parked or not
	p.unlockNudging()
	<-p.done
}

// naiveRing is the floor the queue's hand-off is measured against: the
// simplest bounded byte queue a Go programmer would write. Producers stamp
// the record with time.Now (as any log record must be) and copy its bytes
// under one mutex; one consumer goroutine takes everything there in one
// copy, parks on a one-slot channel when there is nothing, and is nudged
// only by the producer that finds it parked. It blocks producers when full
// and has no levels, no barrier, no counters and no eviction.
type naiveRing struct {
	naivePark
	notFul *sync.Cond
	buf    []byte
	times  []time.Time
}

func newNaiveRing(w io.Writer) *naiveRing {
	r := &naiveRing{naivePark: newNaivePark(), buf: make([]byte, 0, 1<<20)}
	r.notFul = sync.NewCond(&r.mu)
	go r.consume(w)
	return r
}

func (r *naiveRing) put(p []byte) {
	t := time.Now()
	r.mu.Lock()
	for len(r.buf)+len(p)+1 > cap(r.buf) {
		r.notFul.Wait()
	}
	r.buf = append(r.buf, p...)
	r.buf = append(r.buf, '\n')
	r.times = append(r.times, t)
	r.unlockNudging()
}

func (r *naiveRing) consume(w io.Writer) {
	defer close(r.done)
	out := make([]byte, 0, 1<<20)
	empty := func() bool { return len(r.buf) == 0 }
	for {
		r.mu.Lock()
		if !r.awaitLocked(empty) {
			return
		}
		out = append(out[:0], r.buf...)
		r.buf, r.times = r.buf[:0], r.times[:0]
		r.notFul.Broadcast()
		r.mu.Unlock()
		_, _ = w.Write(out)
	}
}

func (r *naiveRing) close() { r.stopAndWait() }

// naiveSpoolRing is naiveRing with its bytes in a spool: the floor of a
// durable hand-off. Producers stamp the record and Append it (its header,
// its bytes and their checksum, into the mapped file) under the one mutex;
// the consumer Reads everything there under it, writes it after unlocking,
// and Releases it under the lock again, as delivery at least once needs.
// No levels, barrier, counters, eviction or lock-free reservation.
type naiveSpoolRing struct {
	naivePark
	notFul *sync.Cond
	s      *spool.Spool
	seq    uint64
	wrote  int // records written, read once done is closed
}

func newNaiveSpoolRing(dir string, w io.Writer) (*naiveSpoolRing, error) {
	s, err := spool.Open(dir, defaultSpoolBytes)
	if err != nil {
		return nil, err
	}
	r := &naiveSpoolRing{naivePark: newNaivePark(), s: s}
	r.notFul = sync.NewCond(&r.mu)
	go r.consume(w)
	return r, nil
}

func (r *naiveSpoolRing) put(p []byte) {
	t := time.Now()
	r.mu.Lock()
	for !r.s.Append(r.seq, 0, t.UnixNano(), "", p) {
		r.notFul.Wait()
	}
	r.seq++
	r.unlockNudging()
}

func (r *naiveSpoolRing) consume(w io.Writer) {
	defer close(r.done)
	out := make([]byte, 0, 1<<20)
	var rec spool.Record
	empty := func() bool { return r.s.Unread() == 0 }
	for {
		r.mu.Lock()
		if !r.awaitLocked(empty) {
			return
		}
		out = out[:0]
		n := 0
		for len(out) < 1<<20 && r.s.Read(&rec) {
			out = append(out, rec.Encoded...)
			out = append(out, '\n')
			n++
		}
		r.mu.Unlock()
		_, _ = w.Write(out)
		r.wrote += n
		r.mu.Lock()
		_ = r.s.Release(n) // n records were read: Release cannot refuse them
		r.notFul.Broadcast()
		r.mu.Unlock()
	}
}

func (r *naiveSpoolRing) close() error {
	r.stopAndWait()
	return r.s.Close(true)
}

// handoffLine is a 160-byte text line, as the standard log package or
// slog's TextHandler writes one.
var handoffLine = []byte(`time=2026-01-01T00:00:00.000Z level=INFO msg="request served" method=GET path=/api/v1/users status=200 elapsed=1.5ms remote=10.0.0.1:54321` + "\n")

// BenchmarkHandoff measures the queue's own hand-off against the naive
// ring above, in the same run: NewWriter with a plain text line into
// WriterSink(io.Discard), against the ring's put into io.Discard, with 1
// and 4 producers; and the same through a spool on /dev/shm, against the
// naive ring with its bytes in a spool. Every record reaches the writer
// before the clock stops (the queue's Close, or the ring's close), so what
// the consumer costs the producers on this machine's shared CPUs is
// counted.
func BenchmarkHandoff(b *testing.B) {
	for _, producers := range []int{1, 4} {
		p := strconv.Itoa(producers) + "producers"
		b.Run("naive-ring/"+p, func(b *testing.B) {
			r := newNaiveRing(io.Discard)
			cpu := cpuTime()
			runProducers(b, producers, func() { r.put(handoffLine) })
			r.close()
			b.StopTimer()
			reportCPU(b, cpu)
		})
		b.Run("NewWriter/"+p, func(b *testing.B) { benchHandoff(b, producers, Options{}) })
		b.Run("naive-spool-ring-shm/"+p, func(b *testing.B) {
			r, err := newNaiveSpoolRing(shmBenchDir(b), io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime()
			runProducers(b, producers, func() { r.put(handoffLine) })
			if err := r.close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reportCPU(b, cpu)
			if r.wrote != b.N {
				b.Fatalf("wrote %d of %d", r.wrote, b.N)
			}
		})
		b.Run("NewWriter-spool-shm/"+p, func(b *testing.B) {
			benchHandoff(b, producers, Options{Spool: shmBenchDir(b)})
		})
	}
}

// shmBenchDir is a new directory on /dev/shm (tmpfs: no write-back), removed
// after the benchmark; the benchmark is skipped where there is none.
func shmBenchDir(b *testing.B) string {
	dir, err := os.MkdirTemp("/dev/shm", "asynclog-bench-")
	if err != nil {
		b.Skipf("no /dev/shm: %v", err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// benchHandoff is BenchmarkHandoff's NewWriter case with the queue's
// store chosen by opts.
func benchHandoff(b *testing.B, producers int, opts Options) {
	q, err := NewQueue(WriterSink(io.Discard), opts)
	if err != nil {
		b.Fatal(err)
	}
	w := NewWriter(q)
	cpu := cpuTime()
	runProducers(b, producers, func() { _, _ = w.Write(handoffLine) })
	if err := q.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportCPU(b, cpu)
	st := q.Stats()
	if st.Delivered != uint64(b.N) {
		b.Fatalf("delivered %d of %d", st.Delivered, b.N)
	}
	if st.Writes > 0 {
		b.ReportMetric(float64(st.Delivered)/float64(st.Writes), "records/write")
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the process's CPU time per record since start, the
// producers' and the consumer's together: less sensitive than ns/op to
// other processes sharing the machine's CPUs.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// runProducers splits b.N calls of log over n goroutines and waits for
// them; the timer runs from the first call to the last's return.
func runProducers(b *testing.B, n int, log func()) {
	b.ReportAllocs()
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range n {
		k := b.N / n
		if i < b.N%n {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range k {
				log()
			}
		}()
	}
	wg.Wait()
}

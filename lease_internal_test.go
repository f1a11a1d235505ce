package asynclog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLockFreeLogCallsNeverOverfillTheStore floods a small queue from 8
// producers through the lease while the sink lets one batch through at a
// time, so that the lease is closed and reopened at its bounds thousands
// of times: between batches, the records held (folded under the mutex)
// never exceed Size or MaxBytes, and at the end every record is delivered
// or counted dropped, each producer's delivered records once and in order.
func TestLockFreeLogCallsNeverOverfillTheStore(t *testing.T) {
	const (
		producers = 8
		each      = 3000
		size      = 100
		maxBytes  = 6000
	)
	tokens := make(chan struct{})
	var mu sync.Mutex
	got := make(map[int][]int) // producer -> record numbers, in delivery order
	writing := make(chan struct{}, 1)
	sink := SinkFunc(func(_ context.Context, batch []Record) error {
		select {
		case writing <- struct{}{}:
		default:
		}
		<-tokens
		mu.Lock()
		defer mu.Unlock()
		for _, r := range batch {
			var p, i int
			if _, err := fmt.Sscanf(string(r.Encoded), "p=%d i=%d", &p, &i); err != nil {
				continue // a drop notice
			}
			got[p] = append(got[p], i)
		}
		return nil
	})
	pub, err := NewQueue(sink, Options{Size: size, MaxBytes: maxBytes, BatchSize: 16, OnFull: DropNewest})
	if err != nil {
		t.Fatal(err)
	}
	q := pub.q
	m := q.store.(*memStore)
	// The first record goes to the consumer, which then waits in Write
	// for a token; the second opens a segment, leased, that nobody takes.
	w0 := NewWriter(pub)
	for i := range 2 {
		if _, err := fmt.Fprintf(w0, "p=%d i=%d\n", producers, i); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-writing
		}
	}
	if q.fast.Load() == nil {
		t.Fatal("no lease while the consumer is busy: the flood would not test it")
	}
	var wg sync.WaitGroup
	var left atomic.Int32
	left.Store(producers)
	for p := range producers {
		wg.Go(func() {
			defer left.Add(-1)
			w := NewWriter(pub)
			pad := strings.Repeat("x", 10+p*20)
			for i := range each {
				if _, err := fmt.Fprintf(w, "p=%d i=%d pad=%s\n", p, i, pad[:(i*7)%len(pad)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	checks, leased := 0, 0
	for left.Load() > 0 {
		if q.fast.Load() != nil {
			leased++
		}
		q.lock()
		n, b := m.n, m.bytes
		q.mu.Unlock()
		if n > size || b > maxBytes {
			t.Fatalf("the store holds %d records, %d bytes: bounds %d, %d", n, b, size, maxBytes)
		}
		checks++
		select {
		case tokens <- struct{}{}:
		default:
		}
	}
	wg.Wait()
	close(tokens) // every later Write goes through
	if err := pub.Close(); err != nil && !strings.Contains(err.Error(), "dropped") {
		t.Fatal(err)
	}
	s := pub.Stats()
	if s.Enqueued != producers*each+2 || s.Delivered+s.Dropped != s.Enqueued || s.Queued != 0 {
		t.Fatalf("stats do not add up: %+v", s)
	}
	delivered := 0
	for p, is := range got {
		for k := 1; k < len(is); k++ {
			if is[k] <= is[k-1] {
				t.Fatalf("producer %d: record %d delivered after %d", p, is[k], is[k-1])
			}
		}
		delivered += len(is)
	}
	if uint64(delivered) != s.Delivered {
		t.Fatalf("the sink got %d records, Stats.Delivered says %d", delivered, s.Delivered)
	}
	if s.Dropped == 0 || delivered == 0 {
		t.Fatalf("the flood neither filled the queue nor got through: %+v", s)
	}
	t.Logf("%d checks, %d with the lease open; %d delivered, %d dropped", checks, leased, delivered, s.Dropped)
}

// TestTheLogCallThatFillsHalfTheStoreWakesTheLingeringConsumer logs
// records one at a time into a queue whose consumer lingers for an hour
// (FlushInterval) once it sees records: only the log call that makes the
// store half full can wake it, and that call is a lock-free one. Either
// it sees the consumer asleep, or the consumer's second look sees its
// record; else the batch waits for the hour and the test fails.
func TestTheLogCallThatFillsHalfTheStoreWakesTheLingeringConsumer(t *testing.T) {
	const size, rounds = 64, 300
	got := make(chan int, size)
	sink := SinkFunc(func(_ context.Context, batch []Record) error {
		got <- len(batch)
		return nil
	})
	pub, err := NewQueue(sink, Options{Size: size, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	w := NewWriter(pub)
	fast := 0
	for round := range rounds {
		for i := range size / 2 {
			if pub.q.fast.Load() != nil {
				fast++
			}
			if _, err := fmt.Fprintf(w, "round=%d i=%d\n", round, i); err != nil {
				t.Fatal(err)
			}
		}
		for n := 0; n < size/2; {
			select {
			case k := <-got:
				n += k
			case <-time.After(20 * time.Second):
				t.Fatalf("round %d: %d of %d records delivered: the consumer was not woken", round, n, size/2)
			}
		}
	}
	if fast < rounds*(size/2-2) {
		t.Fatalf("only %d of %d records were logged while the lease was open", fast, rounds*size/2)
	}
	t.Logf("%d of %d records logged while the lease was open", fast, rounds*size/2)
}

// TestACallThatOutlivesItsSegmentsUseReservesNothing replays a log call
// descheduled between its loads of the reservation word and its CAS, while
// the queue goes on: 40,000 leases of the segment are opened and closed
// (a lease generation of 15 bits, as the word once had, would wrap), the
// segment is sealed, its records evicted, and it is reused at the very
// same count and offset with tighter bounds. The late CAS must fail, or it
// would reserve against bounds from the segment's previous use.
func TestACallThatOutlivesItsSegmentsUseReservesNothing(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	sink := SinkFunc(func(_ context.Context, batch []Record) error {
		for _, r := range batch {
			if string(r.Encoded) == "hold" {
				close(started)
				<-release
			}
		}
		return nil
	})
	pub, err := NewQueue(sink, Options{Size: 100, MaxBytes: 4096, BatchSize: 2, OnFull: DropOldest})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(release); pub.Close() }()
	q := pub.q
	rec := func(c byte, n int) Record { return Record{Level: slog.LevelInfo, Encoded: bytes.Repeat([]byte{c}, n)} }
	q.enqueue(ptr(Record{Level: slog.LevelInfo, Encoded: []byte("hold")}), false, false)
	<-started                                   // the consumer is inside Write: the store is the test's
	q.enqueue(ptr(rec('a', 200)), false, false) // opens segment s, leased
	s := q.fast.Load()
	if s == nil {
		t.Fatal("no lease after the first record")
	}
	r, lim := s.res.Load(), s.lim.Load() // the descheduled call's loads
	for range 40000 {
		q.lock()
		q.closeFastLocked()
		q.openFastLocked()
		q.mu.Unlock()
	}
	q.enqueue(ptr(rec('x', 3700)), false, false) // seals s
	q.enqueue(ptr(rec('y', 200)), false, false)  // evicts a: s is reused, y at a's place
	if q.fast.Load() != s {
		t.Fatal("the segment was not reused and leased again")
	}
	if n, o := unpackRes(s.res.Load()); n != 1 || o != 201 {
		t.Fatalf("reused segment at (%d, %d), want (1, 201)", n, o)
	}
	need := uint64(301)
	n, o := unpackRes(r)
	if n+1 > lim>>32 || o+need-(n+1) > lim&pairMax {
		t.Fatal("the late record does not fit the old bounds: the replay proves nothing")
	}
	if s.res.CompareAndSwap(r, r+1<<resNShift+need) {
		t.Fatal("a CAS prepared in the segment's previous use reserved in its next one")
	}
}

// TestBoundsAsLargeAsAnIntHoldsNeitherOverflowNorPress sets the lease's
// bounds with Size or MaxBytes at the largest int Options accepts: the
// half-full mark must not overflow into "always pressing" (a wake-up per
// record), nor the room into "no room" (every call under the mutex).
func TestBoundsAsLargeAsAnIntHoldsNeitherOverflowNorPress(t *testing.T) {
	for _, c := range []struct{ size, max int }{
		{defaultSize, math.MaxInt}, {math.MaxInt, defaultMaxBytes}, {math.MaxInt, math.MaxInt},
	} {
		m := newMemStore(c.size, c.max, defaultBatchSize)
		m.push(0, Record{Encoded: make([]byte, 100)}, false).write(&Record{Encoded: make([]byte, 100)})
		s := m.openLease()
		if s == nil {
			t.Fatalf("Size %d, MaxBytes %d: no lease", c.size, c.max)
		}
		if pressed(s.press.Load(), 2, 202) {
			t.Errorf("Size %d, MaxBytes %d: two records press the store (press %#x)", c.size, c.max, s.press.Load())
		}
		if lim := s.lim.Load(); lim>>32 < 2 || lim&pairMax < 200 {
			t.Errorf("Size %d, MaxBytes %d: no room for a second record (lim %#x)", c.size, c.max, lim)
		}
	}
}

// A consumer lingering for a batch is woken by a log call stamped at or
// after its wake time, and not only by its timer: when every processor
// runs a log call, the runtime runs that timer late (see queue.overdue).
// The linger here is an hour: only the overdue record can wake it, and it
// then takes what is there at once, in memory (through the lease) and in
// a spool (under the mutex). A record stamped seconds after the wake time
// is taken for one stamped ahead of the clock, and wakes nothing.
func TestALogCallAfterTheLingerWakesTheConsumer(t *testing.T) {
	for _, store := range []string{"memory", "spool"} {
		t.Run(store, func(t *testing.T) {
			got := make(chan string, 8)
			sink := SinkFunc(func(_ context.Context, batch []Record) error {
				for _, r := range batch {
					got <- r.Message
				}
				return nil
			})
			opts := Options{FlushInterval: time.Hour}
			if store == "spool" {
				opts.Spool = t.TempDir()
			}
			pub, err := NewQueue(sink, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			h := NewHandler(pub, nil)
			ctx := context.Background()
			if err := h.Handle(ctx, slog.NewRecord(time.Now(), slog.LevelInfo, "first", 0)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for pub.q.sleep.Load() != sleepOnBatch { // the consumer saw it, and lingers
				if time.Now().After(deadline) {
					t.Fatal("the consumer did not linger for the first record")
				}
				runtime.Gosched()
			}
			due := time.Unix(0, pub.q.due.Load())
			if err := h.Handle(ctx, slog.NewRecord(due.Add(2*time.Second), slog.LevelInfo, "ahead of the clock", 0)); err != nil {
				t.Fatal(err)
			}
			if m := pub.q.sleep.Load(); m != sleepOnBatch {
				t.Fatalf("a record stamped 2s after the wake time woke the consumer (sleep %d): taken for one stamped ahead of the clock, it must not", m)
			}
			if err := h.Handle(ctx, slog.NewRecord(due.Add(overdueSlack/2), slog.LevelInfo, "on time", 0)); err != nil {
				t.Fatal(err)
			}
			if m := pub.q.sleep.Load(); m != sleepOnBatch {
				t.Fatalf("a record stamped within the slack woke the consumer (sleep %d): its timer is on time, the call must not race it", m)
			}
			if err := h.Handle(ctx, slog.NewRecord(due.Add(time.Millisecond), slog.LevelInfo, "overdue", 0)); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"first", "ahead of the clock", "on time", "overdue"} {
				select {
				case m := <-got:
					if m != want {
						t.Fatalf("delivered %q, want %q", m, want)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%q not delivered: the lingering consumer was not woken", want)
				}
			}
		})
	}
}

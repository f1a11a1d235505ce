package asynclog

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMemStoreMatchesAModel drives the in-memory store directly (push,
// take, release, evictBelow) with random sizes (0, 1, exactly what is
// left, MaxBytes) and levels, against a plain slice model, and checks
// after each step every queued record's bytes, message and order, the
// record and byte bounds, and that evicted records do not hold memory
// without bound. Some copies are left unfinished until the consumer takes
// their segment, as a log call descheduled between reserve and copy would.
func TestMemStoreMatchesAModel(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		size := 1 + rng.IntN(40)
		maxBytes := 1 + rng.IntN(3000)
		batch := 1 + rng.IntN(16)
		m := newMemStore(size, maxBytes, batch)
		var model []Record
		type late struct {
			p   pending
			rec Record
		}
		var unfinished []late
		finish := func() {
			for _, u := range unfinished {
				u.p.write(&u.rec)
			}
			unfinished = unfinished[:0]
		}
		keep := slog.LevelError
		evictModel := func(l slog.Level, ok bool) {
			t.Helper()
			k := -1
			for i, r := range model {
				if r.Level < keep {
					k = i
					break
				}
			}
			if ok != (k >= 0) {
				t.Fatalf("seed %d: evictBelow ok=%v, model index %d", seed, ok, k)
			}
			if ok {
				if model[k].Level != l {
					t.Fatalf("seed %d: evictBelow returned %v, model has %v", seed, l, model[k].Level)
				}
				model = append(model[:k], model[k+1:]...)
			}
		}
		for step := range 400 {
			switch op := rng.IntN(10); {
			case op < 6: // push
				var n int
				switch rng.IntN(6) {
				case 0:
					n = 0
				case 1:
					n = maxBytes
				case 2:
					n = maxBytes - m.bytes // exactly what is left
				case 3:
					n = 1
				default:
					n = rng.IntN(maxBytes/2 + 1)
				}
				lvl := slog.LevelInfo
				if rng.IntN(3) == 0 {
					lvl = slog.LevelError
				}
				rec := testRec(step, max(n, 0), lvl)
				if m.never(rec) {
					if len(rec.Encoded) <= maxBytes {
						t.Fatalf("seed %d: never() for %d <= MaxBytes %d", seed, len(rec.Encoded), maxBytes)
					}
					continue
				}
				if !m.fits(rec) && rng.IntN(2) == 0 {
					for !m.fits(rec) { // DropOldest: evict below keep until it fits
						l, ok := m.evictBelow(keep)
						evictModel(l, ok)
						if !ok {
							break
						}
						checkMemStore(t, seed, m, model, len(unfinished) > 0)
					}
				}
				if !m.fits(rec) {
					continue
				}
				p := m.push(uint64(step), rec, false)
				if rng.IntN(4) == 0 {
					unfinished = append(unfinished, late{p, rec})
				} else {
					p.write(&rec)
				}
				model = append(model, rec)
			case op < 8: // take, as the consumer does, then release
				finish()
				s := m.take()
				if s == nil {
					if len(model) > 0 {
						t.Fatalf("seed %d: take found nothing, model holds %d", seed, len(model))
					}
					continue
				}
				if s.n > batch {
					t.Fatalf("seed %d: a batch of %d records, BatchSize %d", seed, s.n, batch)
				}
				k := 0
				s.fillEncoded() // as the consumer does
				for i := range s.n {
					s.wait(i)
					if s.meta[i].dead {
						continue
					}
					got, want := s.recs[i], model[k]
					if got.Message != want.Message || !bytes.Equal(got.Encoded, want.Encoded) {
						t.Fatalf("seed %d step %d: take %d: got %q (%d B), want %q (%d B)", seed, step, k, got.Message, len(got.Encoded), want.Message, len(want.Encoded))
					}
					k++
				}
				if k != s.live {
					t.Fatalf("seed %d: segment says %d live, holds %d", seed, s.live, k)
				}
				model = model[k:]
				s.reset()
				m.release(k, s)
			default: // evict
				l, ok := m.evictBelow(keep)
				evictModel(l, ok)
				checkMemStore(t, seed, m, model, len(unfinished) > 0)
				continue
			}
			checkMemStore(t, seed, m, model, true)
		}
		finish()
	}
}

// checkMemStore checks the store's queued records against the model, and
// its bounds.
func checkMemStore(t *testing.T, seed uint64, m *memStore, model []Record, copying bool) {
	t.Helper()
	if m.n != len(model) || m.n > m.size {
		t.Fatalf("seed %d: store holds %d, model %d, Size %d", seed, m.n, len(model), m.size)
	}
	total, k, held := 0, 0, 0
	for _, s := range m.segs {
		held += len(s.buf)
		for i := range s.n {
			if s.meta[i].dead {
				continue
			}
			if s.meta[i].level != model[k].Level || s.meta[i].size != len(model[k].Encoded) {
				t.Fatalf("seed %d: record %d is a %v of %d B, want a %v of %d B", seed, k, s.meta[i].level, s.meta[i].size, model[k].Level, len(model[k].Encoded))
			}
			if s.isDone(i) && s.recs[i].Message != model[k].Message {
				t.Fatalf("seed %d: record %d is %q, want %q", seed, k, s.recs[i].Message, model[k].Message)
			}
			total += len(model[k].Encoded)
			k++
		}
	}
	if m.bytes != total || total > m.max {
		t.Fatalf("seed %d: bytes %d, model bytes %d, max %d", seed, m.bytes, total, m.max)
	}
	// Evicted records are let go or copied down: the memory held stays
	// within twice the live bytes (each with its newline), plus a
	// segment's buf for each full batch of live records and two more (the
	// open one, and one sealed early by a record larger than guessed).
	// A segment is not copied down while a log call still copies into it,
	// and the copy happens at an eviction: the bound is checked after one,
	// with no copy under way.
	if limit := 2*(total+m.n) + (m.n/m.segRecs+2)*(m.maxBatch+1); held > limit && !copying && len(m.retrim) == 0 {
		dumpMemStore(t, m)
		t.Fatalf("seed %d: segments hold %d bytes for %d live bytes (limit %d)", seed, held, total, limit)
	}
}

func dumpMemStore(t *testing.T, m *memStore) {
	for k, s := range m.segs {
		t.Logf("seg %d: buf %d off %d recs %d live %d liveBytes %d dead %d open %v", k, len(s.buf), s.off, s.n, s.live, s.liveBytes, s.dead, m.active && k == len(m.segs)-1)
	}
	t.Logf("size %d max %d segRecs %d segBytes %d maxBatch %d", m.size, m.max, m.segRecs, m.segBytes, m.maxBatch)
}

// TestMemStoreNeverReusesASegmentStillBeingCopiedInto drives the store as
// the queue does, from 16 goroutines: reserve under a lock, copy after it,
// descheduled now and then between the two, with evictions at a keep level
// drawn for each record, and a consumer that takes, waits, reads and
// releases segments for reuse. A segment must not be reused, compacted or
// recycled while a copy into it is under way: every record read is intact,
// once, in its producer's order (and -race sees no race).
func TestMemStoreNeverReusesASegmentStillBeingCopiedInto(t *testing.T) {
	var mu sync.Mutex
	m := newMemStore(48, 4<<10, 8)
	var seq uint64
	line := func(p, i int) []byte {
		b := fmt.Appendf(nil, "p%02d-%06d-", p, i)
		for range (p*31 + i*17) % 200 {
			b = append(b, byte('a'+(p+i)%26))
		}
		return b
	}
	more := make(chan struct{}, 1) // the consumer's nudge
	const producers, each = 16, 3000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 1))
			for i := range each {
				rec := Record{Level: slog.Level(4 * (rng.IntN(4) - 1)), Encoded: line(p, i)}
				keep := slog.Level(4 * (rng.IntN(4) - 1))
				mu.Lock()
				fits := m.fits(rec)
				for !fits {
					if _, ok := m.evictBelow(keep); !ok {
						break
					}
					fits = m.fits(rec)
				}
				if !fits {
					mu.Unlock()
					continue
				}
				pd := m.push(seq, rec, false)
				seq++
				mu.Unlock()
				select {
				case more <- struct{}{}:
				default:
				}
				for range rng.IntN(4) * rng.IntN(4) {
					runtime.Gosched() // descheduled between reserve and copy
				}
				pd.write(&rec)
			}
		})
	}
	var errs []string
	last := map[int]int{}
	read := func(s *segment) {
		s.fillEncoded() // as the consumer does
		for i := range s.n {
			s.wait(i)
			if s.meta[i].dead {
				continue
			}
			enc := s.recs[i].Encoded
			var p, k int
			if _, err := fmt.Sscanf(string(enc[:min(len(enc), 10)]), "p%02d-%06d", &p, &k); err != nil {
				errs = append(errs, fmt.Sprintf("unreadable %q", enc))
				continue
			}
			if want := line(p, k); !bytes.Equal(want, enc) {
				errs = append(errs, fmt.Sprintf("p%d-%d corrupted: %q", p, k, enc))
			}
			if l, ok := last[p]; ok && l >= k {
				errs = append(errs, fmt.Sprintf("producer %d: %d after %d", p, k, l))
			}
			last[p] = k
		}
		s.reset()
		mu.Lock()
		m.release(0, s)
		mu.Unlock()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; ; {
		mu.Lock()
		s := m.take()
		mu.Unlock()
		if s != nil {
			read(s)
			continue
		}
		if finished {
			break
		}
		select {
		case <-more:
		case <-done:
			finished = true // one more take finds what the last pushes left
		}
	}
	assert.Empty(t, errs[:min(len(errs), 10)], "%d records not intact, twice or out of order", len(errs))
}

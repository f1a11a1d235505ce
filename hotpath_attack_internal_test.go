package asynclog

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// TestAttackMemStoreSlowCopies drives memStore as the queue does (reserve
// under a lock, copy after it), with copies descheduled on purpose for a
// while, evictions (with a moving keep level) and a consumer that takes,
// waits, reads and releases segments for reuse: a segment must never be
// reused, compacted or recycled while a copy into it is under way, so
// every record read is intact, once, in per-producer order.
func TestAttackMemStoreSlowCopies(t *testing.T) {
	var mu sync.Mutex
	m := newMemStore(48, 4<<10, 8)
	var seq uint64
	line := func(p, i int) []byte {
		n := (p*31 + i*17) % 200
		b := fmt.Appendf(nil, "p%02d-%06d-", p, i)
		for range n {
			b = append(b, byte('a'+(p+i)%26))
		}
		return b
	}
	const P, N = 16, 3000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var errs []string
	var emu sync.Mutex
	fail := func(s string) {
		emu.Lock()
		if len(errs) < 10 {
			errs = append(errs, s)
		}
		emu.Unlock()
	}
	for p := range P {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(p), 1))
			for i := range N {
				rec := Record{Level: slog.Level(4 * (rng.IntN(4) - 1)), Encoded: line(p, i)}
				mu.Lock()
				keep := slog.Level(4 * (rng.IntN(4) - 1))
				ok := true
				for !m.fits(rec) {
					if _, ev := m.evictBelow(keep); !ev {
						ok = false
						break
					}
				}
				if !ok {
					mu.Unlock()
					continue
				}
				pd := m.push(seq, rec, false)
				seq++
				mu.Unlock()
				for range rng.IntN(4) * rng.IntN(4) {
					runtime.Gosched() // descheduled between reserve and copy
				}
				pd.write(rec)
			}
		}()
	}
	var cwg sync.WaitGroup
	cwg.Add(1)
	go func() {
		defer cwg.Done()
		last := map[int]int{}
		for {
			mu.Lock()
			s := m.take()
			mu.Unlock()
			if s == nil {
				select {
				case <-stop:
					mu.Lock()
					s = m.take()
					mu.Unlock()
					if s == nil {
						return
					}
				default:
					runtime.Gosched()
					continue
				}
			}
			for i := range s.n {
				s.wait(i)
				if s.meta[i].dead {
					continue
				}
				enc := s.recs[i].Encoded
				var p, k int
				if _, err := fmt.Sscanf(string(enc[:10]), "p%02d-%06d", &p, &k); err != nil {
					fail(fmt.Sprintf("unreadable %q", enc))
					continue
				}
				if want := line(p, k); string(want) != string(enc) {
					fail(fmt.Sprintf("corrupt p%d-%d: %q", p, k, enc))
				}
				if l, ok := last[p]; ok && l >= k {
					fail(fmt.Sprintf("order/dup p%d: %d after %d", p, k, l))
				}
				last[p] = k
			}
			s.reset()
			mu.Lock()
			m.release(0, s)
			mu.Unlock()
		}
	}()
	wg.Wait()
	close(stop)
	cwg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
}

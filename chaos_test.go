package asynclog_test

// The chaos suite: runChaos's schedules in Block mode, in the drop modes,
// with a flaky fallback, and ending in a Shutdown too short to drain; and
// the Stats identity in every snapshot while a sink fails at random.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// chaosSeeds are the schedules TestChaos runs in Block mode. Each seed
// fixes the shape of the run (producers, records, queue and batch sizes,
// when Close comes) and the sink's sequence of faults; the goroutines'
// interleaving is the machine's.
var chaosSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// chaosScenario is what a chaos run varies beyond its seed.
type chaosScenario struct {
	policy asynclog.Overflow
	// deadline, if not zero, ends the run with Shutdown bounded by this
	// deadline instead of Close, so that records may be abandoned.
	deadline time.Duration
	// fallback adds a fallback sink, itself flaky, that takes the batches
	// the main sink gives up on.
	fallback bool
}

// TestChaos logs from many goroutines through zap and slog at once into a
// Block-mode queue whose sink is slow, flaky, partial, panicky and hanging
// by turns, with Flushes, zap Syncs and synchronous records at random
// moments and a Close part-way through, and checks the guarantees:
//
//   - every record whose log call returned before Close began is delivered
//     exactly once, or counted Failed (the sink never accepted it);
//   - Flush, and a synchronous record's log call, are barriers: once they
//     return, every record logged before them is delivered or counted;
//   - no record is delivered twice, and each goroutine's records arrive in
//     the order it logged them;
//   - Enqueued = Delivered + Dropped + Failed + Queued, with Queued 0 and
//     Delivered equal to what reached the sink;
//   - Flush and Close return well within their deadlines;
//   - no goroutine is left (TestMain's goleak).
func TestChaos(t *testing.T) {
	for _, seed := range chaosSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runChaos(t, seed, chaosScenario{policy: asynclog.Block})
		})
	}
}

// TestChaosDropModes runs the chaos schedules in the drop modes, where
// records may be dropped at any time: every check of TestChaos holds
// except that records logged before Close may be counted Dropped.
func TestChaosDropModes(t *testing.T) {
	for _, policy := range []asynclog.Overflow{asynclog.DropNewest, asynclog.DropOldest} {
		for _, seed := range chaosSeeds[:4] {
			t.Run(fmt.Sprintf("%v/seed=%d", policy, seed), func(t *testing.T) {
				runChaos(t, seed, chaosScenario{policy: policy})
			})
		}
	}
}

// TestChaosFallback adds a fallback sink, itself failing and panicking at
// times, behind the chaotic one: records may arrive at either sink but
// never at both, Delivered and FellBack count what each accepted, and
// the Block-mode guarantees hold.
func TestChaosFallback(t *testing.T) {
	for _, seed := range chaosSeeds[:6] {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runChaos(t, seed, chaosScenario{policy: asynclog.Block, fallback: true})
		})
	}
}

// TestChaosShutdownDeadline ends the chaos schedules with a Shutdown whose
// deadline is too short to drain, so that records are abandoned: Shutdown
// must return soon after its deadline, count what it abandoned as Failed
// and keep the identity, and no record may arrive twice or out of order.
func TestChaosShutdownDeadline(t *testing.T) {
	for _, seed := range chaosSeeds[:6] {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runChaos(t, seed, chaosScenario{policy: asynclog.Block, deadline: time.Duration(1+seed%3) * time.Millisecond})
		})
	}
}

// faultySink fails, panics, refuses part or delivers part at random.
type faultySink struct {
	n atomic.Int64
}

func (c *faultySink) Write(ctx context.Context, b []asynclog.Record) error {
	switch rand.IntN(8) {
	case 0:
		return errors.New("flaky")
	case 1:
		panic("chaos")
	case 2:
		return asynclog.Partial(errors.New("part"), rand.IntN(len(b)+2)-1)
	case 3:
		return asynclog.Delivered(errors.New("some"), rand.IntN(len(b)+2)-1)
	case 4:
		return asynclog.Permanent(errors.New("perm"))
	case 5:
		return asynclog.RetryAfter(errors.New("later"), time.Microsecond)
	}
	c.n.Add(int64(len(b)))
	return nil
}

// TestStatsAddUpInEverySnapshotUnderChaos: in each overflow policy, with
// many producers and a sink and fallback that fail, panic and deliver part
// at random, every Stats snapshot taken while records move keeps Enqueued
// = Delivered + Dropped + Failed + Queued; concurrent Flushes never freeze
// the queue; a Shutdown while producers still log leaves nothing queued,
// and no log call, Stats or Flush stays blocked after it.
func TestStatsAddUpInEverySnapshotUnderChaos(t *testing.T) {
	for _, mode := range []asynclog.Overflow{asynclog.Block, asynclog.DropNewest, asynclog.DropOldest} {
		t.Run(mode.String(), func(t *testing.T) {
			q, err := asynclog.NewQueue(&faultySink{}, asynclog.Options{
				Size: 16, MaxBytes: 2000, OnFull: mode, BatchSize: 5,
				MinBackoff: time.Microsecond, MaxBackoff: 10 * time.Microsecond, MaxAttempts: 3,
				BlockTimeout: 20 * time.Millisecond, Fallback: &faultySink{},
				OnError: func(error) {},
			})
			require.NoError(t, err, "NewQueue")
			log := slog.New(asynclog.NewHandler(q, nil))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var bad atomic.Pointer[asynclog.Stats]
			for p := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						lvl := slog.LevelInfo
						if i%5 == 0 {
							lvl = slog.LevelError
						}
						log.Log(context.Background(), lvl, "m", "p", p, "i", i, "pad", strings.Repeat("x", rand.IntN(300)))
					}
				}()
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if s := q.Stats(); !addsUp(s) {
						bad.Store(&s)
					}
				}
			}()
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					// No timeout: a Flush giving up as it is answered must
					// not freeze the queue
					// (TestFlushGivingUpAsItIsAnsweredKeepsTheQueueUsable).
					_ = q.Flush(context.Background())
				}
			}()
			// Load, not synchronisation: how long the producers, Stats and
			// Flush callers run against the faulty sink before Shutdown.
			time.Sleep(300 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_ = q.Shutdown(ctx)
			cancel()
			close(stop)
			waited := make(chan struct{})
			go func() { wg.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(3 * time.Second):
				require.Fail(t, "producers, Stats or Flush still blocked 3s after Shutdown returned")
			}
			if s := bad.Load(); s != nil {
				assert.Fail(t, "Stats do not add up in a snapshot", "%+v", *s)
			}
			checkIdentity(t, q.Stats())
		})
	}
}

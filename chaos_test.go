package asynclog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
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
}

// TestChaos logs from many goroutines through zap and slog at once into a
// Block-mode queue whose sink is slow, flaky, partial, panicky and hanging
// by turns, with Flushes, zap Syncs and synchronous records at random
// moments and a Close part-way through, and checks the guarantees:
//
//   - every record whose log call returned before Close began is delivered
//     exactly once, or counted Failed (the sink never accepted it);
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

// chaosKey identifies one logged record.
type chaosKey struct{ g, seq int }

func runChaos(t *testing.T, seed uint64, sc chaosScenario) {
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	producers := 4 + rng.IntN(5)
	perProducer := 150 + rng.IntN(250)
	total := producers * perProducer
	closeAt := total/4 + rng.IntN(total*3/4+1) // Close begins once this many log calls have returned
	opts := asynclog.Options{
		Size:         8 << rng.IntN(5), // 8 .. 128
		BatchSize:    2 + rng.IntN(31),
		OnFull:       sc.policy,
		KeepLevel:    slog.LevelError + 100, // in the drop modes every record may be dropped
		BlockTimeout: time.Minute,           // Block mode must not drop for want of time in this test
		CloseTimeout: 10 * time.Second,
		WriteTimeout: 20 * time.Millisecond, // a hanging Write costs this much
		MaxAttempts:  1 + rng.IntN(3),
		MinBackoff:   50 * time.Microsecond,
		MaxBackoff:   time.Millisecond,
		OnError:      func(error) {}, // failures are expected; the counters are checked
	}
	faults := asynclogtest.Faults{
		Seed:        seed,
		Delay:       200 * time.Microsecond,
		SlowRate:    0.3,
		FailRate:    0.15,
		PartialRate: 0.1,
		PanicRate:   0.1,
		HangRate:    0.02,
	}
	t.Logf("producers=%d records=%d closeAt=%d Size=%d BatchSize=%d MaxAttempts=%d", producers, total, closeAt, opts.Size, opts.BatchSize, opts.MaxAttempts)

	rec := asynclogtest.NewRecorder()
	sink := asynclogtest.Inject(rec, faults)
	q, err := asynclog.NewQueue(sink, opts)
	require.NoError(t, err, "NewQueue")

	zcfg := zap.NewProductionEncoderConfig()
	zcfg.MessageKey = "msg"
	zlog := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zcfg), zapcore.DebugLevel, q), zap.ErrorOutput(zapcore.AddSync(io.Discard)))
	slogger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var (
		logged    atomic.Int64
		closing   atomic.Bool
		closeNow  = make(chan struct{})
		closed    = make(chan struct{})
		mustUpTo  = make([]int, producers) // producer g's records below this seq returned before Close began
		closeErr  error
		closeTook time.Duration
		wg        sync.WaitGroup
	)
	for g := range producers {
		prng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			useZap := g%2 == 0
			for seq := range perProducer {
				roll := prng.IntN(100)
				switch {
				case useZap && roll == 0:
					zlog.DPanic("chaos", zap.Int("g", g), zap.Int("seq", seq)) // synchronous: above Error
				case useZap:
					zlog.Info("chaos", zap.Int("g", g), zap.Int("seq", seq))
					if roll < 3 {
						_ = zlog.Sync()
					}
				case roll == 0:
					slogger.Log(context.Background(), slog.LevelError+1, "chaos", "g", g, "seq", seq) // synchronous
				default:
					slogger.Info("chaos", "g", g, "seq", seq)
				}
				if !closing.Load() {
					mustUpTo[g] = seq + 1
				}
				if logged.Add(1) == int64(closeAt) {
					close(closeNow)
				}
			}
		})
	}
	wg.Go(func() { // flusher
		frng := rand.New(rand.NewPCG(seed, 0xf1))
		for {
			for range frng.IntN(200) {
				runtime.Gosched()
			}
			select {
			case <-closed:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := q.Flush(ctx) // an error here reports failed batches, which are expected
			assert.NoError(t, ctx.Err(), "Flush returned before its 10s deadline (it returned %v)", err)
			cancel()
		}
	})
	wg.Go(func() { // closer
		defer close(closed)
		<-closeNow
		closing.Store(true)
		start := time.Now()
		if sc.deadline > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), sc.deadline)
			closeErr = q.Shutdown(ctx)
			cancel()
		} else {
			closeErr = q.Close()
		}
		closeTook = time.Since(start)
	})
	wg.Wait()

	st := q.Stats()
	if sc.deadline > 0 {
		// Shutdown at its deadline: cancels the Write in flight (which
		// honours ctx) and returns within its grace of half a second.
		assert.Less(t, closeTook, sc.deadline+time.Second, "Shutdown returned soon after its deadline")
		assert.NotContains(t, fmt.Sprint(closeErr), "ignored cancellation", "the sink honours ctx, so the consumer stopped in time")
	} else {
		// Close: in time, and an error only for records given up on.
		assert.Less(t, closeTook, opts.CloseTimeout, "Close returned within its deadline")
		assert.NotContains(t, fmt.Sprint(closeErr), "not delivered", "Close drained everything before its deadline")
		if st.Failed == 0 {
			assert.NoError(t, closeErr, "Close reports an error only if records failed: %+v", st)
		}
	}

	// What reached the sink: no duplicates, order per producer.
	delivered := map[chaosKey]bool{}
	lastSeq := make([]int, producers)
	for i := range lastSeq {
		lastSeq[i] = -1
	}
	notices := 0
	for _, r := range rec.Records() {
		var m struct {
			G   *int `json:"g"`
			Seq int  `json:"seq"`
		}
		require.NoError(t, json.Unmarshal(r.Encoded, &m), "a delivered record is JSON: %q", r.Encoded)
		if m.G == nil {
			notices++ // a drop notice: records logged after Close began
			continue
		}
		k := chaosKey{*m.G, m.Seq}
		require.False(t, delivered[k], "record %+v delivered twice", k)
		delivered[k] = true
		require.Greater(t, k.seq, lastSeq[k.g], "producer %d's records arrive in order", k.g)
		lastSeq[k.g] = k.seq
	}

	// The accounting.
	assert.Equal(t, uint64(total), st.Enqueued, "every log call enqueued a record: %+v", st)
	assert.Zero(t, st.Queued, "nothing queued after Close: %+v", st)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Dropped+st.Failed+uint64(st.Queued), "Enqueued = Delivered + Dropped + Failed + Queued: %+v", st)
	if sc.deadline > 0 {
		// The batch in flight at the deadline is counted Failed, though
		// the sink may still have taken it: its fate was unknown then.
		assert.LessOrEqual(t, st.Delivered, uint64(len(delivered)), "Delivered counts only what the sink accepted: %+v", st)
		assert.LessOrEqual(t, uint64(len(delivered))-st.Delivered, uint64(opts.BatchSize), "at most the batch in flight is both taken and counted Failed: %+v", st)
	} else {
		assert.Equal(t, uint64(len(delivered)), st.Delivered, "Delivered counts exactly what the sink accepted (%d drop notices aside): %+v", notices, st)
	}

	// Records logged before Close began: delivered, or counted Failed.
	missingMust, must := 0, 0
	for g := range producers {
		must += mustUpTo[g]
		for seq := range mustUpTo[g] {
			if !delivered[chaosKey{g, seq}] {
				missingMust++
			}
		}
	}
	if sc.policy == asynclog.Block {
		assert.LessOrEqual(t, uint64(missingMust), st.Failed, "each of the %d records logged before Close began that did not arrive is counted Failed: %+v", must, st)
		assert.LessOrEqual(t, st.Dropped, uint64(total-must), "only records logged after Close began are dropped in Block mode: %+v", st)
	} else {
		assert.LessOrEqual(t, uint64(missingMust), st.Failed+st.Dropped, "each of the %d records logged before Close began that did not arrive is counted Failed or Dropped: %+v", must, st)
	}
	t.Logf("stats %+v; sink %+v; close took %v", st, sink.Counts(), closeTook)
}

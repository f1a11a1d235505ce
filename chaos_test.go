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

// chaosSeeds are the schedules TestChaos runs. Each seed fixes the shape of
// the run (producers, records, queue and batch sizes, when Close comes) and
// the sink's sequence of faults; the goroutines' interleaving is the
// machine's.
var chaosSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

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
			runChaos(t, seed)
		})
	}
}

// chaosKey identifies one logged record.
type chaosKey struct{ g, seq int }

func runChaos(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	producers := 4 + rng.IntN(5)
	perProducer := 150 + rng.IntN(250)
	total := producers * perProducer
	closeAt := total/4 + rng.IntN(total*3/4+1) // Close begins once this many log calls have returned
	opts := asynclog.Options{
		Size:         8 << rng.IntN(5), // 8 .. 128
		BatchSize:    2 + rng.IntN(31),
		OnFull:       asynclog.Block,
		BlockTimeout: time.Minute, // Block mode must not drop for want of time in this test
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
		closeErr = q.Close()
		closeTook = time.Since(start)
	})
	wg.Wait()

	// Close: in time, and an error only for records given up on.
	assert.Less(t, closeTook, opts.CloseTimeout, "Close returned within its deadline")
	if closeErr != nil {
		assert.NotContains(t, closeErr.Error(), "not delivered", "Close drained everything before its deadline")
	}
	st := q.Stats()
	if st.Failed == 0 {
		assert.NoError(t, closeErr, "Close reports an error only if records failed: %+v", st)
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
	assert.Equal(t, uint64(len(delivered)), st.Delivered, "Delivered counts exactly what the sink accepted (%d drop notices aside): %+v", notices, st)

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
	assert.LessOrEqual(t, uint64(missingMust), st.Failed, "each of the %d records logged before Close began that did not arrive is counted Failed: %+v", must, st)
	assert.LessOrEqual(t, st.Dropped, uint64(total-must), "only records logged after Close began are dropped in Block mode: %+v", st)
	t.Logf("stats %+v; sink %+v; close took %v", st, sink.Counts(), closeTook)
}

package asynclog_test

// runChaos, one chaos schedule: producers log through zap and slog into a
// queue whose sink (asynclogtest.Inject) is slow, flaky, partial, panicky
// and hanging by turns, with Flushes, zap Syncs and synchronous records at
// random moments and a Close or Shutdown part-way through. It checks each
// barrier as it returns, and at the end the guarantees TestChaos lists;
// chaosSeen keeps what has arrived.

import (
	"context"
	"encoding/json"
	"errors"
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

// chaosKey identifies one logged record.
type chaosKey struct{ g, seq int }

// chaosSeen parses the records a Recorder has received, incrementally, so
// that the barrier checks during a run cost little.
type chaosSeen struct {
	mu     sync.Mutex
	recs   []*asynclogtest.Recorder
	parsed []int
	keys   map[chaosKey]bool
}

// missing returns how many of the records below upTo[g], for each producer
// g, have not arrived.
func (c *chaosSeen) missing(t *testing.T, upTo []int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, rec := range c.recs {
		recs := rec.Records()
		for _, r := range recs[c.parsed[i]:] {
			var m struct {
				G   *int `json:"g"`
				Seq int  `json:"seq"`
			}
			if err := json.Unmarshal(r.Encoded, &m); !assert.NoError(t, err, "a delivered record is JSON: %q", r.Encoded) {
				continue
			}
			if m.G != nil {
				c.keys[chaosKey{*m.G, m.Seq}] = true
			}
		}
		c.parsed[i] = len(recs)
	}
	n := 0
	for g, up := range upTo {
		for seq := range int(up) {
			if !c.keys[chaosKey{g, seq}] {
				n++
			}
		}
	}
	return n
}

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
	fbRec := asynclogtest.NewRecorder()
	if sc.fallback {
		opts.Fallback = asynclogtest.Inject(fbRec, asynclogtest.Faults{Seed: seed + 1000, FailRate: 0.3, PanicRate: 0.1})
	}
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
		mustUpTo  = make([]int, producers)          // producer g's records below this seq returned before Close began
		returned  = make([]atomic.Int64, producers) // producer g's log calls that have returned
		seen      = &chaosSeen{recs: []*asynclogtest.Recorder{rec, fbRec}, parsed: make([]int, 2), keys: map[chaosKey]bool{}}
		closeErr  error
		closeTook time.Duration
		wg        sync.WaitGroup
	)
	// barrier checks that what is below upTo has been handled: delivered, or
	// counted Failed (or Dropped, in the drop modes or once Close began).
	barrier := func(what string, upTo []int64, mayDrop bool) {
		st := q.Stats() // before the records: counters only grow, records only arrive
		limit := st.Failed
		if mayDrop || sc.policy != asynclog.Block {
			limit += st.Dropped
		}
		missing := seen.missing(t, upTo)
		assert.LessOrEqual(t, uint64(missing), limit, "%s is a barrier: the records logged before it are delivered or counted (%d missing): %+v", what, missing, st)
	}
	for g := range producers {
		prng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			useZap := g%2 == 0
			for seq := range perProducer {
				roll := prng.IntN(100)
				switch {
				case useZap && roll == 0:
					zlog.DPanic("chaos", zap.Int("g", g), zap.Int("seq", seq)) // synchronous: above Error
					if !closing.Load() {
						// Returned before Close began: accepted, and waited for all before it
						// (once Close has begun it may be dropped, and then it does not wait).
						upTo := make([]int64, producers)
						upTo[g] = int64(seq + 1)
						barrier("a synchronous zap record", upTo, false)
					}
				case useZap:
					zlog.Info("chaos", zap.Int("g", g), zap.Int("seq", seq))
					if roll < 3 {
						_ = zlog.Sync()
					}
				case roll == 0:
					slogger.Log(context.Background(), slog.LevelError+1, "chaos", "g", g, "seq", seq) // synchronous
					if !closing.Load() {
						// Returned before Close began: accepted, and waited for all before it
						// (once Close has begun it may be dropped, and then it does not wait).
						upTo := make([]int64, producers)
						upTo[g] = int64(seq + 1)
						barrier("a synchronous slog record", upTo, false)
					}
				default:
					slogger.Info("chaos", "g", g, "seq", seq)
				}
				returned[g].Store(int64(seq + 1))
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
			upTo := make([]int64, producers)
			for g := range upTo {
				upTo[g] = returned[g].Load()
			}
			mayDrop := closing.Load() // read after the counts: false means they all returned before Close began
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := q.Flush(ctx) // an error here reports failed batches, which are expected
			assert.NoError(t, ctx.Err(), "Flush returned before its 10s deadline (it returned %v)", err)
			cancel()
			if !errors.Is(err, asynclog.ErrClosed) { // abandoned at a Shutdown deadline: counted Failed, checked at the end
				barrier("Flush", upTo, mayDrop)
			}
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
		// honours ctx) and returns within its grace of half a second. Real
		// time, with a generous margin: the chaos suite is about real
		// interleavings of many goroutines on real CPUs, so it does not run
		// on synctest's clock (the exact bounds are checked there by
		// TestShutdownHungSink and TestShutdownSinkIgnoringCtx).
		assert.Less(t, closeTook, sc.deadline+time.Second, "Shutdown returned soon after its deadline")
		// The bound is ctx: the consumer may still be returning from its
		// cancelled Write then. The sink honours ctx, so a second
		// Shutdown, which waits for the consumer, returns the same result.
		again := q.Shutdown(context.Background())
		assert.Equal(t, fmt.Sprint(q.Shutdown(context.Background())), fmt.Sprint(again), "one result for every Shutdown once the consumer exited")
	} else {
		// Close: in time, and an error only for records given up on. Real
		// time, as above; CloseTimeout is far above a drain's cost.
		assert.Less(t, closeTook, opts.CloseTimeout, "Close returned within its deadline")
		assert.NotContains(t, fmt.Sprint(closeErr), "not delivered", "Close drained everything before its deadline")
		switch {
		case st.Failed == 0 && st.Dropped == 0:
			assert.NoError(t, closeErr, "Close reports an error only if records were lost: %+v", st)
		case st.Failed == 0 && closeErr != nil:
			assert.ErrorIs(t, closeErr, asynclog.ErrDropped, "with nothing failed, Close can only report drops: %+v", st)
		}
	}

	// What reached the sinks: no duplicates, order per producer and sink.
	delivered := map[chaosKey]bool{}
	notices, fellBack := 0, 0
	for i, r := range append(rec.Records(), fbRec.Records()...) {
		fromFallback := i >= rec.Len()
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
		if fromFallback {
			fellBack++
		}
	}
	for name, r := range map[string]*asynclogtest.Recorder{"sink": rec, "fallback sink": fbRec} {
		lastSeq := make([]int, producers)
		for i := range lastSeq {
			lastSeq[i] = -1
		}
		for _, r := range r.Records() {
			var m struct {
				G   *int `json:"g"`
				Seq int  `json:"seq"`
			}
			if json.Unmarshal(r.Encoded, &m) != nil || m.G == nil {
				continue
			}
			require.Greater(t, m.Seq, lastSeq[*m.G], "producer %d's records arrive at the %s in order", *m.G, name)
			lastSeq[*m.G] = m.Seq
		}
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
		assert.Equal(t, uint64(len(delivered)), st.Delivered, "Delivered counts exactly what the sinks accepted (%d drop notices aside): %+v", notices, st)
		assert.Equal(t, uint64(fellBack), st.FellBack, "FellBack counts exactly what the fallback sink accepted: %+v", st)
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

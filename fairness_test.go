package asynclog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// stepSink lets a test hand out Writes one at a time.
type stepSink struct {
	next    asynclog.Sink
	started chan int // the batch size of each Write that begins
	step    chan struct{}
}

func newStepSink(next asynclog.Sink) *stepSink {
	return &stepSink{next: next, started: make(chan int, 1024), step: make(chan struct{})}
}

// waitStart waits for the next Write to begin.
func (s *stepSink) waitStart(t *testing.T) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(10 * time.Second):
		require.Fail(t, "no Write began within 10s: records were lost")
	}
}

func (s *stepSink) Write(ctx context.Context, b []asynclog.Record) error {
	s.started <- len(b)
	select {
	case <-s.step:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.next.Write(ctx, b)
}

// TestBlockServesWaitersInArrivalOrder: room freed by the consumer goes to
// the log calls that have waited longest, never to one that came later.
func TestBlockServesWaitersInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		step := newStepSink(sink)
		q := newQueue(t, step, asynclog.Options{Size: 1, BatchSize: 1, BlockTimeout: time.Hour})
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelInfo, 0, 1)
		<-step.started                // record 0 is in the sink's hands
		logN(l, slog.LevelInfo, 1, 1) // fills the queue
		const waiters = 8
		var wg sync.WaitGroup
		for i := 2; i < 2+waiters; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				logN(l, slog.LevelInfo, i, 1)
			}()
			synctest.Wait() // this one waits before the next starts
			require.Equal(t, i+1, q.Stats().Queued, "log calls queued or waiting")
		}
		for range 1 + waiters {
			step.step <- struct{}{}
			step.waitStart(t)
		}
		step.step <- struct{}{}
		wg.Wait()
		require.NoError(t, q.Flush(context.Background()))
		var got []float64
		for _, r := range sink.all() {
			got = append(got, decode(t, r.Encoded)["i"].(float64))
		}
		want := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		assert.Equal(t, want, got, "waiters served in arrival order")
	})
}

// TestBlockTimeoutRestartsOnProgress: a waiter whose wait is much longer
// than BlockTimeout in all, while records keep leaving the queue, is not
// dropped: BlockTimeout is for a sink that makes no progress.
func TestBlockTimeoutRestartsOnProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		step := newStepSink(sink)
		const timeout = 300 * time.Millisecond
		q := newQueue(t, step, asynclog.Options{Size: 1, BatchSize: 1, BlockTimeout: timeout})
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelInfo, 0, 1)
		step.waitStart(t)
		logN(l, slog.LevelInfo, 1, 1)
		const waiters = 6
		var wg sync.WaitGroup
		for i := 2; i < 2+waiters; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				logN(l, slog.LevelInfo, i, 1)
			}()
			synctest.Wait() // the log call waits for room, behind the earlier ones
			require.Equal(t, i+1, q.Stats().Queued, "log calls queued or waiting")
		}
		start := time.Now()
		for range 1 + waiters {
			time.Sleep(timeout / 3) // the sink's pace on the bubble's clock: slow, but never stuck for a whole BlockTimeout
			step.step <- struct{}{}
			step.waitStart(t)
		}
		step.step <- struct{}{}
		wg.Wait()
		waited := time.Since(start)
		require.NoError(t, q.Flush(context.Background()), "nothing dropped")
		assert.Greater(t, waited, timeout, "the last waiter waited longer than BlockTimeout in all")
		assert.Len(t, sink.all(), 2+waiters, "every record delivered")
		assert.Zero(t, q.Stats().Dropped)
	})
}

// TestBlockFloodLosesNothing: many producers against a slow but live sink
// in Block mode, the default: nothing is dropped, order per producer holds.
func TestBlockFloodLosesNothing(t *testing.T) {
	sink := newRecSink()
	var writes atomic.Int64
	slow := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		writes.Add(1)
		time.Sleep(time.Millisecond) // load, not synchronisation: a slow but live sink
		return sink.Write(ctx, b)
	})
	q := newQueue(t, slow, asynclog.Options{Size: 256, BatchSize: 64})
	l := slog.New(asynclog.NewHandler(q, nil))
	const producers, each = 32, 300
	var wg sync.WaitGroup
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Info("rec", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close())
	st := q.Stats()
	assert.Zero(t, st.Dropped, "Block loses nothing while the sink makes progress: %+v", st)
	next := make([]int, producers)
	for _, r := range sink.all() {
		m := decode(t, r.Encoded)
		g, i := int(m["g"].(float64)), int(m["i"].(float64))
		require.Equal(t, next[g], i, "producer %d's records in order", g)
		next[g]++
	}
	for g := range producers {
		assert.Equal(t, each, next[g], "producer %d: every record delivered", g)
	}
}

// TestKeepLevelEvictsDuringMinInterval: with DropOldest and a consumer
// waiting out MinInterval, Error records evict warnings at once instead of
// waiting behind them (and being dropped when the wait runs out).
func TestKeepLevelEvictsDuringMinInterval(t *testing.T) {
	for _, policy := range []asynclog.Overflow{asynclog.DropOldest, asynclog.DropNewest} {
		t.Run(policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newRecSink()
				q := newQueue(t, sink, asynclog.Options{Size: 100, MinInterval: time.Hour, OnFull: policy, BlockTimeout: time.Hour})
				l := slog.New(asynclog.NewHandler(q, nil))
				l.Error("first")
				require.NoError(t, q.Flush(context.Background())) // written; the next batch waits an hour
				logN(l, slog.LevelWarn, 0, 300)
				done := make(chan struct{})
				start := time.Now()
				go func() {
					defer close(done)
					logN(l, slog.LevelError, 1000, 10)
				}()
				<-done
				assert.Zero(t, time.Since(start), "Error records evict warnings at once instead of waiting for room behind them")
				err := q.Close()
				require.ErrorIs(t, err, asynclog.ErrDropped, "warnings were dropped, and Close says so")
				var errs, warns int
				for _, r := range sink.all() {
					switch {
					case r.Level == slog.LevelError:
						errs++
					case r.Message == "rec":
						warns++
					}
				}
				assert.Equal(t, 11, errs, "every Error record delivered")
				assert.Equal(t, 90, warns, "the warnings that fit beside them")
				checkIdentity(t, q.Stats())
			})
		})
	}
}

// TestMaxBytesBoundsTheQueue: records are counted in bytes too; a record
// larger than MaxBytes is dropped and counted, never held whole.
func TestMaxBytesBoundsTheQueue(t *testing.T) {
	sink := newRecSink()
	gate := newGateSink(sink, true)
	q := newQueue(t, gate, asynclog.Options{Size: 1000, MaxBytes: 10 << 10, OnFull: asynclog.DropNewest})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("first")
	gate.waitStarted(t)
	pad := strings.Repeat("x", 900)
	for i := range 50 {
		l.Info("big", "i", i, "pad", pad) // about 950 bytes each: ten fit in 10 KiB
	}
	l.Info("huge", "pad", strings.Repeat("y", 20<<10)) // larger than MaxBytes
	st := q.Stats()
	assert.LessOrEqual(t, st.Queued, 1+11, "MaxBytes, not Size, bounds the queue: %+v", st)
	assert.GreaterOrEqual(t, st.Dropped, uint64(40), "%+v", st)
	gate.open()
	err := q.Close()
	require.ErrorIs(t, err, asynclog.ErrDropped)
	for _, m := range sink.messages() {
		assert.NotEqual(t, "huge", m, "a record larger than MaxBytes is not delivered")
	}
	checkIdentity(t, q.Stats())
}

// TestMemoryBoundedInBytes: 60 records of 1 MiB into a stuck sink hold
// about MaxBytes (16 MiB), not 60 MiB.
func TestMemoryBoundedInBytes(t *testing.T) {
	gate := newGateSink(nil, true)
	q := newQueue(t, gate, asynclog.Options{OnFull: asynclog.DropNewest})
	l := slog.New(asynclog.NewHandler(q, nil))
	big := strings.Repeat("z", 1<<20)
	l.Info("first", "pad", big)
	gate.waitStarted(t)
	before := heapInUse()
	for range 60 {
		l.Info("big", "pad", big)
	}
	after := heapInUse()
	growth := int64(after) - int64(before)
	bound := int64(q.Options().MaxBytes) + 4<<20
	t.Logf("heap in use %d KiB before, %d KiB after; %+v", before>>10, after>>10, q.Stats())
	assert.LessOrEqual(t, growth, bound, "heap growth bounded by MaxBytes")
	gate.open()
	require.ErrorIs(t, q.Close(), asynclog.ErrDropped)
}

// TestFlushGivingUpLeavesNothing: Flushes that give up on a blocked sink
// leave nothing behind in the queue.
func TestFlushGivingUpLeavesNothing(t *testing.T) {
	gate := newGateSink(nil, true)
	q := newQueue(t, gate, asynclog.Options{Size: 1024})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("stuck")
	gate.waitStarted(t)
	l.Info("queued")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = q.Flush(ctx) // warm
	before := heapInUse()
	for range 50_000 {
		require.ErrorIs(t, q.Flush(ctx), context.Canceled)
	}
	after := heapInUse()
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "50,000 abandoned Flushes hold no memory")
	gate.open()
	require.NoError(t, q.Flush(context.Background()))
}

// TestFlushReportsLosses: a Flush says what was lost of what was logged
// before it; every Flush waiting sees the loss; the next Flush sees
// nothing new.
func TestFlushReportsLosses(t *testing.T) {
	t.Run("dropped before the Flush", func(t *testing.T) {
		gate := newGateSink(nil, true)
		q := newQueue(t, gate, asynclog.Options{Size: 1, OnFull: asynclog.DropNewest})
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelInfo, 0, 1)
		gate.waitStarted(t)
		logN(l, slog.LevelInfo, 1, 5) // one queued, four dropped
		gate.open()
		err := q.Flush(context.Background())
		require.ErrorIs(t, err, asynclog.ErrDropped)
		assert.Contains(t, err.Error(), "dropped: 4", "with the count")
		assert.NoError(t, q.Flush(context.Background()), "nothing new since")
	})
	t.Run("a failure with no Flush waiting goes to the next", func(t *testing.T) {
		var calls atomic.Int32
		sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error {
			calls.Add(1)
			return asynclog.Permanent(fmt.Errorf("refused"))
		})
		q := newQueue(t, sink, asynclog.Options{OnError: func(error) {}})
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("refused")
		require.Error(t, q.Flush(context.Background()))
		require.NoError(t, q.Flush(context.Background()))
		l.Info("refused again")
		for calls.Load() < 2 {
			runtime.Gosched()
		}
		require.Error(t, q.Flush(context.Background()), "the next Flush reports it")
	})
	t.Run("after Close", func(t *testing.T) {
		q := newQueue(t, newRecSink(), asynclog.Options{})
		require.NoError(t, q.Close())
		assert.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrClosed)
	})
}

// TestFlushesShareWrites: 200 goroutines each logging and flushing against
// a 1 ms sink share Writes, as a group commit does.
func TestFlushesShareWrites(t *testing.T) {
	var writes atomic.Int64
	sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error {
		writes.Add(1)
		time.Sleep(time.Millisecond) // load, not synchronisation: a 1 ms sink keeps Flushes waiting together
		return nil
	})
	q := newQueue(t, sink, asynclog.Options{})
	l := slog.New(asynclog.NewHandler(q, nil))
	const goroutines, each = 200, 10
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				l.Info("rec")
				assert.NoError(t, q.Flush(context.Background()))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close())
	t.Logf("%d Writes for %d log+Flush calls", writes.Load(), goroutines*each)
	assert.Less(t, writes.Load(), int64(goroutines*each/4), "Flushes waiting together share Writes")
	assert.Equal(t, uint64(goroutines*each), q.Stats().Delivered)
}

// TestCallsFromTheConsumer: Flush, Close and Shutdown called from OnError
// or from a Sink return ErrReentrant at once instead of deadlocking.
func TestCallsFromTheConsumer(t *testing.T) {
	var q *asynclog.Queue
	got := make(chan error, 6)
	sink := asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
		got <- q.Flush(ctx)
		got <- q.Shutdown(ctx)
		return asynclog.Permanent(fmt.Errorf("no"))
	})
	q = newQueue(t, sink, asynclog.Options{OnError: func(error) {
		got <- q.Flush(context.Background())
		got <- q.Close()
	}})
	slog.New(asynclog.NewHandler(q, nil)).Info("one")
	for range 4 {
		select {
		case err := <-got:
			assert.ErrorIs(t, err, asynclog.ErrReentrant)
		case <-time.After(10 * time.Second):
			require.Fail(t, "a call from the consumer deadlocked")
		}
	}
	require.Error(t, q.Flush(context.Background()), "the refused record is reported")
	require.NoError(t, q.Close(), "Close from the program itself still works")
}

// TestBlockKeepsEachProducersOrderBehindASlowSink: Block mode, a small
// queue and a slow sink: waiting log calls are let in in arrival order, so
// every producer's records are delivered in its own order, and nothing is
// lost.
func TestBlockKeepsEachProducersOrderBehindASlowSink(t *testing.T) {
	var mu sync.Mutex
	var got []string
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		time.Sleep(200 * time.Microsecond) // load, not synchronisation: a slow sink keeps producers waiting
		mu.Lock()
		for _, r := range b {
			got = append(got, r.Message)
		}
		mu.Unlock()
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 4, BatchSize: 2, BlockTimeout: time.Second})
	require.NoError(t, err, "NewQueue")
	log := slog.New(asynclog.NewHandler(q, nil))
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				log.Info(fmt.Sprintf("p%d-%04d", p, i))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close(), "Close")
	s := q.Stats()
	assert.Zero(t, s.Dropped, "nothing dropped: %+v", s)
	assert.EqualValues(t, 1600, s.Delivered, "everything delivered: %+v", s)
	last := map[string]string{}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range got {
		p := m[:2]
		require.Greater(t, m, last[p], "per-producer order")
		last[p] = m
	}
}

// TestFlushAndCloseFromTheSinkOrOnErrorSayErrReentrant: Flush and Close
// called from Sink.Write, and Flush called from OnError, return
// ErrReentrant instead of waiting for the consumer they run on; the
// caller's own Flush still reports the failure.
func TestFlushAndCloseFromTheSinkOrOnErrorSayErrReentrant(t *testing.T) {
	var q *asynclog.Queue
	var fromSink, fromOnErr atomic.Pointer[error]
	ready := make(chan struct{})
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		<-ready
		e1 := q.Flush(ctx)
		e2 := q.Close()
		e := errors.Join(e1, e2)
		if !errors.Is(e1, asynclog.ErrReentrant) || !errors.Is(e2, asynclog.ErrReentrant) {
			fromSink.Store(&e)
		}
		return errors.New("fail once")
	})
	var err error
	q, err = asynclog.NewQueue(sink, asynclog.Options{MaxAttempts: 1, OnError: func(error) {
		e := q.Flush(context.Background())
		if !errors.Is(e, asynclog.ErrReentrant) {
			fromOnErr.Store(&e)
		}
	}})
	require.NoError(t, err, "NewQueue")
	close(ready)
	slog.New(asynclog.NewHandler(q, nil)).Info("x")
	assert.Error(t, q.Flush(context.Background()), "Flush reports the failure")
	q.Close()
	if e := fromSink.Load(); e != nil {
		assert.Fail(t, "Flush or Close from the Sink did not say ErrReentrant", "%v", *e)
	}
	if e := fromOnErr.Load(); e != nil {
		assert.Fail(t, "Flush from OnError did not say ErrReentrant", "%v", *e)
	}
}

// TestKeptRecordsEvictLowerOnesWhilePacingAndAreAllDelivered: DropNewest
// and DropOldest with a long MinInterval: Error records evict Info ones
// while the consumer waits out the interval, Flushes meanwhile do not wait
// out MinInterval, and every Error record is delivered, in order.
func TestKeptRecordsEvictLowerOnesWhilePacingAndAreAllDelivered(t *testing.T) {
	for _, mode := range []asynclog.Overflow{asynclog.DropNewest, asynclog.DropOldest} {
		t.Run(mode.String(), func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
				mu.Lock()
				for _, r := range b {
					got = append(got, r.Message)
				}
				mu.Unlock()
				return nil
			})
			q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 8, MaxBytes: 1500, OnFull: mode, MinInterval: time.Hour, OnError: func(error) {}})
			require.NoError(t, err, "NewQueue")
			log := slog.New(asynclog.NewHandler(q, nil))
			log.Info("first")
			require.NoError(t, q.Flush(context.Background()), "Flush: starts the interval")
			want := 0
			for i := range 200 {
				if i%3 == 0 {
					log.Error(fmt.Sprintf("E%03d", i), "pad", strings.Repeat("p", rand.IntN(100)))
					want++
				} else {
					log.Info(fmt.Sprintf("I%03d", i), "pad", strings.Repeat("p", rand.IntN(100)))
				}
				if i%6 == 5 {
					_ = q.Flush(context.Background()) // Flush does not wait out MinInterval
				}
			}
			err = q.Flush(context.Background())
			q.Close()
			mu.Lock()
			defer mu.Unlock()
			n := 0
			last := ""
			for _, m := range got {
				if strings.HasPrefix(m, "E") {
					require.Greater(t, m, last, "Error records in order")
					last = m
					n++
				}
			}
			assert.Equal(t, want, n, "Error records delivered (Flush: %v, stats %+v)", err, q.Stats())
		})
	}
}

// TestBlockDropsNothingWhileEachRecordLeavesWithinBlockTimeout: each record
// takes 60% of BlockTimeout to leave a one-slot queue, so a log call waits
// longer than BlockTimeout in total but never a whole BlockTimeout without
// progress: nothing is dropped. On synctest's clock, so the 60% is exact
// however loaded the machine.
func TestBlockDropsNothingWhileEachRecordLeavesWithinBlockTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bt = 100 * time.Millisecond
		sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			time.Sleep(bt * 6 / 10) // the sink's pace, on the bubble's clock
			return nil
		})
		q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 1, BatchSize: 1, BlockTimeout: bt, OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		log := slog.New(asynclog.NewHandler(q, nil))
		begin := time.Now()
		var wg sync.WaitGroup
		for p := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 3 {
					log.Info("slow", "p", p, "i", i)
				}
			}()
		}
		wg.Wait()
		t.Logf("the log calls took %v", time.Since(begin))
		require.NoError(t, q.Close(), "Close")
		s := q.Stats()
		assert.Zero(t, s.Dropped, "nothing dropped: %+v", s)
		assert.EqualValues(t, 12, s.Delivered, "everything delivered: %+v", s)
	})
}

// TestKeptRecordWaitsAtMostBlockTimeoutWhilePacing: in a drop mode with a
// long MinInterval and the queue full of kept (Error) records, the next
// Error log call waits as in Block mode, at most BlockTimeout without
// progress, not for the whole MinInterval ("one email a minute" must not
// stall a caller for a minute). Exact on synctest's clock.
func TestKeptRecordWaitsAtMostBlockTimeoutWhilePacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bt = 50 * time.Millisecond
		sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error { return nil })
		q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 4, OnFull: asynclog.DropNewest, MinInterval: 3 * time.Second, BlockTimeout: bt, OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		defer q.Close()
		log := slog.New(asynclog.NewHandler(q, nil))
		log.Info("first")
		require.NoError(t, q.Flush(context.Background()), "Flush: starts the interval")
		for range 4 {
			log.Error("kept")
		}
		begin := time.Now()
		log.Error("one more")
		waited := time.Since(begin)
		t.Logf("waited %v", waited)
		assert.LessOrEqual(t, waited, bt, "an Error log call waits at most BlockTimeout while the consumer paces")
	})
}

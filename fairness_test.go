package asynclog_test

// Block mode's fairness: waiting log calls are let in in arrival order,
// each producer's records keep its order and nothing is lost behind a slow
// sink, and BlockTimeout bounds a wait without progress, not the whole
// wait.

import (
	"context"
	"fmt"
	"log/slog"
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

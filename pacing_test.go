package asynclog_test

// MinInterval: the consumer paces its Writes on purpose, and log calls,
// kept records, Flushes and Close while it waits out the interval.

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// TestBlockWaitersAreServedInOrderWhileTheConsumerPaces: in Block mode a
// consumer waiting out MinInterval counts as progress. 20 log calls into
// a queue of 2, whose batches are paced by a MinInterval ten times
// BlockTimeout (with a FlushInterval between the two), wait up to 90
// BlockTimeouts: none is dropped, and they are served in arrival order.
// On synctest's clock.
func TestBlockWaitersAreServedInOrderWhileTheConsumerPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		const blockTimeout, minInterval = 10 * time.Millisecond, 100 * time.Millisecond
		q := newQueue(t, sink, asynclog.Options{
			Size: 2, BatchSize: 2, OnFull: asynclog.Block, BlockTimeout: blockTimeout,
			MinInterval: minInterval, FlushInterval: minInterval / 2,
		})
		l := slog.New(asynclog.NewHandler(q, nil))
		const calls = 20
		start := time.Now()
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { logN(l, slog.LevelInfo, i, 1) })
			synctest.Wait() // queued, or waiting for room, before the next call
		}
		wg.Wait()
		assert.GreaterOrEqual(t, time.Since(start), (calls/2-1)*minInterval, "ten batches of two, MinInterval apart: the last calls waited 90 BlockTimeouts")
		require.NoError(t, q.Flush(context.Background()), "nothing dropped")
		var got []float64
		for _, r := range sink.all() {
			got = append(got, decode(t, r.Encoded)["i"].(float64))
		}
		want := make([]float64, calls)
		for i := range want {
			want[i] = float64(i)
		}
		assert.Equal(t, want, got, "every record, in arrival order")
		assert.Zero(t, q.Stats().Dropped)
	})
}

// TestMinInterval: batches start at most once per MinInterval and records
// gather meanwhile; Flush and Close write at once without waiting for it.
func TestMinInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var starts []time.Time
		var sizes []int
		sink := asynclog.SinkFunc(func(_ context.Context, b []asynclog.Record) error {
			mu.Lock()
			defer mu.Unlock()
			starts = append(starts, time.Now())
			sizes = append(sizes, len(b))
			return nil
		})
		const interval = 300 * time.Millisecond
		q, err := asynclog.NewQueue(sink, asynclog.Options{MinInterval: interval})
		require.NoError(t, err)
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("first") // written at once: no batch before it
		require.NoError(t, q.Flush(context.Background()))
		for i := range 50 {
			l.Info("burst", "i", i)
		}
		// Let the interval pass on the bubble's clock, then wait until the
		// consumer has written the burst and parked again.
		time.Sleep(interval)
		synctest.Wait()
		mu.Lock()
		require.Len(t, starts, 2, "the burst is written once the interval has passed")
		mu.Unlock()
		l.Info("last")
		closeStart := time.Now()
		require.NoError(t, q.Close())
		assert.Zero(t, time.Since(closeStart), "Close does not wait out the interval")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, sizes, 3, "first, the burst as one batch, last")
		assert.Equal(t, []int{1, 50, 1}, sizes)
		assert.GreaterOrEqual(t, starts[1].Sub(starts[0]), interval, "burst waited for the interval")
	})
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

package asynclog_test

import (
	"context"
	"errors"
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

// TestFlushIsABarrier: Flush returns once every record logged before it is
// delivered, and concurrent Flushes are fine.
func TestFlushIsABarrier(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{Size: 16, BatchSize: 4, FlushInterval: time.Hour})
	l := slog.New(asynclog.NewHandler(q, nil))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				l.Info("rec", "g", g, "i", i)
				if i%10 == 0 {
					require.NoError(t, q.Flush(context.Background()))
					found := false
					for _, r := range sink.all() {
						m := decode(t, r.Encoded)
						found = found || (m["g"] == float64(g) && m["i"] == float64(i))
					}
					assert.True(t, found, "Flush returned before record g=%d i=%d was delivered", g, i)
				}
			}
			require.NoError(t, q.Flush(context.Background()))
		}()
	}
	wg.Wait()
	assert.Len(t, sink.all(), 200, "every record delivered by the last Flushes, despite an hour-long FlushInterval")
}

// TestFlushDeadline: against a blocked sink, Flush returns ctx's error at
// its deadline; the records are still delivered later.
func TestFlushDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		gate := newGateSink(sink, false)
		q := newQueue(t, gate, asynclog.Options{})
		l := slog.New(asynclog.NewHandler(q, nil))
		l.Info("held")
		gate.waitStarted(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := q.Flush(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		gate.open()
		require.NoError(t, q.Flush(context.Background()))
		assert.Len(t, sink.all(), 1, "delivered after the sink came back")
	})
}

// TestShutdownHungSink: a sink that hangs until its ctx is done cannot hold
// Shutdown past its deadline; the loss is counted and said, and the
// consumer exits (goleak checks at the end of the run).
func TestShutdownHungSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := newGateSink(nil, true)
		q, err := asynclog.NewQueue(gate, asynclog.Options{MaxAttempts: 1})
		require.NoError(t, err)
		l := slog.New(asynclog.NewHandler(q, nil))
		for i := range 10 {
			l.Info("rec", "i", i)
		}
		gate.waitStarted(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = q.Shutdown(ctx)
		elapsed := time.Since(start)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "wraps ctx's error")
		assert.Contains(t, err.Error(), "10 records not delivered", "says what was lost")
		assert.LessOrEqual(t, elapsed, 200*time.Millisecond, "returned by its deadline (exact: synctest's clock)")
		s := q.Stats()
		assert.Equal(t, uint64(10), s.Failed, "every undelivered record counted")
		checkIdentity(t, s)
		gate.open()
	})
}

// TestShutdownSinkIgnoringCtx: a sink that ignores cancellation still
// cannot hold Shutdown much past its deadline.
func TestShutdownSinkIgnoringCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := newGateSink(nil, false)
		q, err := asynclog.NewQueue(gate, asynclog.Options{})
		require.NoError(t, err)
		slog.New(asynclog.NewHandler(q, nil)).Info("stuck")
		gate.waitStarted(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = q.Shutdown(ctx)
		// Its bound is its ctx (100 ms): no grace period past it (the old
		// Shutdown added 500 ms). Exact on synctest's clock.
		assert.LessOrEqual(t, time.Since(start), 100*time.Millisecond, "bounded by its ctx")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "had not returned from its cancelled Write")
		checkIdentity(t, q.Stats())
		gate.open() // now the consumer can finish
		err = q.Shutdown(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a later Shutdown waits for the consumer and returns the first one's result")
	})
}

// TestCloseTwiceAndLogAfter: Close is idempotent, closes the sink once, and
// records logged after it are counted as dropped, never a panic.
func TestCloseTwiceAndLogAfter(t *testing.T) {
	sink := newRecSink()
	q, err := asynclog.NewQueue(sink, asynclog.Options{})
	require.NoError(t, err)
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("before")
	require.NoError(t, q.Close())
	require.NoError(t, q.Close())
	l.Info("after")
	assert.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrClosed, "Flush after Close")
	assert.Equal(t, 1, sink.closeCount(), "sink closed once")
	s := q.Stats()
	assert.Equal(t, uint64(2), s.Enqueued)
	assert.Equal(t, uint64(1), s.Delivered)
	assert.Equal(t, uint64(1), s.Dropped, "logged after Close")
	checkIdentity(t, s)
}

// TestLogDuringClose: goroutines logging and flushing while Close runs;
// every record is either delivered or counted dropped.
func TestLogDuringClose(t *testing.T) {
	sink := newRecSink()
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 8})
	require.NoError(t, err)
	l := slog.New(asynclog.NewHandler(q, nil))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 500 {
				l.Info("rec", "i", i)
				if i%100 == 0 {
					_ = q.Flush(context.Background())
				}
			}
		}()
	}
	close(start)
	require.NoError(t, q.Close())
	wg.Wait()
	s := q.Stats()
	assert.Equal(t, uint64(2000), s.Enqueued)
	assert.Equal(t, s.Delivered, uint64(len(sink.all())), "Delivered matches what arrived")
	checkIdentity(t, s)
}

// flakySink fails its first n Writes with err, then passes to next.
type flakySink struct {
	mu       sync.Mutex
	n        int
	err      error
	attempts []time.Time
	next     asynclog.Sink
}

func (f *flakySink) Write(ctx context.Context, batch []asynclog.Record) error {
	f.mu.Lock()
	f.attempts = append(f.attempts, time.Now())
	fail := len(f.attempts) <= f.n
	f.mu.Unlock()
	if fail {
		return f.err
	}
	return f.next.Write(ctx, batch)
}

func (f *flakySink) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.attempts...)
}

// TestSinkFailures: what each kind of sink failure does to retries,
// Stats, OnError, Flush's result and the fallback.
func TestSinkFailures(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name          string
		failures      int
		err           error
		fallback      bool
		wantAttempts  int
		wantDelivered uint64
		wantFailed    uint64
		wantFellBack  uint64
		wantFlushErr  bool
	}{
		{"retried then delivered", 2, boom, false, 3, 4, 0, 0, false},
		{"all attempts fail", 99, boom, false, 3, 0, 4, 0, true},
		{"all attempts fail, fallback takes it", 99, boom, true, 3, 4, 0, 4, false},
		{"permanent is not retried", 99, asynclog.Permanent(boom), false, 1, 0, 4, 0, true},
		{"partial is not retried", 99, asynclog.Partial(boom, 3), false, 1, 1, 3, 0, true},
		{"partial rejecting more than the batch", 99, asynclog.Partial(boom, 99), false, 1, 0, 4, 0, true},
		{"panic is an error", 99, nil, false, 3, 0, 4, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := newRecSink()
			var fallback *recSink
			// One batch of exactly four records: BatchSize 4 and an interval
			// long enough that only a full batch is written.
			opts := asynclog.Options{BatchSize: 4, FlushInterval: time.Hour,
				MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
			errs := &errorLog{}
			opts.OnError = errs.add
			if tc.fallback {
				fallback = newRecSink()
				opts.Fallback = fallback
			}
			flaky := &flakySink{n: tc.failures, err: tc.err, next: sink}
			var s asynclog.Sink = flaky
			if tc.err == nil {
				s = asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
					_ = flaky.Write(ctx, b)
					panic("sink bug")
				})
			}
			q := newQueue(t, s, opts)
			l := slog.New(asynclog.NewHandler(q, nil))
			logN(l, slog.LevelInfo, 0, 4)
			err := q.Flush(context.Background())
			if tc.wantFlushErr {
				require.Error(t, err, "Flush reports the records given up on")
				if tc.err != nil {
					assert.ErrorIs(t, err, boom, "the sink's error is reachable")
				} else {
					assert.Contains(t, err.Error(), "sink panicked: sink bug")
				}
			} else {
				require.NoError(t, err)
			}
			require.NoError(t, q.Flush(context.Background()), "a second Flush has nothing new to report")
			assert.Len(t, flaky.times(), tc.wantAttempts, "attempts")
			require.NoError(t, q.Close())
			st := q.Stats()
			assert.Equal(t, tc.wantDelivered, st.Delivered, "delivered")
			assert.Equal(t, tc.wantFailed, st.Failed, "failed")
			assert.Equal(t, tc.wantFellBack, st.FellBack, "fell back")
			assert.Equal(t, uint64(tc.wantAttempts-1), st.Retries, "retries")
			checkIdentity(t, st)
			assert.GreaterOrEqual(t, len(errs.all()), min(tc.wantAttempts, 1), "every failure reaches OnError")
			if tc.fallback {
				assert.Len(t, fallback.all(), 4, "fallback got the batch")
				assert.Equal(t, 1, fallback.closeCount(), "fallback closed")
			}
		})
	}
}

// TestRetryAfter: the next attempt waits at least the RetryAfter delay,
// longer than the backoff.
func TestRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		flaky := &flakySink{n: 1, err: asynclog.RetryAfter(errors.New("slow down"), 300*time.Millisecond), next: sink}
		q := newQueue(t, flaky, asynclog.Options{MinBackoff: time.Millisecond, MaxBackoff: time.Second, OnError: func(error) {}})
		slog.New(asynclog.NewHandler(q, nil)).Info("rec")
		require.NoError(t, q.Flush(context.Background()))
		at := flaky.times()
		require.Len(t, at, 2)
		assert.GreaterOrEqual(t, at[1].Sub(at[0]), 300*time.Millisecond, "waited the RetryAfter delay")
		assert.Len(t, sink.all(), 1)
	})
}

// TestRetryWaitPastShutdownDeadline: a retry that would wait past
// Shutdown's deadline gives the batch up at once.
func TestRetryWaitPastShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := &flakySink{n: 99, err: asynclog.RetryAfter(errors.New("later"), time.Hour), next: newRecSink()}
		q, err := asynclog.NewQueue(flaky, asynclog.Options{MaxBackoff: time.Hour, OnError: func(error) {}})
		require.NoError(t, err)
		slog.New(asynclog.NewHandler(q, nil)).Info("rec")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err = q.Shutdown(ctx)
		assert.Zero(t, time.Since(start), "did not wait for the deadline: gave up at once")
		require.Error(t, err, "the lost record is reported")
		assert.Equal(t, uint64(1), q.Stats().Failed)
		checkIdentity(t, q.Stats())
	})
}

func TestErrorWrappersOfNil(t *testing.T) {
	assert.NoError(t, asynclog.Permanent(nil))
	assert.NoError(t, asynclog.RetryAfter(nil, time.Second))
	assert.NoError(t, asynclog.Partial(nil, 3))
	base := errors.New("base")
	assert.ErrorIs(t, asynclog.Permanent(base), base)
	assert.True(t, asynclog.IsPermanent(asynclog.Permanent(base)))
	assert.False(t, asynclog.IsPermanent(base))
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

// TestFlushInterval: with FlushInterval set, records wait for the batch to
// fill or the interval to pass.
func TestFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var batches atomic.Int64
		sink := newRecSink()
		counted := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			batches.Add(1)
			return sink.Write(ctx, b)
		})
		q := newQueue(t, counted, asynclog.Options{BatchSize: 10, FlushInterval: 200 * time.Millisecond})
		l := slog.New(asynclog.NewHandler(q, nil))
		start := time.Now()
		logN(l, slog.LevelInfo, 0, 25)
		sink.mu.Lock()
		for len(sink.recs) < 25 {
			sink.cond.Wait()
		}
		sink.mu.Unlock()
		assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "the last 5 waited for the interval")
		assert.Equal(t, int64(3), batches.Load(), "two full batches and the rest")
	})
}

// TestFlushIntervalQueueSmallerThanBatch: with FlushInterval set and a
// queue smaller than BatchSize, a full queue is a full batch: the consumer
// must not sleep out the interval while callers wait or drop.
func TestFlushIntervalQueueSmallerThanBatch(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{Size: 8, FlushInterval: time.Hour, BlockTimeout: 5 * time.Second})
	l := slog.New(asynclog.NewHandler(q, nil))
	logN(l, slog.LevelInfo, 0, 20)
	require.NoError(t, q.Close())
	s := q.Stats()
	assert.Zero(t, s.Dropped, "Block mode into a healthy sink drops nothing: %+v", s)
	assert.Len(t, sink.all(), 20)
}

// TestSecondShutdownDoesNotAbandon: a second, hurried Shutdown returns at
// its own deadline but leaves the first one's drain alone.
func TestSecondShutdownDoesNotAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		gate := newGateSink(sink, true)
		q, err := asynclog.NewQueue(gate, asynclog.Options{BatchSize: 1})
		require.NoError(t, err)
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelInfo, 0, 5)
		gate.waitStarted(t)
		first := make(chan error, 1)
		go func() { first <- q.Shutdown(context.Background()) }()
		synctest.Wait() // the first Shutdown has begun and waits for the drain
		l.Info("probe")
		require.EqualValues(t, 1, q.Stats().Dropped, "a record logged after Shutdown began is dropped")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, q.Shutdown(ctx), context.DeadlineExceeded, "the second caller's own deadline")
		gate.open()
		assert.NoError(t, <-first, "the patient first Shutdown drains everything")
		s := q.Stats()
		assert.Zero(t, s.Failed, "%+v", s)
		recs := 0
		for _, m := range sink.messages() {
			if m == "rec" {
				recs++
			}
		}
		assert.Equal(t, 5, recs, "every record logged before Shutdown delivered")
		checkIdentity(t, s)
	})
}

// TestSyncRecordAfterStall: a synchronous record (zap's Fatal, slog at
// SyncLevel) waits for room even after an earlier caller's wait ran out.
func TestSyncRecordAfterStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		gate := newGateSink(sink, true)
		q := newQueue(t, gate, asynclog.Options{Size: 2, BatchSize: 1, BlockTimeout: 50 * time.Millisecond})
		l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logN(l, slog.LevelInfo, 0, 1)
		gate.waitStarted(t)
		logN(l, slog.LevelInfo, 1, 3) // fills the queue; the third call stalls and drops
		require.Equal(t, uint64(1), q.Stats().Dropped)
		logged := make(chan struct{})
		go func() {
			defer close(logged)
			l.Log(context.Background(), slog.LevelError+4, "fatal")
		}()
		select { // the sink is still stuck on record 0
		case <-logged:
			require.Fail(t, "the synchronous record returned before it was delivered")
		case <-time.After(100 * time.Millisecond): // past BlockTimeout: it must still be waiting
		}
		gate.open()
		<-logged
		assert.Contains(t, sink.messages(), "fatal", "delivered before the call returned")
		require.ErrorIs(t, q.Close(), asynclog.ErrDropped, "Close reports the record dropped before it")
	})
}

// TestShutdownWithDoneCtxOnIdleQueue: nothing to lose, nothing reported.
func TestShutdownWithDoneCtxOnIdleQueue(t *testing.T) {
	q, err := asynclog.NewQueue(newRecSink(), asynclog.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NoError(t, q.Shutdown(ctx), "an idle queue loses nothing even with a done ctx")
}

// TestShutdownDuringRetryBackoff: a Shutdown that begins while the consumer
// already waits out a long retry delay gives the batch up at once rather
// than sitting out its whole deadline.
func TestShutdownDuringRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		attempted := make(chan struct{}, 1)
		sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error {
			select {
			case attempted <- struct{}{}:
			default:
			}
			return asynclog.RetryAfter(errors.New("later"), time.Hour)
		})
		q, err := asynclog.NewQueue(sink, asynclog.Options{MaxBackoff: time.Hour, OnError: func(error) {}})
		require.NoError(t, err)
		slog.New(asynclog.NewHandler(q, nil)).Info("rec")
		<-attempted // the consumer now waits an hour before its retry
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err = q.Shutdown(ctx)
		assert.Zero(t, time.Since(start), "gave the batch up at once")
		require.Error(t, err, "the lost record is reported")
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "not by running into the deadline")
		assert.Equal(t, uint64(1), q.Stats().Failed)
		checkIdentity(t, q.Stats())
	})
}

// TestFallbackPartial: records a fallback took count as delivered (and fell
// back), those it refused as failed.
func TestFallbackPartial(t *testing.T) {
	fallback := asynclog.SinkFunc(func(_ context.Context, b []asynclog.Record) error {
		return asynclog.Partial(errors.New("two refused"), 2)
	})
	q, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error {
		return asynclog.Permanent(errors.New("down"))
	}), asynclog.Options{Fallback: fallback, BatchSize: 10, FlushInterval: time.Hour, OnError: func(error) {}})
	require.NoError(t, err)
	logN(slog.New(asynclog.NewHandler(q, nil)), slog.LevelInfo, 0, 10)
	require.Error(t, q.Close(), "the two refused records are reported")
	s := q.Stats()
	assert.Equal(t, uint64(8), s.Delivered)
	assert.Equal(t, uint64(8), s.FellBack)
	assert.Equal(t, uint64(2), s.Failed)
	checkIdentity(t, s)
}

// TestSyncRecordLeavesFailuresForFlush: the wait of a synchronous record
// reports earlier failures but leaves them for the program's own Flush.
func TestSyncRecordLeavesFailuresForFlush(t *testing.T) {
	boom := errors.New("boom")
	sink := asynclog.SinkFunc(func(_ context.Context, b []asynclog.Record) error {
		for _, r := range b {
			if r.Message == "lost" {
				return asynclog.Permanent(boom)
			}
		}
		return nil
	})
	q := newQueue(t, sink, asynclog.Options{OnError: func(error) {}})
	h := asynclog.NewHandler(q, nil)
	l := slog.New(h)
	l.Info("lost")
	err := h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelError+4, "fatal", 0))
	assert.ErrorIs(t, err, boom, "the synchronous record's wait reports the failure")
	assert.ErrorIs(t, q.Flush(context.Background()), boom, "and leaves it for the program's Flush")
	assert.NoError(t, q.Flush(context.Background()), "which takes it")
}

// TestDeliveredBeforeFailure: a sink that says it delivered the first
// records of a batch before a retryable failure gets only the rest again,
// and those records count once as Delivered, never as Failed, and never go
// to the fallback.
func TestDeliveredBeforeFailure(t *testing.T) {
	sink := newRecSink()
	fallback := newRecSink()
	var calls atomic.Int32
	s := asynclog.SinkFunc(func(ctx context.Context, batch []asynclog.Record) error {
		c := calls.Add(1)
		if c == 1 {
			_ = sink.Write(ctx, batch[:3])
			return asynclog.Delivered(errors.New("503 after 3"), 3)
		}
		return asynclog.Permanent(errors.New("gone"))
	})
	q := newQueue(t, s, asynclog.Options{BatchSize: 10, FlushInterval: time.Hour, MinBackoff: time.Millisecond, Fallback: fallback})
	l := slog.New(asynclog.NewHandler(q, nil))
	for i := range 10 {
		l.Info("rec", "i", i)
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close())
	assert.Len(t, sink.all(), 3, "the first three reached the sink once")
	assert.Len(t, fallback.all(), 7, "only the seven the sink did not deliver went to the fallback")
	st := q.Stats()
	assert.Equal(t, uint64(10), st.Delivered, "3 by the sink and 7 by the fallback")
	assert.Equal(t, uint64(7), st.FellBack)
	assert.Equal(t, uint64(0), st.Failed)
}

// TestShutdownAndCloseFromManyGoroutinesKeepTheirBound: behind a sink that
// ignores ctx and never returns, Shutdowns and Closes called at once from
// many goroutines all return within their 300ms bound (exact: the test runs
// on synctest's clock); afterwards a log call is harmless, Flush says
// ErrClosed, and nothing is left queued.
func TestShutdownAndCloseFromManyGoroutinesKeepTheirBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		started := make(chan struct{}, 100)
		sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			started <- struct{}{}
			<-block
			return nil
		})
		q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(error) {}, CloseTimeout: 300 * time.Millisecond})
		require.NoError(t, err, "NewQueue")
		log := slog.New(asynclog.NewHandler(q, nil))
		log.Info("first")
		<-started
		for i := range 10 {
			log.Info("queued", "i", i)
		}
		begin := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					defer cancel()
					errs[i] = q.Shutdown(ctx)
				} else {
					errs[i] = q.Close()
				}
				log.Info("late")
				assert.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrClosed, "Flush after Shutdown")
			}()
		}
		wg.Wait()
		assert.LessOrEqual(t, time.Since(begin), 300*time.Millisecond, "Shutdown and Close return within their 300ms bound")
		checkIdentity(t, q.Stats())
		t.Logf("results: %v", errs)
	})
}

// TestConcurrentClosesReturnTheSameResult: behind a sink that honours ctx,
// several Closes called at once return the same result, and nothing is
// left queued.
func TestConcurrentClosesReturnTheSameResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{}, 100)
		sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		})
		q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(error) {}, CloseTimeout: 300 * time.Millisecond})
		require.NoError(t, err, "NewQueue")
		log := slog.New(asynclog.NewHandler(q, nil))
		log.Info("first")
		<-started
		for i := range 10 {
			log.Info("queued", "i", i)
		}
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = q.Close()
			}()
		}
		wg.Wait()
		for i := range errs {
			assert.Equal(t, fmt.Sprint(errs[0]), fmt.Sprint(errs[i]), "Close %d returns what Close 0 does", i)
		}
		checkIdentity(t, q.Stats())
	})
}

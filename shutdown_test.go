package asynclog_test

// Shutdown and Close: bounded by their deadline whatever the sink does,
// idempotent, safe from many goroutines at once and beside log calls, and
// a later call returns the first one's result.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

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

// TestShutdownWithDoneCtxOnIdleQueue: nothing to lose, nothing reported.
func TestShutdownWithDoneCtxOnIdleQueue(t *testing.T) {
	q, err := asynclog.NewQueue(newRecSink(), asynclog.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NoError(t, q.Shutdown(ctx), "an idle queue loses nothing even with a done ctx")
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

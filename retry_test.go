package asynclog_test

// Retries: by time (RetryFor) by default, through an outage and until
// RetryFor runs out; RetryAfter's delay; a retry's wait cut short by
// Shutdown; the failure notice of a batch given up on.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// errDown is what a switchSink returns while its destination is away.
var errDown = errors.New("destination down")

// switchSink fails every Write with errDown while it is down, like a
// destination that went away, and passes batches to next while it is up.
// It notes the time of every attempt.
type switchSink struct {
	mu       sync.Mutex
	down     bool
	attempts []time.Time
	next     asynclog.Sink
}

func (s *switchSink) Write(ctx context.Context, batch []asynclog.Record) error {
	s.mu.Lock()
	s.attempts = append(s.attempts, time.Now())
	down := s.down
	s.mu.Unlock()
	if down {
		return errDown
	}
	return s.next.Write(ctx, batch)
}

func (s *switchSink) set(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *switchSink) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

// TestDefaultsResolveRetryByTime: the zero Options retry by time (RetryFor),
// with no attempt limit, a backoff capped at 5 s, and a queue sized for a
// restart of the destination.
func TestDefaultsResolveRetryByTime(t *testing.T) {
	q := newQueue(t, newRecSink(), asynclog.Options{})
	o := q.Options()
	assert.Equal(t, 5*time.Minute, o.RetryFor, "RetryFor")
	assert.Zero(t, o.MaxAttempts, "no attempt limit")
	assert.Equal(t, 100*time.Millisecond, o.MinBackoff, "MinBackoff")
	assert.Equal(t, 5*time.Second, o.MaxBackoff, "MaxBackoff")
	assert.Equal(t, 16384, o.Size, "Size")
	assert.Equal(t, 16<<20, o.MaxBytes, "MaxBytes")

	q = newQueue(t, newRecSink(), asynclog.Options{MaxAttempts: 3, RetryFor: time.Second})
	assert.Equal(t, 3, q.Options().MaxAttempts, "an explicit MaxAttempts stays")
	assert.Equal(t, time.Second, q.Options().RetryFor, "an explicit RetryFor stays")

	_, err := asynclog.NewQueue(newRecSink(), asynclog.Options{RetryFor: -time.Second})
	assert.ErrorContains(t, err, "Options.RetryFor is negative", "a negative RetryFor is refused")
}

// TestRetryOutlastsAnOutage: with default Options a batch whose sink is
// down for three minutes is retried until the sink is back, with waits
// never above MaxBackoff, and delivered within MaxBackoff of the recovery;
// nothing fails.
func TestRetryOutlastsAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecSink()
		sink := &switchSink{down: true, next: rec}
		errs := &errorLog{}
		q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: errs.add})
		require.NoError(t, err, "NewQueue")
		l := slog.New(asynclog.NewHandler(q, nil))
		for i := range 10 {
			l.Info("rec", "i", i)
		}
		time.Sleep(3 * time.Minute) // the fake clock: the outage
		sink.set(false)
		up := time.Now()
		require.NoError(t, q.Flush(context.Background()), "Flush once the sink is back: nothing lost")
		assert.LessOrEqual(t, time.Since(up), 5*time.Second, "delivered within MaxBackoff of the recovery")
		at := sink.times()
		for i := 1; i < len(at); i++ {
			assert.LessOrEqual(t, at[i].Sub(at[i-1]), 5*time.Second, "wait %d is capped at MaxBackoff", i)
		}
		require.NoError(t, q.Close(), "Close")
		st := q.Stats()
		assert.Equal(t, uint64(10), st.Delivered, "every record delivered: %+v", st)
		assert.Zero(t, st.Failed, "nothing failed: %+v", st)
		assert.Greater(t, st.Retries, uint64(30), "retried all through the outage: %+v", st)
		assert.Len(t, rec.all(), 10, "no notice: nothing was lost")
		assert.Contains(t, errs.all()[0].Error(), "of RetryFor 5m0s", "the attempt's error names the budget")
	})
}

// TestRetryForRunsOut: a batch whose sink stays down is given up on once
// RetryFor has passed since its first failed attempt; the next batch the
// sink takes opens with a failure notice naming the count, the span of the
// failed records' times and the cause.
func TestRetryForRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecSink()
		sink := &switchSink{down: true, next: rec}
		q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		l := slog.New(asynclog.NewHandler(q, nil))
		start := time.Now()
		for i := range 10 {
			l.Info("lost", "i", i)
			time.Sleep(time.Millisecond) // distinct record times: the notice's span
		}
		last := time.Now()
		err = q.Flush(context.Background())
		require.ErrorIs(t, err, errDown, "Flush reports the records given up on")
		assert.Contains(t, err.Error(), "10 records failed")
		took := time.Since(start)
		assert.GreaterOrEqual(t, took, 5*time.Minute, "retried for RetryFor")
		assert.LessOrEqual(t, took, 5*time.Minute+time.Second, "and no longer")

		sink.set(false)
		l.Info("after")
		require.NoError(t, q.Flush(context.Background()), "Flush")
		got := rec.all()
		require.Len(t, got, 2, "the notice, then the record")
		m := decode(t, got[0].Encoded)
		assert.Equal(t, "WARN", m["level"], "notice level")
		assert.Equal(t, "asynclog: 10 records failed between "+start.UTC().Format(time.RFC3339Nano)+" and "+last.Add(-time.Millisecond).UTC().Format(time.RFC3339Nano)+": destination down", m["msg"], "notice message")
		assert.Equal(t, float64(10), m["failed"], "notice count")
		assert.Equal(t, "destination down", m["error"], "notice cause")
		assert.Contains(t, m, "from", "notice span")
		assert.Contains(t, m, "to", "notice span")
		assert.Equal(t, "after", got[1].Message, "then the record")
		require.NoError(t, q.Close(), "Close")
		st := q.Stats()
		assert.Equal(t, uint64(10), st.Failed, "Failed: %+v", st)
		assert.Equal(t, uint64(1), st.Delivered, "the notice is not counted: %+v", st)
	})
}

// TestFailureNoticeWaitsForTheSink: a failure notice whose batch fails too
// is not lost: the tally grows and the notice opens the first batch the
// sink takes, counting both batches' records. Through a zap Core, the
// notice is in that Core's encoder's shape.
func TestFailureNoticeWaitsForTheSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecSink()
		sink := &switchSink{down: true, next: rec}
		q, err := asynclog.NewQueue(sink, asynclog.Options{RetryFor: 10 * time.Second, OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		l := zap.New(asynclog.NewCore(enc, zapcore.DebugLevel, q))
		l.Info("first")
		require.Error(t, q.Flush(context.Background()), "the first batch fails")
		l.Info("second")
		require.Error(t, q.Flush(context.Background()), "the second, carrying the notice, fails too")
		sink.set(false)
		l.Info("third")
		require.NoError(t, q.Flush(context.Background()), "Flush")
		got := rec.all()
		require.Len(t, got, 2, "one notice, then the record")
		m := decode(t, got[0].Encoded)
		assert.Equal(t, "warn", m["level"], "zap's level name")
		assert.Contains(t, m, "ts", "zap's time key")
		assert.True(t, strings.HasPrefix(m["msg"].(string), "asynclog: 2 records failed between "), "both failures counted: %v", m["msg"])
		assert.Equal(t, float64(2), m["failed"], "count")
		assert.Equal(t, "third", got[1].Message)
		require.NoError(t, q.Close(), "Close")
	})
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

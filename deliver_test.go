package asynclog_test

// Delivery's outcomes: what each kind of sink failure (an error,
// Permanent, Partial, Delivered, a panic) does to the retries, the
// fallback, Stats, OnError and Flush's result.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

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

func TestErrorWrappersOfNil(t *testing.T) {
	assert.NoError(t, asynclog.Permanent(nil))
	assert.NoError(t, asynclog.RetryAfter(nil, time.Second))
	assert.NoError(t, asynclog.Partial(nil, 3))
	base := errors.New("base")
	assert.ErrorIs(t, asynclog.Permanent(base), base)
	assert.True(t, asynclog.IsPermanent(asynclog.Permanent(base)))
	assert.False(t, asynclog.IsPermanent(base))
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

// shortWriter's first Write takes the first line of what it is given and
// fails, saying so with Delivered; later Writes take everything.
type shortWriter struct {
	mu    sync.Mutex
	lines []string
	calls int
}

func (w *shortWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	text := strings.TrimSuffix(string(p), "\n")
	got := strings.Split(text, "\n")
	if w.calls == 1 {
		w.lines = append(w.lines, got[0])
		return len(got[0]) + 1, asynclog.Delivered(errors.New("connection reset after one line"), 1)
	}
	w.lines = append(w.lines, got...)
	return len(p), nil
}

// A WriterSink is handed a batch as the bytes it lies in (no record's
// Encoded is set for it); when its writer takes only part, the records
// left are retried with their own bytes.
func TestWriterSinkRetriesTheRestOfABatchWithItsBytes(t *testing.T) {
	w := &shortWriter{}
	q := newQueue(t, asynclog.WriterSink(w), asynclog.Options{BatchSize: 8, FlushInterval: time.Hour, MinBackoff: time.Millisecond})
	lw := asynclog.NewWriter(q)
	var want []string
	for i := range 8 {
		line := fmt.Sprintf("line %d of the batch", i)
		want = append(want, line)
		_, err := lw.Write([]byte(line + "\n"))
		require.NoError(t, err)
	}
	require.NoError(t, q.Flush(context.Background()))
	require.NoError(t, q.Close())
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Equal(t, want, w.lines, "each record once, in order, its own bytes")
	assert.Equal(t, 2, w.calls, "the block, then the seven records it left")
	assert.Equal(t, uint64(8), q.Stats().Delivered)
}

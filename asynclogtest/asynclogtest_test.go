package asynclogtest_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
)

// TestSinkOverKitAndCoreSinks runs the conformance suite over the sinks
// of this repository that must pass it.
func TestSinkOverKitAndCoreSinks(t *testing.T) {
	tests := []struct {
		name    string
		newSink func(t *testing.T) asynclog.Sink
	}{
		{"WriterSink to io.Discard", func(*testing.T) asynclog.Sink { return asynclog.WriterSink(io.Discard) }},
		{"WriterSink to a file", func(t *testing.T) asynclog.Sink {
			f, err := os.Create(filepath.Join(t.TempDir(), "log.jsonl"))
			require.NoError(t, err, "create the log file")
			t.Cleanup(func() { f.Close() })
			return asynclog.WriterSink(f)
		}},
		{"Recorder", func(*testing.T) asynclog.Sink { return asynclogtest.NewRecorder() }},
		{"Slow", func(*testing.T) asynclog.Sink {
			return asynclogtest.Slow(asynclogtest.NewRecorder(), 2*time.Millisecond)
		}},
		{"Flaky", func(*testing.T) asynclog.Sink { return asynclogtest.Flaky(asynclogtest.NewRecorder(), 1, 0.5, 42) }},
		{"Inject, partial and permanent", func(*testing.T) asynclog.Sink {
			return asynclogtest.Inject(asynclogtest.NewRecorder(), asynclogtest.Faults{Seed: 9, FailRate: 0.3, PartialRate: 0.3, Permanent: true})
		}},
		{"Blocked, released", func(*testing.T) asynclog.Sink {
			b := asynclogtest.NewBlocked(asynclogtest.NewRecorder())
			b.Release()
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asynclogtest.TestSink(t, tt.newSink)
		})
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRecorderThroughQueue(t *testing.T) {
	rec := asynclogtest.NewRecorder()
	q, err := asynclog.NewQueue(rec, asynclog.Options{})
	require.NoError(t, err, "NewQueue")
	logger := slog.New(asynclog.NewHandler(q, nil))
	for i := range 5 {
		logger.Info("hello", "i", i)
	}
	require.NoError(t, rec.Wait(waitCtx(t), 5), "the five records arrive")
	assert.Equal(t, []string{"hello", "hello", "hello", "hello", "hello"}, rec.Messages(), "messages in order")

	decoded, err := rec.Decoded()
	require.NoError(t, err, "records are JSON objects")
	for i, m := range decoded {
		assert.Equal(t, float64(i), m["i"], "record %d keeps its attribute", i)
	}

	recs := rec.Records()
	recs[0].Encoded[0] = '#'
	assert.Equal(t, byte('{'), rec.Records()[0].Encoded[0], "Records returns a copy the caller may change")

	require.NoError(t, q.Close(), "Close")
	assert.Equal(t, 1, rec.Closes(), "Shutdown closes the sink once")
	assert.Equal(t, 5, rec.Len(), "nothing more arrives")
}

func TestRecorderWait(t *testing.T) {
	t.Run("times out with the count", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		require.NoError(t, rec.Write(ctx, []asynclog.Record{{Message: "one", Encoded: []byte(`{}`)}}), "Write")
		err := rec.Wait(ctx, 2)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "Wait ends at ctx's deadline")
		assert.ErrorContains(t, err, "waited for 2 records, 1 arrived", "and says how far it got")
	})
	t.Run("wakes on arrival", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 {
			wg.Go(func() { errs <- rec.Wait(waitCtx(t), 100) })
		}
		for i := range 100 {
			require.NoError(t, rec.Write(context.Background(), []asynclog.Record{{Message: "m", Level: slog.Level(i), Encoded: []byte(`{}`)}}), "Write")
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err, "every waiter sees the 100th record")
		}
	})
	t.Run("WaitFor a condition", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		done := make(chan error, 1)
		go func() {
			done <- rec.WaitFor(waitCtx(t), func(recs []asynclog.Record) bool {
				return len(recs) > 0 && recs[len(recs)-1].Level >= slog.LevelError
			})
		}()
		require.NoError(t, rec.Write(context.Background(), []asynclog.Record{{Level: slog.LevelInfo}}), "Write")
		require.NoError(t, rec.Write(context.Background(), []asynclog.Record{{Level: slog.LevelError}}), "Write")
		assert.NoError(t, <-done, "WaitFor returns once an error is logged")
	})
	t.Run("Reset", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		require.NoError(t, rec.Write(context.Background(), []asynclog.Record{{Message: "old"}}), "Write")
		rec.Reset()
		assert.Zero(t, rec.Len(), "Reset forgets the records")
		_, err := rec.Decoded()
		assert.NoError(t, err, "no records, nothing to fail on")
	})
	t.Run("Decoded names a non-JSON record", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		require.NoError(t, rec.Write(context.Background(), []asynclog.Record{{Encoded: []byte(`{"a":1}`)}, {Encoded: []byte("INFO plain text")}}), "Write")
		_, err := rec.Decoded()
		assert.ErrorContains(t, err, "record 1", "Decoded says which record is not JSON")
	})
}

func TestRecorderCopiesEncoded(t *testing.T) {
	rec := asynclogtest.NewRecorder()
	buf := []byte(`{"msg":"original"}`)
	require.NoError(t, rec.Write(context.Background(), []asynclog.Record{{Message: "original", Encoded: buf}}), "Write")
	copy(buf, `{"msg":"SCRIBBLE"}`)
	assert.JSONEq(t, `{"msg":"original"}`, string(rec.Records()[0].Encoded), "the Recorder kept its own copy")
}

func TestFaultSink(t *testing.T) {
	batch := func(n int) []asynclog.Record {
		b := make([]asynclog.Record, n)
		for i := range b {
			b[i] = asynclog.Record{Message: "m", Encoded: []byte(`{"msg":"m"}`)}
		}
		return b
	}
	t.Run("FailFirst then passes", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		s := asynclogtest.Flaky(rec, 2, 0, 1)
		ctx := context.Background()
		assert.ErrorIs(t, s.Write(ctx, batch(3)), asynclogtest.ErrInjected, "first Write fails")
		assert.ErrorIs(t, s.Write(ctx, batch(3)), asynclogtest.ErrInjected, "second Write fails")
		assert.NoError(t, s.Write(ctx, batch(3)), "third Write passes")
		assert.Equal(t, 3, rec.Len(), "only the passed batch reached the wrapped sink")
		assert.Equal(t, asynclogtest.FaultCounts{Writes: 3, Failed: 2, Passed: 1}, s.Counts(), "counts")
	})
	t.Run("same seed, same outcomes", func(t *testing.T) {
		f := asynclogtest.Faults{Seed: 11, FailRate: 0.3, PartialRate: 0.3}
		run := func() (asynclogtest.FaultCounts, int) {
			rec := asynclogtest.NewRecorder()
			s := asynclogtest.Inject(rec, f)
			for range 200 {
				_ = s.Write(context.Background(), batch(5))
			}
			return s.Counts(), rec.Len()
		}
		c1, n1 := run()
		c2, n2 := run()
		assert.Equal(t, c1, c2, "a seed repeats its outcomes")
		assert.Equal(t, n1, n2, "and what reaches the wrapped sink")
		assert.InDelta(t, 60, c1.Failed, 25, "about FailRate of the Writes fail")
		assert.InDelta(t, 60, c1.Partial, 25, "about PartialRate of the Writes are partial")
	})
	t.Run("partial passes a prefix", func(t *testing.T) {
		rec := asynclogtest.NewRecorder()
		s := asynclogtest.Inject(rec, asynclogtest.Faults{PartialRate: 1, Seed: 5})
		err := s.Write(context.Background(), batch(10))
		var p *asynclog.PartialError
		require.ErrorAs(t, err, &p, "a partial refusal")
		assert.Equal(t, 10, p.Rejected+rec.Len(), "refused plus passed make the batch")
		assert.ErrorIs(t, err, asynclogtest.ErrInjected, "wrapping ErrInjected")
	})
	t.Run("permanent", func(t *testing.T) {
		s := asynclogtest.Inject(nil, asynclogtest.Faults{FailFirst: 1, Permanent: true, Err: io.ErrClosedPipe})
		err := s.Write(context.Background(), batch(1))
		assert.True(t, asynclog.IsPermanent(err), "marked permanent")
		assert.ErrorIs(t, err, io.ErrClosedPipe, "with the given error")
	})
	t.Run("slow honours ctx", func(t *testing.T) {
		s := asynclogtest.Slow(nil, time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, s.Write(ctx, batch(1)), context.DeadlineExceeded, "the delay ends with ctx")
		assert.Equal(t, 1, s.Counts().Cancelled, "counted as cancelled")
	})
	t.Run("hanging returns at ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, asynclogtest.Hanging().Write(ctx, batch(1)), context.DeadlineExceeded, "the hang ends with ctx")
	})
	t.Run("panicking panics", func(t *testing.T) {
		assert.PanicsWithValue(t, asynclogtest.PanicValue, func() { _ = asynclogtest.Panicking(nil).Write(context.Background(), batch(1)) }, "Write panics")
	})
}

// TestFaultsThroughQueue checks that the queue's accounting agrees with
// what the fault sink passed on.
func TestFaultsThroughQueue(t *testing.T) {
	rec := asynclogtest.NewRecorder()
	s := asynclogtest.Inject(rec, asynclogtest.Faults{Seed: 1, FailRate: 0.3, PartialRate: 0.2, PanicRate: 0.1})
	var mu sync.Mutex
	var reported []error
	q, err := asynclog.NewQueue(s, asynclog.Options{
		BatchSize: 7, MaxAttempts: 2, MinBackoff: time.Microsecond, MaxBackoff: time.Millisecond,
		OnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() },
	})
	require.NoError(t, err, "NewQueue")
	logger := slog.New(asynclog.NewHandler(q, nil))
	for i := range 500 {
		logger.Info("m", "i", i)
	}
	_ = q.Flush(waitCtx(t)) // reports the failed batches, which are expected
	require.NoError(t, q.Close(), "Close")
	st := q.Stats()
	assert.Equal(t, uint64(500), st.Enqueued, "all enqueued")
	assert.Equal(t, st.Enqueued, st.Delivered+st.Dropped+st.Failed, "Enqueued = Delivered + Dropped + Failed: %+v", st)
	own, notices := 0, 0
	for _, m := range rec.Messages() {
		if strings.HasPrefix(m, "asynclog: ") {
			notices++ // failure notices: in the stream, not counted
			continue
		}
		own++
	}
	assert.Equal(t, uint64(own), st.Delivered, "Delivered is what reached the recorder, notices aside: %+v", st)
	assert.NotZero(t, notices, "the failures were announced in the stream")
	assert.NotZero(t, st.Failed, "some batches were given up on: %+v", st)
	mu.Lock()
	assert.NotEmpty(t, reported, "failures went to OnError")
	mu.Unlock()
}

func TestBlocked(t *testing.T) {
	rec := asynclogtest.NewRecorder()
	b := asynclogtest.NewBlocked(rec)
	q, err := asynclog.NewQueue(b, asynclog.Options{Size: 10, OnFull: asynclog.DropNewest})
	require.NoError(t, err, "NewQueue")
	logger := slog.New(asynclog.NewHandler(q, nil))
	logger.Info("first")
	<-b.Entered()
	for range 100 {
		logger.Info("flood")
	}
	st := q.Stats()
	assert.Equal(t, 11, st.Queued, "ten records fill the queue behind the one the blocked sink holds: %+v", st)
	assert.Equal(t, uint64(90), st.Dropped, "the rest were dropped: %+v", st)
	assert.Zero(t, rec.Len(), "nothing got through")
	b.Release()
	b.Release() // idempotent
	require.ErrorIs(t, q.Close(), asynclog.ErrDropped, "Close after Release reports the 90 dropped")
	assert.Equal(t, 12, rec.Len(), "the first record, the ten queued and a drop notice arrive")
	assert.NoError(t, b.Write(context.Background(), nil), "a released Blocked passes Writes on")
}

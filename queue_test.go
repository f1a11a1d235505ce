package asynclog_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// fill logs records 0..n-1 with the given level through slog.
func logN(l *slog.Logger, level slog.Level, from, n int) {
	for i := from; i < from+n; i++ {
		l.Log(context.Background(), level, "rec", "i", i)
	}
}

// TestOverflowPolicies: with the sink stuck on a first batch, a queue of 4
// takes 10 more records; each policy keeps the records it should, never
// makes the caller wait, and announces the drops in-band.
func TestOverflowPolicies(t *testing.T) {
	cases := []struct {
		policy   asynclog.Overflow
		wantKept []float64 // the i of the records delivered after the first
	}{
		{asynclog.DropNewest, []float64{1, 2, 3, 4}},
		{asynclog.DropOldest, []float64{7, 8, 9, 10}},
	}
	for _, tc := range cases {
		t.Run(tc.policy.String(), func(t *testing.T) {
			sink := newRecSink()
			gate := newGateSink(sink, true)
			errs := &errorLog{}
			q := newQueue(t, gate, asynclog.Options{Size: 4, BatchSize: 100, OnFull: tc.policy, OnError: errs.add})
			l := slog.New(asynclog.NewHandler(q, nil))
			logN(l, slog.LevelInfo, 0, 1)
			gate.waitStarted(t) // record 0 is in the sink's hands

			logN(l, slog.LevelInfo, 1, 10) // never waits: the gate is still shut
			s := q.Stats()
			assert.Equal(t, uint64(11), s.Enqueued, "enqueued")
			assert.Equal(t, uint64(6), s.Dropped, "dropped")
			assert.Equal(t, 5, s.Queued, "queued: four waiting and one in the sink's hands")

			gate.open()
			err := q.Close()
			require.ErrorIs(t, err, asynclog.ErrDropped, "Close reports the records dropped before it")
			assert.Contains(t, err.Error(), "dropped: 6", "with their count")
			recs := sink.all()
			require.Len(t, recs, 1+1+4, "first record, the notice, the four kept")
			notice := recs[1]
			assert.Equal(t, slog.LevelWarn, notice.Level, "notice level")
			assert.Contains(t, notice.Message, "dropped 6 records", "notice message")
			m := decode(t, notice.Encoded)
			assert.Equal(t, 6.0, m["dropped"], "count in the notice: %s", notice.Encoded)
			assert.Equal(t, map[string]any{"INFO": 6.0}, m["dropped_by_level"], "by level: %s", notice.Encoded)
			for _, k := range []string{"time", "level", "msg", "since"} {
				assert.Contains(t, m, k, "notice has %s: %s", k, notice.Encoded)
			}
			var kept []float64
			for _, r := range recs[2:] {
				kept = append(kept, decode(t, r.Encoded)["i"].(float64))
			}
			assert.Equal(t, tc.wantKept, kept, "records kept")
			s = q.Stats()
			assert.Equal(t, uint64(5), s.Delivered, "the notice is not counted")
			checkIdentity(t, s)
			assert.Equal(t, 1, errs.count(asynclog.ErrDropped), "drops reported to OnError once: %v", errs.all())
		})
	}
}

// TestKeepLevel: in the drop modes, records at KeepLevel wait for room
// instead of being dropped, and DropOldest never evicts them.
func TestKeepLevel(t *testing.T) {
	for _, policy := range []asynclog.Overflow{asynclog.DropNewest, asynclog.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newRecSink()
				gate := newGateSink(sink, true)
				q := newQueue(t, gate, asynclog.Options{Size: 2, BatchSize: 100, OnFull: policy})
				l := slog.New(asynclog.NewHandler(q, nil))
				logN(l, slog.LevelInfo, 0, 1)
				gate.waitStarted(t)
				logN(l, slog.LevelError, 1, 2) // fills the queue with kept records
				logN(l, slog.LevelInfo, 3, 5)  // dropped: nothing droppable to evict

				waited := make(chan struct{})
				go func() {
					defer close(waited)
					logN(l, slog.LevelError, 8, 1) // waits for room
				}()
				synctest.Wait() // the log call is blocked, or has returned
				select {
				case <-waited:
					require.Fail(t, "an Error record was dropped or jumped the queue instead of waiting for room")
				default:
				}
				gate.open()
				<-waited
				require.ErrorIs(t, q.Close(), asynclog.ErrDropped, "Close reports the Info records dropped")
				var got []float64
				for _, r := range sink.all() {
					if r.Message == "rec" {
						got = append(got, decode(t, r.Encoded)["i"].(float64))
					}
				}
				assert.Equal(t, []float64{0, 1, 2, 8}, got, "every Error record delivered, in order")
				s := q.Stats()
				assert.Equal(t, uint64(5), s.Dropped, "the Info records")
				checkIdentity(t, s)
			})
		})
	}
}

// TestBlockDeadSinkCostsOneWait: in Block mode a dead sink costs the caller
// one bounded wait; later records drop without waiting until there is room.
func TestBlockDeadSinkCostsOneWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := newGateSink(nil, true)
		q := newQueue(t, gate, asynclog.Options{Size: 2, BatchSize: 1, BlockTimeout: 200 * time.Millisecond})
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelInfo, 0, 1)
		gate.waitStarted(t)
		logN(l, slog.LevelInfo, 1, 2) // fills the queue

		start := time.Now()
		logN(l, slog.LevelInfo, 3, 1)
		first := time.Since(start)
		assert.Equal(t, 200*time.Millisecond, first, "the first caller waits BlockTimeout (exact: synctest's clock)")

		start = time.Now()
		logN(l, slog.LevelInfo, 4, 100)
		assert.Zero(t, time.Since(start), "later callers do not wait again")
		assert.Equal(t, uint64(101), q.Stats().Dropped, "dropped and counted")

		gate.open()
		require.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrDropped, "the Flush after the drops reports them")
		logN(l, slog.LevelInfo, 104, 3) // room again: accepted
		require.NoError(t, q.Close(), "nothing lost since that Flush")
		s := q.Stats()
		assert.Equal(t, uint64(101), s.Dropped, "nothing more dropped once the sink is back")
		checkIdentity(t, s)
	})
}

// TestBlockWaitsForRoom: in Block mode the caller waits and nothing is lost.
func TestBlockWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newRecSink()
		gate := newGateSink(sink, true)
		q := newQueue(t, gate, asynclog.Options{Size: 2, BatchSize: 1})
		l := slog.New(asynclog.NewHandler(q, nil))
		logN(l, slog.LevelDebug+4, 0, 3)
		gate.waitStarted(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			logN(l, slog.LevelInfo, 3, 5)
		}()
		synctest.Wait() // the caller is blocked, or has returned
		select {
		case <-done:
			require.Fail(t, "the caller did not wait for room")
		default:
		}
		gate.open()
		<-done
		require.NoError(t, q.Close())
		assert.Len(t, sink.all(), 8, "nothing lost")
		checkIdentity(t, q.Stats())
	})
}

func TestNewQueueBadInput(t *testing.T) {
	sink := newRecSink()
	cases := []struct {
		name string
		sink asynclog.Sink
		opts asynclog.Options
		want string
	}{
		{"nil sink", nil, asynclog.Options{}, "nil"},
		{"negative size", sink, asynclog.Options{Size: -1}, "Size is negative"},
		{"negative batch", sink, asynclog.Options{BatchSize: -1}, "BatchSize is negative"},
		{"negative interval", sink, asynclog.Options{MinInterval: -time.Second}, "MinInterval is negative"},
		{"unknown policy", sink, asynclog.Options{OnFull: 7}, "OnFull"},
		{"negative duration said as one", sink, asynclog.Options{BlockTimeout: -time.Second}, "BlockTimeout is negative (-1s)"},
		{"negative MaxBytes", sink, asynclog.Options{MaxBytes: -1}, "MaxBytes is negative"},
		{"backoff bounds crossed", sink, asynclog.Options{MinBackoff: time.Minute, MaxBackoff: time.Second}, "MinBackoff (1m0s) is above MaxBackoff (1s)"},
		{"nil SinkFunc", asynclog.SinkFunc(nil), asynclog.Options{}, "nil SinkFunc"},
		{"WriterSink(nil)", asynclog.WriterSink(nil), asynclog.Options{}, "WriterSink needs an io.Writer"},
		{"nil fallback SinkFunc", sink, asynclog.Options{Fallback: asynclog.SinkFunc(nil)}, "Options.Fallback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := asynclog.NewQueue(tc.sink, tc.opts)
			require.Error(t, err)
			assert.Nil(t, q)
			assert.True(t, strings.Contains(err.Error(), tc.want), "error %q names the mistake %q", err, tc.want)
		})
	}
}

// TestRecordOfMaxBytesIsKeptAndOneByteMoreIsDropped: a record of exactly
// MaxBytes is queued and delivered byte for byte, one of MaxBytes+1 is
// dropped (and Flush reports that one drop, once), and a line that is empty
// after trimming is not a record.
func TestRecordOfMaxBytesIsKeptAndOneByteMoreIsDropped(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		mu.Lock()
		for _, r := range b {
			got = append(got, append([]byte(nil), r.Encoded...))
		}
		mu.Unlock()
		return nil
	})
	const mb = 1000
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 4, MaxBytes: mb, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	w := asynclog.NewWriter(q)
	exact := strings.Repeat("a", mb)
	over := strings.Repeat("b", mb+1)
	w.Write([]byte(exact))
	w.Write([]byte(over))
	w.Write([]byte("\n")) // empty after trimming: not a record
	w.Write([]byte("c"))
	err = q.Flush(context.Background())
	if assert.ErrorIs(t, err, asynclog.ErrDropped, "Flush reports the drop") {
		assert.Contains(t, err.Error(), ": 1", "one record dropped")
	}
	assert.NoError(t, q.Flush(context.Background()), "a second Flush has nothing new to report")
	q.Close()
	mu.Lock()
	defer mu.Unlock()
	var texts []string
	for _, b := range got {
		if !strings.HasPrefix(string(b), "{") { // not the drop notice
			texts = append(texts, string(b))
		}
	}
	assert.Equal(t, []string{exact, "c"}, texts, "records delivered byte for byte")
}

// TestRecordsOfEverySizeFromManyProducersArriveIntact: many producers,
// random sizes from 40 B to MaxBytes+1, DropOldest with a small MaxBytes so
// that the store grows, wraps and evicts across its end: every delivered
// record is exactly a line that was logged (each line carries its own
// length and a pattern), and the stats agree with what the sink counted.
func TestRecordsOfEverySizeFromManyProducersArriveIntact(t *testing.T) {
	const mb = 4096
	var bad atomic.Pointer[string]
	var n atomic.Int64
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		for _, r := range b {
			e := string(r.Encoded)
			if strings.HasPrefix(e, "{") { // drop notice
				continue
			}
			var p, i, l int
			if _, err := fmt.Sscanf(e, "level=%s", new(string)); err != nil {
				bad.Store(&e)
				continue
			}
			idx := strings.Index(e, " id=")
			if idx < 0 {
				bad.Store(&e)
				continue
			}
			if _, err := fmt.Sscanf(e[idx:], " id=%d/%d len=%d ", &p, &i, &l); err != nil || l != len(e) || e != lineOfLen(r.Level >= slog.LevelError, p, i, l) {
				bad.Store(&e)
			}
			n.Add(1)
		}
		if rand.IntN(4) == 0 {
			// Load, not synchronisation: a sink that is sometimes slow, so
			// that the store fills and evicts.
			time.Sleep(100 * time.Microsecond)
		}
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 64, MaxBytes: mb, OnFull: asynclog.DropOldest, BatchSize: 7, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	w := asynclog.NewWriter(q)
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				l := 40 + rand.IntN(mb/3)
				if rand.IntN(50) == 0 {
					l = mb + rand.IntN(2) // exactly MaxBytes, or one more
				}
				w.Write([]byte(lineOfLen(i%4 == 0, p, i, l)))
			}
		}()
	}
	wg.Wait()
	_ = q.Flush(context.Background())
	q.Close()
	if e := bad.Load(); e != nil {
		assert.Fail(t, "corrupted record delivered", "%d B: %.120q", len(*e), *e)
	}
	s := q.Stats()
	checkIdentity(t, s)
	assert.Equal(t, n.Load(), int64(s.Delivered), "Delivered counts what the sink received: %+v", s)
}

// lineOfLen is a logfmt line of exactly l bytes (l >= 40).
func lineOfLen(kept bool, p, i, l int) string {
	lvl := "INFO "
	if kept {
		lvl = "ERROR"
	}
	head := fmt.Sprintf("level=%s id=%d/%d len=%d ", lvl, p, i, l)
	var b strings.Builder
	b.WriteString(head)
	for j := b.Len(); j < l; j++ {
		b.WriteByte(byte('a' + (p*7+i+j)%26))
	}
	return b.String()
}

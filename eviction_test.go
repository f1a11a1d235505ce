package asynclog_test

// Eviction (DropOldest, and kept records making room in the drop modes):
// what it may take, and what it must leave.

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// TestSyncRecordIsNeverEvicted: a synchronous record below KeepLevel (at
// a SyncLevel set below it, or a zap DPanic under a KeepLevel above it)
// is kept once admitted. With the sink holding the first record, the
// synchronous record and a kept one fill the queue; the next kept record
// finds nothing below the kept level to evict and waits for room instead
// of evicting the synchronous record, whose call then returns nil once it
// is delivered. In memory and in a spool, in both drop modes.
func TestSyncRecordIsNeverEvicted(t *testing.T) {
	pad := strings.Repeat("p", 1900) // with a spool, two kept records fill its 4 KiB
	slogSync := func(q *asynclog.Queue) error {
		// Handle, not a Logger: slog's Logger drops the call's error.
		return asynclog.NewHandler(q, nil).Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelWarn, "sync", 0))
	}
	zapSync := func(q *asynclog.Queue) error {
		core := asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.DebugLevel, q)
		return core.Write(zapcore.Entry{Level: zapcore.DPanicLevel, Time: time.Now(), Message: "sync"}, nil)
	}
	cases := []struct {
		name     string
		sync     func(*asynclog.Queue) error
		syncAt   slog.Level // Options.SyncLevel
		keptAt   slog.Level // Options.KeepLevel, and the kept records' level
		spool    bool
		dropMode asynclog.Overflow
	}{
		{"SyncLevel below KeepLevel/DropOldest", slogSync, slog.LevelWarn, slog.LevelError, false, asynclog.DropOldest},
		{"SyncLevel below KeepLevel/DropNewest", slogSync, slog.LevelWarn, slog.LevelError, false, asynclog.DropNewest},
		{"SyncLevel below KeepLevel/spool", slogSync, slog.LevelWarn, slog.LevelError, true, asynclog.DropOldest},
		{"zap DPanic below KeepLevel/DropOldest", zapSync, slog.LevelError + 12, slog.LevelError + 8, false, asynclog.DropOldest},
		{"zap DPanic below KeepLevel/spool", zapSync, slog.LevelError + 12, slog.LevelError + 8, true, asynclog.DropOldest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newRecSink()
				gate := newGateSink(sink, true)
				opts := asynclog.Options{Size: 2, BatchSize: 1, OnFull: tc.dropMode, SyncLevel: tc.syncAt, KeepLevel: tc.keptAt}
				if tc.spool {
					opts.Size, opts.Spool, opts.SpoolBytes = 0, t.TempDir(), 4096
				}
				q := newQueue(t, gate, opts)
				l := slog.New(asynclog.NewHandler(q, nil))
				l.Info("held")
				gate.waitStarted(t) // in the sink's hands from now on

				var wg sync.WaitGroup
				var syncErr error
				wg.Go(func() { syncErr = tc.sync(q) })
				synctest.Wait() // admitted: its call waits for the delivery
				// Kept records, synchronous too at a SyncLevel below KeepLevel.
				kept := func() { l.Log(context.Background(), tc.keptAt, "kept", "pad", pad) }
				wg.Go(kept)
				synctest.Wait()
				wg.Go(kept)
				synctest.Wait() // the queue is full of records not to evict: this one waits
				assert.Equal(t, 4, q.Stats().Queued, "the held record, the synchronous one, a kept one, one waiting")

				gate.open()
				wg.Wait()
				require.NoError(t, syncErr, "the synchronous call returns nil: its record and those before it were delivered")
				require.NoError(t, q.Close())
				assert.Equal(t, []string{"held", "sync", "kept", "kept"}, sink.messages(), "nothing evicted")
				s := q.Stats()
				assert.Zero(t, s.Dropped, "%+v", s)
				checkIdentity(t, s)
			})
		})
	}
}

// TestKeptRecordsSurviveAFloodOfEvictions: with the sink holding its first
// batch, 32 producers flood a DropOldest queue with lower records of every
// size and a few kept (Error) ones that fit the bounds together: lower
// records are evicted around the kept ones, in every segment, and no kept
// record is lost. In ten shapes of Size, MaxBytes and BatchSize.
func TestKeptRecordsSurviveAFloodOfEvictions(t *testing.T) {
	for round := range 10 {
		c := newProdChecker()
		var kept atomic.Int64
		next := c.sink()
		gate := newGateSink(asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			for _, r := range b {
				if r.Level == slog.LevelError {
					kept.Add(1)
				}
			}
			return next.Write(ctx, b)
		}), true)
		q := newQueue(t, gate, asynclog.Options{
			Size: 64 + round, MaxBytes: 32<<10 + round*1000, BatchSize: 4 + round,
			OnFull: asynclog.DropOldest, BlockTimeout: time.Minute, OnError: func(error) {},
		})
		w := asynclog.NewWriter(q)
		l, _ := prodLine(99, 0)
		_, _ = w.Write([]byte(relevel(l, slog.LevelInfo)))
		gate.waitStarted(t) // the held batch
		var wantKept atomic.Int64
		var wg sync.WaitGroup
		for p := range 32 {
			wg.Go(func() {
				for i := range 300 {
					l, lv := prodLine(p, i)
					if lv == slog.LevelError && (i%37 != 0 || len(l) > 400) {
						l = relevel(l, slog.LevelWarn) // a few small kept records: they fit the bounds together
					} else if lv == slog.LevelError {
						wantKept.Add(1)
					}
					_, _ = w.Write([]byte(l))
				}
			})
		}
		wg.Wait()
		gate.open()
		_ = q.Flush(context.Background()) // reports the evictions
		require.NoError(t, q.Close())
		c.check(t)
		assert.Equal(t, wantKept.Load(), kept.Load(), "round %d: every kept record delivered", round)
		checkIdentity(t, q.Stats())
	}
}

// TestEvictionUnderAMovingKeepLevelDeliversRecordsIntact: DropOldest
// behind a slow sink while KeepLevel changes all the time, so that the
// eviction cursor is reset again and again and segments are trimmed under
// it: every record delivered is intact, once, in its producer's order; a
// Flush after the producers stop leaves nothing queued; the counts add up.
func TestEvictionUnderAMovingKeepLevelDeliversRecordsIntact(t *testing.T) {
	for _, kind := range []string{"SinkFunc", "WriterSink"} {
		t.Run(kind, func(t *testing.T) {
			c := newProdChecker()
			var slow atomic.Bool
			slow.Store(true)
			next := c.sink()
			var sink asynclog.Sink = asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
				if slow.Load() {
					runtime.Gosched() // load, not synchronisation: the queue fills and evicts
				}
				return next.Write(ctx, b)
			})
			if kind == "WriterSink" {
				sink = asynclog.WriterSink(&lineWriter{c: c})
			}
			var keep slog.LevelVar
			q := newQueue(t, sink, asynclog.Options{
				Size: 48, MaxBytes: 6 << 10, BatchSize: 8, OnFull: asynclog.DropOldest,
				KeepLevel: &keep, BlockTimeout: 50 * time.Millisecond, OnError: func(error) {},
			})
			stop := make(chan struct{})
			var mover sync.WaitGroup
			mover.Go(func() {
				levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 4}
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					keep.Set(levels[k%len(levels)])
					runtime.Gosched()
				}
			})
			w := asynclog.NewWriter(q)
			const producers, each = 32, 500
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					for i := range each {
						l, _ := prodLine(p, i)
						_, _ = w.Write([]byte(l))
					}
				})
			}
			wg.Wait()
			close(stop)
			mover.Wait()
			slow.Store(false)
			_ = q.Flush(context.Background()) // reports the evictions
			assert.Zero(t, q.Stats().Queued, "nothing queued after the Flush")
			require.NoError(t, q.Close())
			c.check(t)
			s := q.Stats()
			checkIdentity(t, s)
			assert.EqualValues(t, producers*each, s.Enqueued, "%+v", s)
			assert.EqualValues(t, c.count(), s.Delivered, "Delivered counts what the sink took: %+v", s)
		})
	}
}

package asynclog_test

// Eviction (DropOldest, and kept records making room in the drop modes):
// what it may take, and what it must leave.

import (
	"context"
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

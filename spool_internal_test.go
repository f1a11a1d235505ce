package asynclog

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaveInSpool logs recs into a spool behind a sink that never answers and
// shuts down at a short deadline, so they stay in the spool.
func leaveInSpool(t *testing.T, dir string, spoolBytes int64, recs []Record) {
	t.Helper()
	sink := SinkFunc(func(ctx context.Context, b []Record) error { <-ctx.Done(); return ctx.Err() })
	pub, err := NewQueue(sink, Options{Spool: dir, SpoolBytes: spoolBytes, OnError: func(error) {}, OnFull: DropNewest})
	require.NoError(t, err, "NewQueue")
	for _, r := range recs {
		pub.q.log(ptr(r), false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = pub.Shutdown(ctx)
	<-pub.q.done
}

// TestCrashReportInAFullSpoolEvictsNothing: a full spool left by a crashed
// run, with the runtime's crash report beside it, is reopened with
// CrashReport. The report never evicts a replayed record (it is cut to the
// room left, or stays in the directory for the next start), and after
// Close Enqueued = Delivered + Dropped + Failed + Queued.
func TestCrashReportInAFullSpoolEvictsNothing(t *testing.T) {
	dir := t.TempDir()
	var recs []Record
	for i := range 3 {
		recs = append(recs, testRec(i, 1200, slog.LevelInfo))
	}
	leaveInSpool(t, dir, 4096, recs)
	// What the runtime would have written at a crash.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crash"), bytes.Repeat([]byte("panic: boom\n"), 150), 0o600))
	var n atomic.Int64
	sink := SinkFunc(func(ctx context.Context, b []Record) error { n.Add(int64(len(b))); return nil })
	pub, err := NewQueue(sink, Options{Spool: dir, SpoolBytes: 4096, CrashReport: true, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue on the crashed run's spool")
	closeErr := pub.Close()
	s := pub.Stats()
	assert.Equal(t, s.Enqueued, s.Delivered+s.Dropped+s.Failed+uint64(s.Queued), "Stats add up: %+v (delivered to sink %d, Close: %v)", s, n.Load(), closeErr)
	assert.Zero(t, s.Dropped, "no replayed record is evicted for the report: %+v", s)
	assert.EqualValues(t, 3, s.Replayed, "the three records are replayed: %+v", s)
}

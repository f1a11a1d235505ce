package asynclog_test

// A damaged spool (records overwritten, the file cut, the head field
// zeroed): the next queue delivers what is intact, in order, never
// garbage, counts the damage in Stats and tells OnError.

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// TestSpoolDamage: bytes of stored records overwritten, or the file cut
// mid-record: no garbage delivered, the rest delivered, OnError told and
// Stats count it.
func TestSpoolDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"overwritten", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("garbage garbage garbage"), 4096+100*1000)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"truncated", func(t *testing.T, path string) {
			require.NoError(t, os.Truncate(path, 4096+100*1000+37))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Fill a spool behind a dead sink and leave it there: Shutdown
			// at its deadline keeps what it could not deliver.
			q, err := asynclog.NewQueue(deadSink, asynclog.Options{Spool: dir, OnError: func(error) {}})
			require.NoError(t, err)
			l := slog.New(asynclog.NewHandler(q, nil))
			for i := range 2000 {
				l.Info("rec", "i", i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			err = q.Shutdown(ctx)
			cancel()
			require.ErrorContains(t, err, "left in the spool")
			// Shutdown's bound is its ctx: the consumer may still be
			// returning from its cancelled Write, holding the spool. A
			// second Shutdown waits for it.
			require.ErrorContains(t, q.Shutdown(context.Background()), "left in the spool", "the same result")
			tc.damage(t, filepath.Join(dir, "data"))

			errs := &errorLog{}
			sink := newRecSink()
			q2, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir, OnError: errs.add})
			require.NoError(t, err, "damage never makes NewQueue fail")
			require.NoError(t, q2.Close())
			idx, _ := recordIndexes(t, sink.all())
			assert.Greater(t, len(idx), 100, "the records before the damage are delivered")
			assert.Less(t, len(idx), 2000, "the damaged ones are not")
			for k := 1; k < len(idx); k++ {
				assert.Less(t, idx[k-1], idx[k], "in order, each once")
			}
			assert.Positive(t, q2.Stats().Damaged, "counted in Stats")
			found := false
			for _, e := range errs.all() {
				found = found || strings.Contains(e.Error(), "spool")
			}
			assert.True(t, found, "OnError told: %v", errs.all())
		})
	}
}

// TestSpoolHeadDamaged: the spool's head field zeroed, before the ring
// wraps and after: the next queue delivers the records that were queued
// and none of those delivered before, counts the damage in Stats and tells
// OnError.
func TestSpoolHeadDamaged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		delivered int // records delivered before the damage
	}{
		{"before the ring wraps", 300},
		{"after it wrapped", 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := asynclog.Options{Spool: dir, SpoolBytes: 64 << 10, OnError: func(error) {}}
			q, err := asynclog.NewQueue(newRecSink(), opts)
			require.NoError(t, err, "first queue")
			l := slog.New(asynclog.NewHandler(q, nil))
			for i := range tc.delivered {
				l.Info("rec", "i", i)
			}
			require.NoError(t, q.Close(), "Close: all delivered")

			q, err = asynclog.NewQueue(deadSink, opts)
			require.NoError(t, err, "second queue")
			l = slog.New(asynclog.NewHandler(q, nil))
			for i := range 300 {
				l.Info("rec", "i", tc.delivered+i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_ = q.Shutdown(ctx)
			require.ErrorContains(t, q.Shutdown(context.Background()), "300 records left in the spool", "the 300 stay")

			f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_WRONLY, 0)
			require.NoError(t, err, "open data file")
			_, err = f.WriteAt(make([]byte, 8), 32) // the head field
			require.NoError(t, err, "zero the head field")
			require.NoError(t, f.Close(), "close data file")

			errs := &errorLog{}
			sink := newRecSink()
			opts.OnError = errs.add
			q, err = asynclog.NewQueue(sink, opts)
			require.NoError(t, err, "third queue")
			require.NoError(t, q.Close(), "Close")
			idx, _ := recordIndexes(t, sink.all())
			want := make([]int, 300)
			for i := range want {
				want[i] = tc.delivered + i
			}
			assert.Equal(t, want, idx, "the 300 queued records, none delivered before")
			assert.Positive(t, q.Stats().Damaged, "Stats count the damage")
			found := false
			for _, e := range errs.all() {
				found = found || strings.Contains(e.Error(), "head field damaged")
			}
			assert.True(t, found, "OnError told: %v", errs.all())
		})
	}
}

package asynclog_test

// The spool (Options.Spool) within one process: one owner at a time, a
// fixed size on disk and a flat heap when full, SpoolBytes checked, a place
// it cannot write refused, the records a run left replayed by the next
// queue, kept records kept under DropOldest.

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// deadSink never takes anything: each Write waits for its ctx.
var deadSink = asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
	<-ctx.Done()
	return ctx.Err()
})

// recordIndexes returns the "i" of each record, and the crash reports.
func recordIndexes(t *testing.T, recs []asynclog.Record) (idx []int, crashes []map[string]any) {
	t.Helper()
	for _, r := range recs {
		m := decode(t, r.Encoded)
		if r.Message == "asynclog: the previous run crashed" {
			crashes = append(crashes, m)
			continue
		}
		i, ok := m["i"].(float64)
		require.True(t, ok, "a record with its index: %s", r.Encoded)
		idx = append(idx, int(i))
	}
	return idx, crashes
}

// TestSpoolOneOwner: a second queue on a spool that a live queue holds is
// refused with ErrSpoolInUse; once the first is closed, it opens.
func TestSpoolOneOwner(t *testing.T) {
	dir := t.TempDir()
	q1, err := asynclog.NewQueue(newRecSink(), asynclog.Options{Spool: dir})
	require.NoError(t, err)
	_, err = asynclog.NewQueue(newRecSink(), asynclog.Options{Spool: dir})
	require.ErrorIs(t, err, asynclog.ErrSpoolInUse)
	assert.Contains(t, err.Error(), dir, "the error names the directory")
	require.NoError(t, q1.Close())
	q2, err := asynclog.NewQueue(newRecSink(), asynclog.Options{Spool: dir})
	require.NoError(t, err, "free again once its owner closed")
	require.NoError(t, q2.Close())
}

// TestSpoolFullKeepsItsSize: a spool at SpoolBytes behind a dead sink
// applies OnFull and does not grow on disk; the heap stays flat.
func TestSpoolFullKeepsItsSize(t *testing.T) {
	dir := t.TempDir()
	const size = 256 << 10
	gate := newGateSink(newRecSink(), true)
	q, err := asynclog.NewQueue(gate, asynclog.Options{Spool: dir, SpoolBytes: size, OnFull: asynclog.DropNewest})
	require.NoError(t, err)
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("first")
	gate.waitStarted(t)
	before := heapInUse()
	for i := range 20000 {
		l.Info("rec", "i", i, "pad", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	}
	after := heapInUse()
	st := q.Stats()
	assert.Positive(t, st.Dropped, "the full spool dropped the newest: %+v", st)
	assert.Less(t, int64(after)-int64(before), int64(1<<20), "the heap does not hold the spool's records")
	var total int64
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(t, err)
		total += fi.Size()
	}
	assert.LessOrEqual(t, total, int64(size+64<<10), "the spool's files stay at SpoolBytes and a header")
	gate.open()
	require.ErrorIs(t, q.Close(), asynclog.ErrDropped)
}

// TestSpoolFull64MiBHeapFlat: a full spool of the default 64 MiB behind a
// dead sink keeps the heap flat: the records are in the file mapping, not
// in the heap.
func TestSpoolFull64MiBHeapFlat(t *testing.T) {
	dir := t.TempDir()
	gate := newGateSink(nil, true)
	q, err := asynclog.NewQueue(gate, asynclog.Options{Spool: dir, OnFull: asynclog.DropNewest})
	require.NoError(t, err)
	require.Equal(t, int64(64<<20), q.Options().SpoolBytes, "the default")
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("first")
	gate.waitStarted(t)
	before := heapInUse()
	pad := strings.Repeat("p", 900)
	for i := 0; q.Stats().Dropped == 0; i++ {
		l.Info("rec", "i", i, "pad", pad)
	}
	after := heapInUse()
	st := q.Stats()
	t.Logf("spool full at %d records; heap in use %d KiB before, %d KiB after", st.Queued, before>>10, after>>10)
	assert.Greater(t, st.Queued, 60000, "the spool holds about 64 MiB of records")
	assert.Less(t, int64(after)-int64(before), int64(2<<20), "the heap does not grow with the spool's contents")
	gate.open()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.ErrorIs(t, q.Shutdown(ctx), asynclog.ErrDropped)
}

// TestFlushRightAfterReplayWaitsForTheReplayedRecords: records left in a
// spool by a run whose sink never answered are replayed by the next
// NewQueue on it, in order, and a Flush called at once waits until they
// are delivered. The spool has one owner at a time. Runs on synctest's
// clock, so "Flush has not returned" is checked once everything is
// blocked, not after a guessed pause.
func TestFlushRightAfterReplayWaitsForTheReplayedRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		{
			sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error { <-ctx.Done(); return ctx.Err() })
			q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir, OnError: func(error) {}})
			require.NoError(t, err, "first NewQueue")
			w := asynclog.NewWriter(q)
			for i := range 20 {
				fmt.Fprintf(w, `{"level":"INFO","msg":"r%d"}`+"\n", i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			_ = q.Shutdown(ctx)
			cancel()
			synctest.Wait() // the first queue's consumer has let the spool go
		}
		gate := make(chan struct{})
		var mu sync.Mutex
		var got []string
		sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
			<-gate
			mu.Lock()
			for _, r := range b {
				got = append(got, r.Message)
			}
			mu.Unlock()
			return nil
		})
		q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir, OnError: func(error) {}})
		require.NoError(t, err, "NewQueue on the spool left behind")
		defer q.Close()
		s := q.Stats()
		assert.EqualValues(t, 20, s.Replayed, "records replayed: %+v", s)
		assert.True(t, addsUp(s), "Stats add up after replay: %+v", s)
		_, err = asynclog.NewQueue(sink, asynclog.Options{Spool: dir})
		assert.ErrorIs(t, err, asynclog.ErrSpoolInUse, "a second queue on a spool in use")
		done := make(chan error, 1)
		go func() { done <- q.Flush(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			require.Fail(t, "Flush returned before the replayed records were delivered", "%v", err)
		default:
		}
		close(gate)
		require.NoError(t, <-done, "Flush")
		mu.Lock()
		defer mu.Unlock()
		want := make([]string, 20)
		for i := range want {
			want[i] = fmt.Sprintf("r%d", i)
		}
		assert.Equal(t, want, got, "the replayed records, in order")
	})
}

// TestSpoolRefusesAPlaceItCannotWriteAndDropsARecordLargerThanItself:
// NewQueue fails on a Spool that is a file or an unwritable directory; a
// record larger than SpoolBytes is dropped and reported by Flush, and the
// records after it are delivered.
func TestSpoolRefusesAPlaceItCannotWriteAndDropsARecordLargerThanItself(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil })
	if q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: f}); !assert.Error(t, err, "a spool on a file") {
		q.Close()
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o500))
		if q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: ro}); !assert.Error(t, err, "an unwritable spool") {
			q.Close()
		}
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: filepath.Join(dir, "small"), SpoolBytes: 4096, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	w := asynclog.NewWriter(q)
	fmt.Fprintf(w, `{"level":"ERROR","msg":"%s"}`+"\n", strings.Repeat("y", 5000))
	fmt.Fprintln(w, `{"level":"INFO","msg":"ok"}`)
	assert.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrDropped, "Flush reports the oversized record")
	require.NoError(t, q.Close(), "Close")
	s := q.Stats()
	assert.EqualValues(t, 1, s.Dropped, "the oversized record is dropped: %+v", s)
	assert.EqualValues(t, 1, s.Delivered, "the one after it is delivered: %+v", s)
	assert.True(t, addsUp(s), "Stats add up: %+v", s)
}

// TestSpoolDropOldestKeepsEveryErrorRecordInOrder: a spool behind a stopped
// sink, mixed levels under DropOldest: every Error record survives and is
// delivered in order, and the stats add up at every step.
func TestSpoolDropOldestKeepsEveryErrorRecordInOrder(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	var mu sync.Mutex
	var got []string
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
		mu.Lock()
		for _, r := range b {
			got = append(got, r.Message)
		}
		mu.Unlock()
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: t.TempDir(), SpoolBytes: 8192, OnFull: asynclog.DropOldest, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	w := asynclog.NewWriter(q)
	fmt.Fprintln(w, `{"level":"INFO","msg":"held"}`)
	<-started
	want := 0
	for i := range 300 {
		lvl := "INFO"
		if i%10 == 0 {
			lvl = "ERROR"
			want++
		}
		fmt.Fprintf(w, `{"level":%q,"msg":"%s%03d","pad":%q}`+"\n", lvl, lvl[:1], i, strings.Repeat("z", rand.IntN(150)))
		s := q.Stats()
		require.True(t, addsUp(s), "Stats add up after record %d: %+v", i, s)
	}
	close(gate)
	_ = q.Flush(context.Background())
	if err := q.Close(); err != nil {
		t.Log(err)
	}
	s := q.Stats()
	checkIdentity(t, s)
	mu.Lock()
	defer mu.Unlock()
	n, last := 0, ""
	for _, m := range got {
		if strings.HasPrefix(m, "E") {
			require.Greater(t, m, last, "Error records in order")
			last = m
			n++
		}
	}
	assert.Equal(t, want, n, "Error records delivered; stats %+v", s)
}

// TestSpoolBytesValidated: SpoolBytes without Spool, or below one page, is
// refused at NewQueue; Options reports the ring's real size; a record that
// takes more than that size in the ring is dropped, one that fits is kept.
func TestSpoolBytesValidated(t *testing.T) {
	_, err := asynclog.NewQueue(newRecSink(), asynclog.Options{SpoolBytes: 1 << 20})
	assert.ErrorContains(t, err, "SpoolBytes needs Options.Spool", "SpoolBytes without Spool")
	_, err = asynclog.NewQueue(newRecSink(), asynclog.Options{Spool: t.TempDir(), SpoolBytes: 10})
	assert.ErrorContains(t, err, "below the minimum, 4096", "SpoolBytes of 10")

	// The io.Writer front end stores the line without its newline and no
	// message: a record takes 48 bytes of header and the line, rounded up
	// to 8.
	line := func(n int) []byte { return append([]byte(strings.Repeat("x", n)), '\n') }
	q, err := asynclog.NewQueue(deadSink, asynclog.Options{Spool: t.TempDir(), SpoolBytes: 5000, OnFull: asynclog.DropNewest})
	require.NoError(t, err, "SpoolBytes 5000")
	assert.Equal(t, int64(8192), q.Options().SpoolBytes, "Options reports the ring's size, rounded up to a page")
	w := asynclog.NewWriter(q)
	_, _ = w.Write(line(8192 - 48))
	_, _ = w.Write(line(8192 - 48 + 1))
	assert.Equal(t, uint64(1), q.Stats().Dropped, "a record of 8192 bytes in the ring is queued, one of 8200 dropped")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = q.Shutdown(ctx)
	require.ErrorContains(t, q.Shutdown(context.Background()), "left in the spool", "the record that fitted stays")
}

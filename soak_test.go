package asynclog_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
)

// soakDuration is how long TestSoak floods by default: long enough for a
// few dozen queue lifetimes, short enough for CI. ASYNCLOG_SOAK (a Go
// duration, "10m") makes it longer for a run by hand.
const soakDuration = 5 * time.Second

// openFDs returns the number of open file descriptors, or -1 where
// /proc/self/fd does not exist.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestSoak runs queue lifetimes back to back for a fixed time (each: a log
// file, a queue with a rotating overflow policy, producers logging through
// zap and slog, Flushes, Close), and checks that goroutines, heap and file
// descriptors end where they started, and that each lifetime's file holds
// exactly the records counted Delivered. It is skipped under -short.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped under -short")
	}
	d := soakDuration
	if s := os.Getenv("ASYNCLOG_SOAK"); s != "" {
		var err error
		d, err = time.ParseDuration(s)
		require.NoError(t, err, "ASYNCLOG_SOAK must be a Go duration")
	}
	dir := t.TempDir()
	ignore := goleak.IgnoreCurrent()
	fdsBefore := openFDs()
	heapBefore := heapInUse()

	rounds, records := 0, uint64(0)
	for end := time.Now().Add(d); time.Now().Before(end); rounds++ {
		records += soakRound(t, dir, rounds)
		if t.Failed() {
			break
		}
	}

	heapAfter := heapInUse()
	t.Logf("%d queue lifetimes, %d records in %v; heap in use %d KiB before, %d KiB after; fds %d before, %d after",
		rounds, records, d, heapBefore>>10, heapAfter>>10, fdsBefore, openFDs())
	goleak.VerifyNone(t, ignore)
	if fdsBefore >= 0 {
		assert.Equal(t, fdsBefore, openFDs(), "open file descriptors end where they started")
	} else {
		t.Log("no /proc/self/fd: file descriptors not checked")
	}
	assert.LessOrEqual(t, int64(heapAfter)-int64(heapBefore), int64(4<<20), "heap in use ends within 4 MiB of where it started")
}

// soakRound runs one queue lifetime and returns the records it logged.
func soakRound(t *testing.T, dir string, round int) uint64 {
	path := filepath.Join(dir, fmt.Sprintf("soak-%d.jsonl", round))
	f, err := os.Create(path)
	require.NoError(t, err, "create the log file")
	defer os.Remove(path)

	policy := []asynclog.Overflow{asynclog.Block, asynclog.DropNewest, asynclog.DropOldest}[round%3]
	sink := asynclogtest.Inject(asynclog.WriterSink(f), asynclogtest.Faults{Seed: uint64(round), FailRate: 0.05})
	q, err := asynclog.NewQueue(sink, asynclog.Options{
		Size: 512, BatchSize: 64, OnFull: policy,
		MinBackoff: 100 * time.Microsecond, MaxBackoff: time.Millisecond,
		OnError: func(error) {},
	})
	require.NoError(t, err, "NewQueue")

	zcfg := zap.NewProductionEncoderConfig()
	zcfg.MessageKey = "msg"
	zlog := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zcfg), zapcore.InfoLevel, q))
	slogger := slog.New(asynclog.NewHandler(q, nil))
	const producers, each = 4, 2000
	var wg sync.WaitGroup
	for g := range producers {
		wg.Go(func() {
			for i := range each {
				if g%2 == 0 {
					zlog.Info("soak", zap.Int("g", g), zap.Int("i", i), zap.String("pad", "0123456789abcdef"))
				} else {
					slogger.Info("soak", "g", g, "i", i, "pad", "0123456789abcdef")
				}
				if i%500 == 499 {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_ = q.Flush(ctx) // reports the injected failures
					cancel()
				}
			}
		})
	}
	wg.Wait()
	closeErr := q.Close()
	require.NoError(t, f.Close(), "close the log file")
	st := q.Stats()
	if st.Failed == 0 {
		assert.NoError(t, closeErr, "Close")
	}
	assert.Equal(t, uint64(producers*each), st.Enqueued, "all records enqueued (%v): %+v", policy, st)
	assert.Zero(t, st.Queued, "nothing queued after Close: %+v", st)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Dropped+st.Failed, "Enqueued = Delivered + Dropped + Failed (%v): %+v", policy, st)
	if policy == asynclog.Block {
		assert.Zero(t, st.Dropped, "Block mode drops nothing: %+v", st)
	}

	lines := 0
	r, err := os.Open(path)
	require.NoError(t, err, "reopen the log file")
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"msg":"soak"`)) {
			lines++
		}
	}
	require.NoError(t, sc.Err(), "read the log file")
	assert.Equal(t, st.Delivered, uint64(lines), "the file holds exactly the Delivered records (%v): %+v", policy, st)
	return st.Enqueued
}

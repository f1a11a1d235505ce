package asynclog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

const spoolChildEnv = "ASYNCLOG_SPOOL_CHILD"

// spoolRecords is how many records a spool child logs.
const spoolRecords = 20000

// deadSink never takes anything: each Write waits for its ctx.
var deadSink = asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
	<-ctx.Done()
	return ctx.Err()
})

// fileSinkSlow appends each batch to path, 1 ms a batch.
func fileSinkSlow(path string) asynclog.Sink {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		panic(err)
	}
	w := asynclog.WriterSink(f)
	return asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		time.Sleep(time.Millisecond) // load, not synchronisation: a slow sink leaves records in the spool
		return w.Write(ctx, b)
	})
}

// stallingSink passes the first n Writes to next, then waits for ctx.
func stallingSink(next asynclog.Sink, n int) asynclog.Sink {
	var writes atomic.Int64
	return asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		if writes.Add(1) > int64(n) {
			<-ctx.Done()
			return ctx.Err()
		}
		return next.Write(ctx, b)
	})
}

// spoolLogger returns a function that logs record i through the named
// front end.
func spoolLogger(q *asynclog.Queue, front string) func(i int) {
	switch front {
	case "zap":
		l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, q))
		return func(i int) { l.Info("rec", zap.Int("i", i)) }
	case "writer":
		w := asynclog.NewWriter(q)
		return func(i int) { fmt.Fprintf(w, `{"level":"info","msg":"rec","i":%d}`+"\n", i) }
	}
	l := slog.New(asynclog.NewHandler(q, nil))
	return func(i int) { l.Info("rec", "i", i) }
}

// TestSpoolChild is the child's body; it runs only when re-run by a spool
// test. It logs spoolRecords records into a spool and then ends as told.
func TestSpoolChild(t *testing.T) {
	mode := os.Getenv(spoolChildEnv)
	if mode == "" {
		return
	}
	dir, front := os.Getenv("ASYNCLOG_SPOOL_DIR"), os.Getenv("ASYNCLOG_FRONT")
	opts := asynclog.Options{Spool: dir, CrashReport: true}
	var sink asynclog.Sink = deadSink
	if mode == "slow-kill" || mode == "sigterm" {
		sink = fileSinkSlow(os.Getenv("ASYNCLOG_OUT"))
		opts.BatchSize = 50
	}
	if mode == "sigterm" {
		// A few batches get through, then the sink stalls until its Write
		// is cancelled: records are certainly left when SIGTERM comes,
		// however fast or slow the loaded machine runs the producer.
		sink = stallingSink(sink, 10)
	}
	if mode == "sigterm" {
		opts.ExitHook, opts.CloseTimeout = true, 200*time.Millisecond
	}
	q, err := asynclog.NewQueue(sink, opts)
	if err != nil {
		panic(err)
	}
	work := func() {
		logf := spoolLogger(q, front)
		for i := range spoolRecords {
			logf(i)
		}
	}
	switch mode {
	case "return":
		// The work returns without Close, and the program ends, as main
		// returning would end it: nothing of ours runs.
		done := make(chan struct{})
		go func() { defer close(done); work() }()
		<-done
		os.Exit(0)
	case "panic":
		work()
		go func() { panic("boom from another goroutine") }()
		time.Sleep(time.Minute) // the panic ends the process first; the minute only bounds a child gone wrong
	case "exit0":
		work()
		os.Exit(0)
	case "fatal":
		work()
		concurrentMapWrites()
	}
	work()
	fmt.Println("ready")
	time.Sleep(time.Minute) // out of process: the parent kills or signals us now; the minute only bounds a child whose parent is gone
	panic("the child should have ended")
}

// concurrentMapWrites ends the process with the runtime's fatal error
// "concurrent map writes", which no recover catches.
func concurrentMapWrites() {
	m := map[int]int{}
	for range 4 {
		go func() {
			for j := 0; ; j++ {
				m[j] = j
			}
		}()
	}
	select {}
}

// runSpoolChild runs TestSpoolChild in a child process and returns its
// wait status. For the modes that wait to be killed it sends sig once the
// child is ready.
func runSpoolChild(t *testing.T, mode, front, dir, out string, sig syscall.Signal) syscall.WaitStatus {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), spoolChildEnv+"="+mode, "ASYNCLOG_SPOOL_DIR="+dir, "ASYNCLOG_FRONT="+front, "ASYNCLOG_OUT="+out)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	if sig != 0 {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && sc.Text() != "ready" {
		}
		require.NoError(t, cmd.Process.Signal(sig))
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	err = cmd.Wait()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "child: %v; stderr: %s", err, stderr.String())
	return ee.Sys().(syscall.WaitStatus)
}

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

// TestSpoolSurvivesEveryExit: a child logs 20,000 records through each
// front end into a dead sink and then dies: SIGKILL, os.Exit(0) without
// Close, a return from its work without Close, a panic in another
// goroutine. The next queue on the spool delivers all 20,000, in order,
// exactly once; after the panic, the crash report too.
func TestSpoolSurvivesEveryExit(t *testing.T) {
	if os.Getenv(spoolChildEnv) != "" {
		return
	}
	cases := []struct {
		mode, front string
		sig         syscall.Signal
		check       func(t *testing.T, st syscall.WaitStatus)
	}{
		{"sigkill", "zap", syscall.SIGKILL, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st.Signaled() && st.Signal() == syscall.SIGKILL, "killed by SIGKILL: %v", st)
		}},
		{"exit0", "slog", 0, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st == 0, "exited 0: %v", st)
		}},
		{"return", "writer", 0, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st == 0, "exited 0: %v", st)
		}},
		{"panic", "slog", 0, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st.Exited() && st.ExitStatus() == 2, "a panic exits 2: %v", st)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+tc.front, func(t *testing.T) {
			dir := t.TempDir()
			st := runSpoolChild(t, tc.mode, tc.front, dir, "", tc.sig)
			tc.check(t, st)

			sink := newRecSink()
			q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir, CrashReport: true})
			require.NoError(t, err)
			require.NoError(t, q.Close())
			stats := q.Stats()
			idx, crashes := recordIndexes(t, sink.all())
			require.Len(t, idx, spoolRecords, "every record the child logged, once")
			for i, v := range idx {
				require.Equal(t, i, v, "record %d: order and exactly-once", i)
			}
			assert.Equal(t, uint64(spoolRecords), stats.Replayed, "Stats count the replayed records")
			if tc.mode == "panic" {
				require.Len(t, crashes, 1, "the crash report, once")
				assert.Contains(t, crashes[0]["crash"], "boom from another goroutine", "with the panic value")
				assert.Contains(t, crashes[0]["crash"], "goroutine", "and the stack")
				assert.Equal(t, "ERROR", crashes[0]["level"])
				assert.NotEmpty(t, crashes[0]["crashed_at"])
			} else {
				assert.Empty(t, crashes, "no crash, no report")
			}
			// A clean Close: nothing replayed again.
			q2, err := asynclog.NewQueue(newRecSink(), asynclog.Options{Spool: dir})
			require.NoError(t, err)
			require.NoError(t, q2.Close())
			assert.Zero(t, q2.Stats().Replayed, "after a clean Close nothing is replayed")
		})
	}
}

// TestSpoolKilledMidDelivery: a child whose sink is slow is killed while it
// delivers: what reached the sink plus what the next start delivers covers
// every record, with duplicates only from the batch in flight.
func TestSpoolKilledMidDelivery(t *testing.T) {
	if os.Getenv(spoolChildEnv) != "" {
		return
	}
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "delivered.ndjson")
	st := runSpoolChild(t, "slow-kill", "slog", dir, out, syscall.SIGKILL)
	assert.True(t, st.Signaled() && st.Signal() == syscall.SIGKILL, "killed: %v", st)
	checkCoverage(t, dir, out, 50)
}

// TestSpoolWithExitHook: SIGTERM whose drain runs out of CloseTimeout
// (the child's sink stalls after a few batches) leaves the rest in the
// spool, and the next start delivers it.
func TestSpoolWithExitHook(t *testing.T) {
	if os.Getenv(spoolChildEnv) != "" {
		return
	}
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "delivered.ndjson")
	st := runSpoolChild(t, "sigterm", "zap", dir, out, syscall.SIGTERM)
	assert.True(t, st.Signaled() && st.Signal() == syscall.SIGTERM, "killed by SIGTERM, as without the hook: %v", st)
	replayed := checkCoverage(t, dir, out, 50)
	assert.Positive(t, replayed, "the drain ran out against a stalled sink: the rest came from the spool")
}

// checkCoverage reopens the spool and checks that the records in out and
// those replayed cover 0..spoolRecords-1, each at least once, with at most
// batch duplicates; it returns how many were replayed.
func checkCoverage(t *testing.T, dir, out string, batch int) uint64 {
	t.Helper()
	seen := make([]int, spoolRecords)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	before := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var m struct{ I *int }
		require.NoError(t, json.Unmarshal([]byte(line), &m), "a whole line: %q", line)
		if m.I != nil {
			seen[*m.I]++
			before++
		}
	}
	sink := newRecSink()
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir})
	require.NoError(t, err)
	require.NoError(t, q.Close())
	idx, _ := recordIndexes(t, sink.all())
	for _, i := range idx {
		seen[i]++
	}
	dups := 0
	for i, n := range seen {
		require.Positive(t, n, "record %d was lost (%d before the end, %d replayed)", i, before, len(idx))
		dups += n - 1
	}
	t.Logf("%d delivered before the end, %d replayed, %d duplicates", before, len(idx), dups)
	assert.LessOrEqual(t, dups, batch, "duplicates only from the batch in flight")
	return q.Stats().Replayed
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

// writeCrashReport leaves text in dir as the runtime's crash output of a
// run that died.
func writeCrashReport(t *testing.T, dir, text string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700), "spool directory")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crash"), []byte(text), 0o600), "write crash report")
}

// TestSpoolCrashReportWithoutCrashReport: a queue opened without
// CrashReport between the crash and the next queue with it delivers the
// report (the run that crashed asked for it), once.
func TestSpoolCrashReportWithoutCrashReport(t *testing.T) {
	dir := t.TempDir()
	writeCrashReport(t, dir, "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n")
	sink := newRecSink()
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir})
	require.NoError(t, err, "queue without CrashReport")
	require.NoError(t, q.Close(), "Close")
	_, crashes := recordIndexes(t, sink.all())
	require.Len(t, crashes, 1, "the report delivered")
	assert.Equal(t, "panic: boom", crashes[0]["crash_cause"], "its cause")

	sink = newRecSink()
	q, err = asynclog.NewQueue(sink, asynclog.Options{Spool: dir, CrashReport: true})
	require.NoError(t, err, "queue with CrashReport")
	require.NoError(t, q.Close(), "Close")
	_, crashes = recordIndexes(t, sink.all())
	assert.Empty(t, crashes, "delivered once")
}

// TestSpoolCrashReportLargerThanSpool: a 200 KB report of a run that left
// 100 records in a 64 KiB spool is cut to the room left, says so, and
// costs no record.
func TestSpoolCrashReportLargerThanSpool(t *testing.T) {
	dir := t.TempDir()
	opts := asynclog.Options{Spool: dir, SpoolBytes: 64 << 10, OnError: func(error) {}}
	q, err := asynclog.NewQueue(deadSink, opts)
	require.NoError(t, err, "first queue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for i := range 100 {
		l.Info("rec", "i", i, "pad", strings.Repeat("p", 200))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = q.Shutdown(ctx)
	require.ErrorContains(t, q.Shutdown(context.Background()), "100 records left in the spool", "the 100 stay")
	report := "panic: big\n\n" + strings.Repeat("goroutine 9 [select]:\nmain.wait()\n\t/x/main.go:9 +0x1\n\n", 200_000/50)
	writeCrashReport(t, dir, report)

	sink := newRecSink()
	opts.CrashReport = true
	q, err = asynclog.NewQueue(sink, opts)
	require.NoError(t, err, "second queue")
	require.NoError(t, q.Close(), "Close")
	idx, crashes := recordIndexes(t, sink.all())
	assert.Len(t, idx, 100, "every record the crashed run left")
	assert.Zero(t, q.Stats().Dropped, "none dropped for the report")
	require.Len(t, crashes, 1, "the report, cut")
	c := crashes[0]
	assert.Equal(t, true, c["crash_truncated"], "says it was cut")
	assert.Equal(t, float64(len(report)), c["crash_bytes"], "and how long it was")
	text, _ := c["crash"].(string)
	assert.True(t, len(text) > 1000 && strings.HasPrefix(report, text), "the report's beginning: %d bytes", len(text))
	assert.Equal(t, "panic: big", c["crash_cause"], "its cause")
}

// TestSpoolCrashReportFatalError: a fatal error that is not a panic
// (concurrent map writes) writes its first line to stderr only; the
// record names the goroutine and the function where it happened.
func TestSpoolCrashReportFatalError(t *testing.T) {
	if os.Getenv(spoolChildEnv) != "" {
		return
	}
	dir := t.TempDir()
	st := runSpoolChild(t, "fatal", "slog", dir, "", 0)
	assert.True(t, st.Exited() && st.ExitStatus() == 2, "a fatal error exits 2: %v", st)
	sink := newRecSink()
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir})
	require.NoError(t, err, "NewQueue")
	require.NoError(t, q.Close(), "Close")
	idx, crashes := recordIndexes(t, sink.all())
	assert.Len(t, idx, spoolRecords, "the records")
	require.Len(t, crashes, 1, "the report")
	cause, _ := crashes[0]["crash_cause"].(string)
	assert.Contains(t, cause, "fatal error (its message went to standard error only) in goroutine ", "the goroutine")
	assert.Contains(t, cause, "concurrentMapWrites", "the function")
	t.Logf("crash_cause: %s", cause)
}

package asynclog_test

// The spool across the process's end: a child process logs into a spool
// and dies (SIGKILL, os.Exit, a return without Close, a panic, SIGTERM
// with the exit hook whose drain runs out, SIGKILL mid-delivery), and the
// next queue on the spool delivers every record, in order, once, but for
// the batch in flight.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
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
	lines := strings.Split(string(data), "\n")
	for k, line := range lines {
		if line == "" {
			continue
		}
		var m struct{ I *int }
		err := json.Unmarshal([]byte(line), &m)
		if err != nil && k == len(lines)-1 {
			// The last Write, cut by the kill: Linux stops a write to a
			// regular file between pages when a fatal signal is pending.
			// Its batch was not released, so the next start delivers it.
			continue
		}
		require.NoError(t, err, "a whole line: %q", line)
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

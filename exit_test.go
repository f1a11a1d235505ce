package asynclog_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

const childEnv = "ASYNCLOG_EXIT_CHILD"

// slowFileSink writes to a file, taking 20 ms per batch, so that records
// are still queued when the child process is told to end.
func slowFileSink(path string) asynclog.Sink {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		panic(err)
	}
	w := asynclog.WriterSink(f)
	return asynclog.SinkFunc(func(ctx context.Context, batch []asynclog.Record) error {
		time.Sleep(20 * time.Millisecond) // load, not synchronisation: the sink's cost keeps records queued
		return w.Write(ctx, batch)
	})
}

// TestExitChild is the child's body; it runs only when re-run by TestExit.
func TestExitChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return // not a child: nothing to do (the parent is TestExit)
	}
	out := os.Getenv("ASYNCLOG_OUT")
	switch mode {
	case "zap-fatal-two", "sigterm-lossy":
		exitChildMore(mode, out)
	}
	hook := mode != "zap-fatal"
	q, err := asynclog.NewQueue(slowFileSink(out), asynclog.Options{ExitHook: hook, BatchSize: 10})
	if err != nil {
		panic(err)
	}
	l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, q))
	for i := range 100 {
		l.Info("line", zap.Int("i", i))
	}
	switch mode {
	case "zap-fatal":
		l.Fatal("the end") // zap exits 1 after writing
	case "sigterm":
		fmt.Println("ready")
		time.Sleep(time.Minute) // out of process: the parent sends SIGTERM now; the minute only bounds a child whose parent is gone
	case "exit3":
		asynclog.Exit(3)
	}
	panic("the child should have ended")
}

// TestExit re-runs the test binary as a child that logs 100 records into a
// slow sink and then ends in one of three ways; every record must be in
// the file, and the exit status must be the one the ending implies.
func TestExit(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return
	}
	cases := []struct {
		mode      string
		wantLines int
		check     func(t *testing.T, st syscall.WaitStatus)
	}{
		{"zap-fatal", 101, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st.Exited(), "exited: %v", st)
			assert.Equal(t, 1, st.ExitStatus(), "zap's Fatal exits 1")
		}},
		{"sigterm", 100, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st.Signaled(), "killed by a signal, as without the hook: %v", st)
			assert.Equal(t, syscall.SIGTERM, st.Signal(), "the same signal")
		}},
		{"exit3", 100, func(t *testing.T, st syscall.WaitStatus) {
			assert.True(t, st.Exited(), "exited: %v", st)
			assert.Equal(t, 3, st.ExitStatus(), "Exit's code")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "records.ndjson")
			cmd := exec.Command(os.Args[0], "-test.run=^TestExitChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.mode, "ASYNCLOG_OUT="+out)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			if tc.mode == "sigterm" {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() && sc.Text() != "ready" {
				}
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			}
			go func() { _, _ = bufio.NewReader(stdout).WriteTo(discard{}) }()
			err = cmd.Wait()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "the child must end abnormally, got %v", err)
			tc.check(t, ee.Sys().(syscall.WaitStatus))

			data, err := os.ReadFile(out)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			assert.Len(t, lines, tc.wantLines, "every record reached the file")
			for i := 0; i < 100 && i < len(lines); i++ {
				assert.Contains(t, lines[i], fmt.Sprintf(`"i":%d}`, i), "line %d in order", i)
			}
			if tc.mode == "zap-fatal" && len(lines) == 101 {
				assert.Contains(t, lines[100], "the end", "the Fatal line itself")
			}
		})
	}
}

// exitChildMore is the child's body for the cases with more than one
// queue or more records than the drain can deliver.
func exitChildMore(mode, out string) {
	switch mode {
	case "zap-fatal-two":
		// Fatal on the first queue's logger: the second, also hooked,
		// drains before zap exits.
		q1, err := asynclog.NewQueue(slowFileSink(out), asynclog.Options{ExitHook: true})
		if err != nil {
			panic(err)
		}
		q2, err := asynclog.NewQueue(slowFileSink(out+".2"), asynclog.Options{ExitHook: true, BatchSize: 1000, Size: 30000, MaxBytes: 64 << 20})
		if err != nil {
			panic(err)
		}
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		l1 := zap.New(asynclog.NewCore(enc, zapcore.InfoLevel, q1))
		l2 := zap.New(asynclog.NewCore(enc.Clone(), zapcore.InfoLevel, q2))
		for i := range 25000 {
			l2.Info("line", zap.Int("i", i))
		}
		l1.Fatal("the end")
	case "sigterm-lossy":
		// More than the drain can deliver within CloseTimeout.
		q, err := asynclog.NewQueue(slowFileSink(out), asynclog.Options{ExitHook: true, BatchSize: 10, CloseTimeout: 300 * time.Millisecond})
		if err != nil {
			panic(err)
		}
		l := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, q))
		for i := range 4000 {
			l.Info("line", zap.Int("i", i))
		}
		fmt.Println("ready")
		time.Sleep(time.Minute) // out of process: the parent sends SIGTERM now; the minute only bounds a child whose parent is gone
	}
	panic("the child should have ended")
}

// TestExitDrainsEveryQueue: zap's Fatal on one hooked queue's logger
// drains every hooked queue before the process exits; a SIGTERM whose
// drain runs out of CloseTimeout says on stderr how many records it lost.
func TestExitDrainsEveryQueue(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return
	}
	run := func(t *testing.T, mode string) (syscall.WaitStatus, string, string) {
		out := filepath.Join(t.TempDir(), "records.ndjson")
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+mode, "ASYNCLOG_OUT="+out)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		if mode == "sigterm-lossy" {
			for sc.Scan() && sc.Text() != "ready" {
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		}
		go func() { _, _ = bufio.NewReader(stdout).WriteTo(discard{}) }()
		err = cmd.Wait()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "the child must end abnormally, got %v; stderr: %s", err, stderr.String())
		return ee.Sys().(syscall.WaitStatus), out, stderr.String()
	}
	t.Run("zap Fatal drains the other queue", func(t *testing.T) {
		st, out, stderr := run(t, "zap-fatal-two")
		assert.True(t, st.Exited() && st.ExitStatus() == 1, "zap's Fatal exits 1: %v", st)
		data, err := os.ReadFile(out + ".2")
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		assert.Len(t, lines, 25000, "every record of the second queue reached its file; stderr: %s", stderr)
		if len(lines) == 25000 {
			assert.Contains(t, lines[24999], `"i":24999}`, "the last one whole")
		}
	})
	t.Run("SIGTERM says what it lost", func(t *testing.T) {
		st, out, stderr := run(t, "sigterm-lossy")
		assert.True(t, st.Signaled() && st.Signal() == syscall.SIGTERM, "killed by SIGTERM, as without the hook: %v", st)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		delivered := len(strings.Split(strings.TrimSpace(string(data)), "\n"))
		require.Less(t, delivered, 4000, "the drain could not deliver everything in 300 ms")
		assert.Contains(t, stderr, "not delivered", "the loss is said on stderr")
		var lost int
		_, err = fmt.Sscanf(stderr[strings.Index(stderr, "shutdown: ")+len("shutdown: "):], "%d records not delivered", &lost)
		require.NoError(t, err, "the count on stderr: %s", stderr)
		// The batch in flight at the deadline counts as lost, though this
		// sink (which ignores ctx) may still write it: the count is at most
		// one batch more than what is missing.
		assert.True(t, lost >= 4000-delivered && lost <= 4000-delivered+10, "%d said lost, %d of 4000 delivered", lost, delivered)
		assert.Equal(t, 1, strings.Count(stderr, "not delivered"), "once: %s", stderr)
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestExitHookRegistryStops: the signal goroutine starts with the first
// hooked queue and stops with the last (goleak checks at the end).
func TestExitHookRegistryStops(t *testing.T) {
	q1, err := asynclog.NewQueue(newRecSink(), asynclog.Options{ExitHook: true})
	require.NoError(t, err)
	q2, err := asynclog.NewQueue(newRecSink(), asynclog.Options{ExitHook: true})
	require.NoError(t, err)
	require.NoError(t, q1.Close())
	require.NoError(t, q2.Close())
	require.NoError(t, q2.Close())
}

// TestForgottenQueueStops: a queue dropped without Close is drained and its
// goroutine stopped by a cleanup.
func TestForgottenQueueStops(t *testing.T) {
	sink := newRecSink()
	closed := make(chan struct{})
	var once bool
	wrapped := &closeNotifySink{recSink: sink, closed: closed, once: &once}
	func() {
		q, err := asynclog.NewQueue(wrapped, asynclog.Options{})
		require.NoError(t, err)
		slog.New(asynclog.NewHandler(q, nil)).Info("forgotten")
	}()
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-closed:
			assert.Len(t, sink.all(), 1, "drained before it stopped")
			return
		case <-deadline:
			require.Fail(t, "the forgotten queue was never stopped")
		case <-time.After(10 * time.Millisecond): // give the cleanup a chance to run after each GC
		}
	}
}

type closeNotifySink struct {
	*recSink
	closed chan struct{}
	once   *bool
}

func (s *closeNotifySink) Close(ctx context.Context) error {
	if !*s.once {
		*s.once = true
		close(s.closed)
	}
	return s.recSink.Close(ctx)
}

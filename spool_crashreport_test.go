package asynclog_test

// The crash report (Options.CrashReport): the runtime's crash output of a
// run that died is delivered once by the next queue on the spool, even
// one without CrashReport, cut to the room left, with its cause, for a
// fatal error that is not a panic too.

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

package asynclog_test

// An outage that spans a restart of the program: a child process logs
// into a spool of the default size while the collector is away and is
// killed with SIGKILL; the next run on the spool logs the rest, and every
// record arrives once the collector is back.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// outageChildEnv makes the test binary run TestOutageSpoolChild.
const outageChildEnv = "ASYNCLOG_OUTAGE_CHILD"

// Outage with a spool, scaled: 60 s down at 2,000 records a second is
// 120,000 records (about 30 MiB of the default 64 MiB spool); the test
// logs the same 120,000 records at 20,000 a second, so the outage lasts
// about 6 s.
const (
	outageRecords = 120000
	outageRate    = 20000
)

// TestOutageSpoolChild is the child's body; it runs only when re-run by
// TestSpoolRidesOutAnOutageAcrossARestart. "first" logs the first half of
// the records into the spool and waits to be killed; "second" logs the
// second half and waits until every record is delivered.
func TestOutageSpoolChild(t *testing.T) {
	mode := os.Getenv(outageChildEnv)
	if mode == "" {
		return
	}
	sink, err := httpsink.New(os.Getenv("ASYNCLOG_URL"), httpsink.Options{})
	if err != nil {
		panic(err)
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: os.Getenv("ASYNCLOG_SPOOL_DIR"), OnError: func(error) {}})
	if err != nil {
		panic(err)
	}
	l := slog.New(asynclog.NewHandler(q, nil))
	logf := func(i int) { l.Info("rec", "i", i, "pad", pad) }
	from, to := 0, outageRecords/2
	if mode == "second" {
		from, to = outageRecords/2, outageRecords
	}
	paced(outageRate, from, to, logf, func(int) {})
	fmt.Println("logged")
	if mode == "first" {
		time.Sleep(time.Minute) // the parent kills us now
		panic("the child should have been killed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flush:", err)
		os.Exit(2)
	}
	if err := q.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(3)
	}
	st := q.Stats()
	fmt.Fprintf(os.Stderr, "second run: %+v\n", st)
	os.Exit(0)
}

// startOutageChild starts TestOutageSpoolChild in mode and waits until it
// has logged its records. Its stderr goes to stderr.
func startOutageChild(t *testing.T, mode, url, dir string, stderr *strings.Builder) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutageSpoolChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), outageChildEnv+"="+mode, "ASYNCLOG_URL="+url, "ASYNCLOG_SPOOL_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err, "stdout pipe")
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start(), "start the child")
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "logged" {
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd
}

// TestSpoolRidesOutAnOutageAcrossARestart: with a spool of the default
// size, an outage of the collector that spans a restart of the program
// loses nothing. The first run logs half the records while the collector
// is away and is killed (SIGKILL); the second run, on the same spool, logs
// the other half; then the collector comes back on the same port. Every
// record arrives, at most one batch twice. (Scaled: see outageRecords.)
func TestSpoolRidesOutAnOutageAcrossARestart(t *testing.T) {
	if os.Getenv(outageChildEnv) != "" || testing.Short() {
		t.Skip("the parent test, not -short")
	}
	col := newCollector(t)
	col.stop() // away from the start
	dir := t.TempDir()

	var stderr1 strings.Builder
	first := startOutageChild(t, "first", col.url(), dir, &stderr1)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL), "kill the first run")
	err := first.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "the first run was killed: %v; stderr: %s", err, stderr1.String())
	st := ee.Sys().(syscall.WaitStatus)
	assert.True(t, st.Signaled() && st.Signal() == syscall.SIGKILL, "killed by SIGKILL: %v", st)

	var stderr2 strings.Builder
	start := time.Now()
	second := startOutageChild(t, "second", col.url(), dir, &stderr2)
	logged := time.Now()
	col.restart()
	require.NoError(t, second.Wait(), "the second run delivers everything and exits 0; stderr: %s", stderr2.String())
	t.Logf("second run logged its half in %v; delivered all %v after the collector came back; %s",
		logged.Sub(start).Round(time.Millisecond), time.Since(logged).Round(time.Millisecond), strings.TrimSpace(stderr2.String()))
	missing, dups := col.coverage(outageRecords)
	assert.Zero(t, missing, "no record lost")
	assert.LessOrEqual(t, dups, 256, "at most one batch twice")
	t.Logf("%d records, %d duplicates", outageRecords, dups)
	assert.Empty(t, col.allNotices(), "no notice: nothing was lost")
	assert.Contains(t, stderr2.String(), "Replayed:"+strconv.Itoa(outageRecords/2), "the second run replayed the first run's half")
}

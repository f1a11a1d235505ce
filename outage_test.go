package asynclog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// collector is a real NDJSON collector on loopback that can go away (its
// listener and every connection closed, so that clients see a refused
// connection, not an error status) and come back on the same port.
type collector struct {
	t    *testing.T
	addr string

	mu      sync.Mutex
	srv     *http.Server
	served  chan struct{} // closed when srv's Serve returns
	seen    map[int]int   // how many times each record "i" arrived
	notices []map[string]any
	changed chan struct{} // closed and replaced whenever records arrive
}

// newCollector starts a collector on a free loopback port; the test's
// cleanup stops it.
func newCollector(t *testing.T) *collector {
	c := &collector{t: t, seen: map[int]int{}, changed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	c.addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(c.stop)
	return c
}

func (c *collector) url() string { return "http://" + c.addr + "/logs" }

func (c *collector) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(c.handle)}
	served := make(chan struct{})
	c.mu.Lock()
	c.srv, c.served = srv, served
	c.mu.Unlock()
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
}

// stop closes the listener and every connection, and waits for the server
// to end: the port refuses connections from then on.
func (c *collector) stop() {
	c.mu.Lock()
	srv, served := c.srv, c.served
	c.srv = nil
	c.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-served
}

// restart listens on the same port again.
func (c *collector) restart() {
	ln, err := net.Listen("tcp", c.addr)
	require.NoError(c.t, err, "listen again on %s", c.addr)
	c.serve(ln)
}

func (c *collector) handle(w http.ResponseWriter, r *http.Request) {
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var ids []int
	var notices []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, "asynclog: ") {
			notices = append(notices, m)
			continue
		}
		i, ok := m["i"].(float64)
		if !ok {
			http.Error(w, "no i", http.StatusBadRequest)
			return
		}
		ids = append(ids, int(i))
	}
	if sc.Err() != nil {
		http.Error(w, sc.Err().Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, i := range ids {
		c.seen[i]++
	}
	c.notices = append(c.notices, notices...)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// waitFor waits until records 0..n-1 have all arrived, or fails the test
// after d.
func (c *collector) waitFor(n int, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		got, ch := 0, c.changed
		for i := range n {
			if c.seen[i] > 0 {
				got++
			}
		}
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			c.t.Fatalf("only %d of %d records arrived within %v", got, n, d)
		}
	}
}

// coverage returns how many of records 0..n-1 never arrived, and how many
// arrived more than once.
func (c *collector) coverage(n int) (missing, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		switch k := c.seen[i]; {
		case k == 0:
			missing++
		case k > 1:
			dups += k - 1
		}
	}
	return missing, dups
}

func (c *collector) allNotices() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.notices...)
}

// pad makes a record about 200 bytes long, as encoded by NewHandler.
var pad = strings.Repeat("x", 120)

// paced logs records from..to-1 at rate records a second, in ticks of
// 10 ms, calling at(i) before record i.
func paced(rate, from, to int, logf func(i int), at func(i int)) {
	perTick := rate / 100
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := from; i < to; {
		<-tick.C
		for end := min(i+perTick, to); i < end; i++ {
			at(i)
			logf(i)
		}
	}
}

// TestDefaultsRideOutARestart: with default Options (OnError aside), a
// slog pipeline into an NDJSON collector logging 2,000 records of about
// 200 bytes a second loses nothing while the collector is away for 5 s
// (its listener closed) and restarts on the same port: 1 s up, 5 s down,
// 1 s up, 14,000 records.
func TestDefaultsRideOutARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("7 s of paced load")
	}
	const rate, total = 2000, 14000
	const downAt, upAt = 2000, 12000 // 1 s, then 5 s down
	col := newCollector(t)
	sink, err := httpsink.New(col.url(), httpsink.Options{})
	require.NoError(t, err, "httpsink.New")
	errs := &errorLog{}
	q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	start := time.Now()
	var down, up time.Time
	paced(rate, 0, total, func(i int) { l.Info("rec", "i", i, "pad", pad) }, func(i int) {
		switch i {
		case downAt:
			col.stop()
			down = time.Now()
		case upAt:
			col.restart()
			up = time.Now()
		}
	})
	logged := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, q.Flush(ctx), "Flush: nothing dropped or failed")
	t.Logf("logged %d records in %v; collector down %v; all delivered %v after the last log call; %d sink errors during the outage",
		total, logged.Sub(start).Round(time.Millisecond), up.Sub(down).Round(time.Millisecond), time.Since(logged).Round(time.Millisecond), len(errs.all()))
	require.NoError(t, q.Close(), "Close")
	missing, dups := col.coverage(total)
	assert.Zero(t, missing, "no record lost")
	st := q.Stats()
	t.Logf("%+v; %d duplicates", st, dups)
	assert.Zero(t, st.Dropped, "nothing dropped: %+v", st)
	assert.Zero(t, st.Failed, "nothing failed: %+v", st)
	assert.Equal(t, uint64(total), st.Delivered, "every record delivered: %+v", st)
	assert.NotEmpty(t, errs.all(), "the outage was seen")
	assert.Empty(t, col.allNotices(), "no notice: nothing was lost")
}

// TestFailureNoticeAfterAnOutage: records given up on while the collector
// was away (RetryFor shortened to 1 s) are announced in the stream once it
// is back: one notice with their count, the span of their times and the
// cause, in slog.JSONHandler's shape.
func TestFailureNoticeAfterAnOutage(t *testing.T) {
	col := newCollector(t)
	sink, err := httpsink.New(col.url(), httpsink.Options{})
	require.NoError(t, err, "httpsink.New")
	q, err := asynclog.NewQueue(sink, asynclog.Options{RetryFor: time.Second, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("rec", "i", 0)
	col.waitFor(1, 10*time.Second)
	col.stop()
	first := time.Now()
	for i := 1; i <= 100; i++ {
		l.Info("rec", "i", i)
	}
	last := time.Now()
	err = q.Flush(context.Background())
	require.Error(t, err, "Flush reports the failure")
	assert.Contains(t, err.Error(), "100 records failed", "Flush's count")
	col.restart()
	l.Info("rec", "i", 101)
	require.NoError(t, q.Flush(context.Background()), "Flush once the collector is back")
	require.NoError(t, q.Close(), "Close")

	st := q.Stats()
	assert.Equal(t, uint64(100), st.Failed, "Failed: %+v", st)
	notices := col.allNotices()
	require.Len(t, notices, 1, "one failure notice")
	m := notices[0]
	assert.Equal(t, "WARN", m["level"], "level")
	assert.Equal(t, float64(100), m["failed"], "count")
	msg, _ := m["msg"].(string)
	assert.True(t, strings.HasPrefix(msg, "asynclog: 100 records failed between "), "message: %q", msg)
	assert.Contains(t, m["error"], "connect: connection refused", "cause")
	from, err := time.Parse(time.RFC3339Nano, m["from"].(string))
	require.NoError(t, err, "from")
	to, err := time.Parse(time.RFC3339Nano, m["to"].(string))
	require.NoError(t, err, "to")
	assert.False(t, from.Before(first.Truncate(time.Microsecond)) || to.After(last), "the span of the failed records' times: %v..%v within %v..%v", from, to, first, last)
	missing, _ := col.coverage(102)
	assert.Equal(t, 100, missing, "records 1..100 failed, 0 and 101 arrived")
}

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

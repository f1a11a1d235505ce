package asynclog_test

// Outages of a real NDJSON collector on loopback that closes its listener
// and restarts on the same port: the default Options ride out 5 s at
// 2,000 records/s, and the failure notice says what an outage cost. The
// collector, pad and paced serve outage_spool_test.go too.

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
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
}

// newCollector starts a collector on a free loopback port; the test's
// cleanup stops it.
func newCollector(t *testing.T) *collector {
	c := &collector{t: t, seen: map[int]int{}}
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
	c.mu.Unlock()
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
	// Delivered, the answer read too: a collector stopped between taking a
	// batch and answering would make record 0 fail as well.
	require.NoError(t, q.Flush(context.Background()), "record 0 delivered")
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

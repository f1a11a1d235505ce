package asynclogprom_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogprom"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var names = []string{
	"asynclog_enqueued_total", "asynclog_delivered_total", "asynclog_dropped_total", "asynclog_failed_total",
	"asynclog_retries_total", "asynclog_queued", "asynclog_capacity",
}

// queueFigures are one queue's figures, as the collector must report them.
type queueFigures struct {
	name string
	s    asynclog.Stats
	size int
}

// expected is the exposition text for the queues, as the client library
// writes it: families sorted by name, each with one line per queue.
func expected(qs ...queueFigures) string {
	var b strings.Builder
	family := func(metric, typ, help string, v func(queueFigures) any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, typ)
		for _, q := range qs {
			fmt.Fprintf(&b, "%s{queue=%q} %v\n", metric, q.name, v(q))
		}
	}
	family("asynclog_capacity", "gauge", "Records the queue holds (Options.Size).", func(q queueFigures) any { return q.size })
	family("asynclog_delivered_total", "counter", "Records a sink (or the fallback sink) took.", func(q queueFigures) any { return q.s.Delivered })
	family("asynclog_dropped_total", "counter", "Records dropped by the overflow policy or logged after shutdown began.", func(q queueFigures) any { return q.s.Dropped })
	family("asynclog_enqueued_total", "counter", "Records handed to the queue, including those dropped on arrival.", func(q queueFigures) any { return q.s.Enqueued })
	family("asynclog_failed_total", "counter", "Records the sink gave up on or refused, and records abandoned at shutdown.", func(q queueFigures) any { return q.s.Failed })
	family("asynclog_queued", "gauge", "Records accepted and not yet settled: queued, being written, or waiting for room.", func(q queueFigures) any { return q.s.Queued })
	family("asynclog_retries_total", "counter", "Sink write attempts after the first, over all batches.", func(q queueFigures) any { return q.s.Retries })
	return b.String()
}

// flakySink refuses records whose message is "bad" for good, fails the
// first batch holding "flaky" once (a retry), and can hold its Write until
// released.
type flakySink struct {
	mu      sync.Mutex
	flaked  bool
	hold    chan struct{}
	started chan struct{}
}

func (s *flakySink) Write(_ context.Context, batch []asynclog.Record) error {
	if s.hold != nil {
		s.started <- struct{}{}
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range batch {
		switch {
		case r.Message == "bad":
			return asynclog.Permanent(errors.New("refused"))
		case r.Message == "flaky" && !s.flaked:
			s.flaked = true
			return errors.New("try again")
		}
	}
	return nil
}

func quiet(error) {}

// TestCollectorFiguresEqualStats: after a run that delivered, failed,
// retried and dropped records, the collector's figures are the queue's
// Stats, through the client library's testutil and its linter.
func TestCollectorFiguresEqualStats(t *testing.T) {
	q, err := asynclog.NewQueue(&flakySink{}, asynclog.Options{Size: 64, MinBackoff: 1, OnError: quiet})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for _, m := range []string{"ok", "flaky", "ok"} {
		l.Info(m)
		require.NoError(t, q.Flush(context.Background()), "Flush after %q", m)
	}
	l.Info("bad")
	_ = q.Flush(context.Background()) // reports the refusal
	require.NoError(t, q.Close(), "Close")
	l.Info("after close") // dropped

	s := q.Stats()
	require.Equal(t, asynclog.Stats{Enqueued: 5, Delivered: 3, Dropped: 1, Failed: 1, Retries: 1}, s, "the run's Stats")
	c := asynclogprom.NewCollector(q, "app")
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected(queueFigures{"app", s, 64}))), "figures equal Stats")
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err, "lint")
	assert.Empty(t, problems, "metric names and help pass the linter")
	assert.Equal(t, len(names), testutil.CollectAndCount(c), "seven metrics")
}

// TestCollectorScrape: a registry served by promhttp and scraped over
// loopback gives the figures of the moment, Queued included, for each of
// two queues told apart by the queue label.
func TestCollectorScrape(t *testing.T) {
	sink := &flakySink{hold: make(chan struct{}), started: make(chan struct{}, 1)}
	held, err := asynclog.NewQueue(sink, asynclog.Options{Size: 16})
	require.NoError(t, err, "NewQueue")
	idle, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil }), asynclog.Options{})
	require.NoError(t, err, "NewQueue")
	defer func() {
		close(sink.hold)
		assert.NoError(t, held.Close(), "Close")
		assert.NoError(t, idle.Close(), "Close")
	}()

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(asynclogprom.NewCollector(held, "held")), "register")
	require.NoError(t, reg.Register(asynclogprom.NewCollector(idle, "idle")), "register a second queue")
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	w := asynclog.NewWriter(held)
	fmt.Fprintln(w, `{"level":"info","msg":"taken"}`)
	<-sink.started // the consumer holds the first record; the figures are still until released
	for range 3 {
		fmt.Fprintln(w, `{"level":"info","msg":"waiting"}`)
	}
	s := held.Stats()
	require.Equal(t, 4, s.Queued, "one record being written, three queued")

	want := expected(queueFigures{"held", s, 16}, queueFigures{"idle", idle.Stats(), idle.Options().Size})
	assert.NoError(t, testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), names...), "the scraped figures are Stats")
}

func TestNewCollectorNilQueuePanics(t *testing.T) {
	assert.PanicsWithValue(t, "asynclogprom: NewCollector called with a nil *asynclog.Queue",
		func() { asynclogprom.NewCollector(nil, "x") }, "a nil queue is refused at construction")
}

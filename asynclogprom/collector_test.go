package asynclogprom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

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

// queueFigures are one queue's figures, as the collector must report them.
type queueFigures struct {
	name       string
	s          asynclog.Stats
	capRecords int   // 0: not sent (a queue with a spool)
	capBytes   int64 // asynclog_capacity_bytes
}

// memoryFigures are the figures of a queue without a spool.
func memoryFigures(name string, q *asynclog.Queue) queueFigures {
	o := q.Options()
	return queueFigures{name: name, s: q.Stats(), capRecords: o.Size, capBytes: int64(o.MaxBytes)}
}

// family is one metric family of the exposition text.
type family struct {
	name, typ, help string
	value           func(queueFigures) (any, bool) // false: the queue does not send it
}

func always(f func(queueFigures) any) func(queueFigures) (any, bool) {
	return func(q queueFigures) (any, bool) { return f(q), true }
}

// families are the collector's metrics, sorted by name as the client
// library writes them; each Stats field maps to one (see TestEveryStatsField).
var families = []family{
	{"asynclog_capacity_bytes", "gauge", "Bytes the queue holds: Options.MaxBytes, or Options.SpoolBytes with a spool.",
		always(func(q queueFigures) any { return q.capBytes })},
	{"asynclog_capacity_records", "gauge", "Records the queue holds (Options.Size); not sent for a queue with a spool.",
		func(q queueFigures) (any, bool) { return q.capRecords, q.capRecords > 0 }},
	{"asynclog_damaged_total", "counter", "Damaged regions of the spool skipped when the queue was made (never delivered).",
		always(func(q queueFigures) any { return q.s.Damaged })},
	{"asynclog_delivered_total", "counter", "Records a sink (or the fallback sink) took.",
		always(func(q queueFigures) any { return q.s.Delivered })},
	{"asynclog_dropped_total", "counter", "Records dropped by the overflow policy, larger than MaxBytes, or logged after shutdown began.",
		always(func(q queueFigures) any { return q.s.Dropped })},
	{"asynclog_enqueued_total", "counter", "Records handed to the queue, including those dropped on arrival and those replayed from the spool.",
		always(func(q queueFigures) any { return q.s.Enqueued })},
	{"asynclog_failed_total", "counter", "Records the sink gave up on or refused, and records abandoned at shutdown.",
		always(func(q queueFigures) any { return q.s.Failed })},
	{"asynclog_fell_back_total", "counter", "Of the delivered records, those the fallback sink took.",
		always(func(q queueFigures) any { return q.s.FellBack })},
	{"asynclog_queued", "gauge", "Records accepted and not yet settled: queued, being written, or waiting for room.",
		always(func(q queueFigures) any { return q.s.Queued })},
	{"asynclog_replayed_total", "counter", "Of the enqueued records, those an earlier process left in the spool.",
		always(func(q queueFigures) any { return q.s.Replayed })},
	{"asynclog_retries_total", "counter", "Sink write attempts after the first, over all batches.",
		always(func(q queueFigures) any { return q.s.Retries })},
	{"asynclog_writes_total", "counter", "Sink write calls, retries and the fallback's included.",
		always(func(q queueFigures) any { return q.s.Writes })},
}

// names are the collector's metric names.
func names() []string {
	var out []string
	for _, f := range families {
		out = append(out, f.name)
	}
	return out
}

// expected is the exposition text for the queues, as the client library
// writes it: families sorted by name, each with one line per queue that
// sends it.
func expected(qs ...queueFigures) string {
	var b strings.Builder
	for _, f := range families {
		var lines []string
		for _, q := range qs {
			if v, ok := f.value(q); ok {
				lines = append(lines, fmt.Sprintf("%s{queue=%q} %v\n", f.name, q.name, v))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s", f.name, f.help, f.name, f.typ, strings.Join(lines, ""))
		}
	}
	return b.String()
}

// lint fails the test if the client library's linter finds a problem in
// c's metrics.
func lint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err, "lint")
	assert.Empty(t, problems, "metric names and help pass the linter")
}

// flakySink refuses records whose message is "bad" or "lost" for good,
// fails the first batch holding "flaky" once (a retry), and can hold its
// Write until released.
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
		case r.Message == "bad" || r.Message == "lost":
			return asynclog.Permanent(errors.New("refused"))
		case r.Message == "flaky" && !s.flaked:
			s.flaked = true
			return errors.New("try again")
		}
	}
	return nil
}

func quiet(error) {}

// fallbackSink takes every record but those whose message is "lost".
var fallbackSink = asynclog.SinkFunc(func(_ context.Context, batch []asynclog.Record) error {
	for _, r := range batch {
		if r.Message == "lost" {
			return asynclog.Permanent(errors.New("the fallback refused it too"))
		}
	}
	return nil
})

// TestCollectorFiguresEqualStats: after a run that delivered, retried,
// fell back, failed and dropped records, the collector's figures are the
// queue's Stats and its capacity, through the client library's testutil
// and its linter.
func TestCollectorFiguresEqualStats(t *testing.T) {
	q, err := asynclog.NewQueue(&flakySink{}, asynclog.Options{Size: 64, MaxBytes: 1 << 20, MinBackoff: 1, OnError: quiet, Fallback: fallbackSink})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for _, m := range []string{"ok", "flaky", "ok", "bad", "lost"} {
		l.Info(m)
		_ = q.Flush(context.Background()) // reports the refusal of "lost"
	}
	require.NoError(t, q.Close(), "Close")
	l.Info("after close") // dropped

	s := q.Stats()
	require.Positive(t, s.Writes, "the run's Stats: %+v", s)
	require.Equal(t, asynclog.Stats{Enqueued: 6, Delivered: 4, Dropped: 1, Failed: 1, FellBack: 1, Retries: 1, Writes: s.Writes}, s, "the run's Stats")
	c := asynclogprom.NewCollector(q, "app")
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected(queueFigures{"app", s, 64, 1 << 20}))), "figures equal Stats")
	lint(t, c)
	assert.Equal(t, len(families), testutil.CollectAndCount(c), "every metric")
}

// TestEveryStatsField: each field of asynclog.Stats has its metric, named
// after it (asynclog_fell_back_total for FellBack), so that a counter added
// to Stats cannot be forgotten here.
func TestEveryStatsField(t *testing.T) {
	exported := map[string]bool{}
	for _, n := range names() {
		exported[n] = true
	}
	typ := reflect.TypeFor[asynclog.Stats]()
	for f := range typ.Fields() {
		metric := "asynclog_" + snake(f.Name)
		if f.Type.Kind() == reflect.Uint64 {
			metric += "_total" // a counter
		}
		assert.True(t, exported[metric], "Stats.%s has no metric %s", f.Name, metric)
	}
}

// snake turns FellBack into fell_back.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
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

	srv := serve(t, asynclogprom.NewCollector(held, "held"), asynclogprom.NewCollector(idle, "idle"))

	w := asynclog.NewWriter(held)
	fmt.Fprintln(w, `{"level":"info","msg":"taken"}`)
	<-sink.started // the consumer holds the first record; the figures are still until released
	for range 3 {
		fmt.Fprintln(w, `{"level":"info","msg":"waiting"}`)
	}
	heldFigures := memoryFigures("held", held)
	require.Equal(t, 4, heldFigures.s.Queued, "one record being written, three queued")
	assert.Equal(t, queueFigures{"idle", idle.Stats(), 16384, 16 << 20}, memoryFigures("idle", idle), "the defaults")

	want := expected(heldFigures, memoryFigures("idle", idle))
	assert.NoError(t, testutil.ScrapeAndCompare(srv, strings.NewReader(want), names()...), "the scraped figures are Stats")
}

// serve registers the collectors in a pedantic registry, serves it with
// promhttp on loopback and returns the URL to scrape.
func serve(t *testing.T, cs ...prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		require.NoError(t, reg.Register(c), "register")
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCollectorSpoolCapacity: a queue with a spool has no record limit and
// holds Options.SpoolBytes bytes: the scrape has asynclog_capacity_bytes
// at SpoolBytes (its default, or the value set) and no
// asynclog_capacity_records, whatever Options.Size says.
func TestCollectorSpoolCapacity(t *testing.T) {
	byDefault, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{Spool: t.TempDir()})
	require.NoError(t, err, "NewQueue with a spool")
	set, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{Spool: t.TempDir(), SpoolBytes: 1 << 20, Size: 10, MaxBytes: 4096})
	require.NoError(t, err, "NewQueue with a spool and SpoolBytes")
	defer func() {
		assert.NoError(t, byDefault.Close(), "Close")
		assert.NoError(t, set.Close(), "Close")
	}()
	cDefault, cSet := asynclogprom.NewCollector(byDefault, "default"), asynclogprom.NewCollector(set, "set")
	url := serve(t, cDefault, cSet)

	slog.New(asynclog.NewHandler(set, nil)).Info("one")
	require.NoError(t, set.Flush(context.Background()), "Flush")

	want := expected(
		queueFigures{name: "default", s: byDefault.Stats(), capBytes: 64 << 20},
		queueFigures{name: "set", s: set.Stats(), capBytes: 1 << 20},
	)
	assert.NoError(t, testutil.ScrapeAndCompare(url, strings.NewReader(want), names()...), "capacity in bytes only, at SpoolBytes")
	assert.Equal(t, len(families)-1, testutil.CollectAndCount(cSet), "every metric but asynclog_capacity_records")
	lint(t, cSet)
}

// TestCollectorSpoolReplayedDamaged: a spool left full by a queue whose
// Shutdown ran out of time, then damaged, is opened by a second queue:
// its replayed records and damaged regions are scraped as Stats counts
// them.
func TestCollectorSpoolReplayedDamaged(t *testing.T) {
	dir := t.TempDir()
	dead := asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
		<-ctx.Done()
		return ctx.Err()
	})
	q1, err := asynclog.NewQueue(dead, asynclog.Options{Spool: dir, OnError: quiet})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q1, nil))
	for i := range 2000 {
		l.Info("rec", "i", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = q1.Shutdown(ctx)
	cancel()
	require.ErrorContains(t, err, "left in the spool")
	// The consumer may still be returning from its cancelled Write,
	// holding the spool: a second Shutdown waits for it.
	require.ErrorContains(t, q1.Shutdown(context.Background()), "left in the spool", "the same result")

	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_WRONLY, 0)
	require.NoError(t, err, "the spool's data file")
	_, err = f.WriteAt([]byte("garbage garbage garbage"), 4096+100*1000) // past the header, among the records
	require.NoError(t, err)
	require.NoError(t, f.Close())

	q2, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{Spool: dir, OnError: quiet})
	require.NoError(t, err, "NewQueue on the damaged spool")
	c := asynclogprom.NewCollector(q2, "app")
	url := serve(t, c)
	require.NoError(t, q2.Close(), "Close: the replayed records are delivered")

	s := q2.Stats()
	require.Positive(t, s.Replayed, "records replayed: %+v", s)
	require.Positive(t, s.Damaged, "damage counted: %+v", s)
	want := expected(queueFigures{name: "app", s: s, capBytes: 64 << 20})
	assert.NoError(t, testutil.ScrapeAndCompare(url, strings.NewReader(want), names()...), "replayed and damaged as Stats counts them")
	lint(t, c)
}

// TestDocsNameEveryMetric: docs/operating.md names each metric the
// collector sends, and every asynclog_ name in README.md and docs/ is one
// of them.
func TestDocsNameEveryMetric(t *testing.T) {
	exported := map[string]bool{}
	for _, n := range names() {
		exported[n] = true
	}
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	require.NoError(t, err)
	docs = append(docs, filepath.Join("..", "README.md"), filepath.Join("..", "CONTRIBUTING.md"))
	mentioned := map[string]bool{}
	re := regexp.MustCompile(`\basynclog_[a-z_]+`)
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, m := range re.FindAllString(string(b), -1) {
			assert.True(t, exported[m], "%s names %s, which the collector does not send", doc, m)
			if filepath.Base(doc) == "operating.md" {
				mentioned[m] = true
			}
		}
	}
	for n := range exported {
		assert.True(t, mentioned[n], "docs/operating.md does not name %s", n)
	}
}

func TestNewCollectorNilQueuePanics(t *testing.T) {
	assert.PanicsWithValue(t, "asynclogprom: NewCollector called with a nil *asynclog.Queue",
		func() { asynclogprom.NewCollector(nil, "x") }, "a nil queue is refused at construction")
}

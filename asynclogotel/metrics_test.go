package asynclogotel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/goleak"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogotel"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// flaky fails the first batch once (a retry) and refuses "bad" and "lost"
// for good.
type flaky struct{ failed bool }

func (f *flaky) Write(_ context.Context, batch []asynclog.Record) error {
	for _, r := range batch {
		if r.Message == "bad" || r.Message == "lost" {
			return asynclog.Permanent(errors.New("refused"))
		}
	}
	if !f.failed {
		f.failed = true // only the consumer goroutine calls Write
		return errors.New("try again")
	}
	return nil
}

// fallbackSink takes every record but those whose message is "lost".
var fallbackSink = asynclog.SinkFunc(func(_ context.Context, batch []asynclog.Record) error {
	for _, r := range batch {
		if r.Message == "lost" {
			return asynclog.Permanent(errors.New("the fallback refused it too"))
		}
	}
	return nil
})

func quiet(error) {}

func collect(t *testing.T, r sdkmetric.Reader) metricdata.ScopeMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm), "Collect")
	require.Len(t, rm.ScopeMetrics, 1, "one scope")
	return rm.ScopeMetrics[0]
}

// capacity is what the capacity gauges must report; records 0: not reported.
type capacity struct{ records, bytes int64 }

// memoryCapacity is the capacity of a queue without a spool.
func memoryCapacity(q *asynclog.Queue) capacity {
	return capacity{int64(q.Options().Size), int64(q.Options().MaxBytes)}
}

// want is every instrument with the queue's figures, in the order they are
// created. A gauge with no data point (asynclog.capacity.records with a
// spool) is left out, as the SDK leaves it out.
func want(name string, s asynclog.Stats, c capacity) []metricdata.Metrics {
	attrs := attribute.NewSet(attribute.String("asynclog.queue", name))
	sum := func(metric, unit, desc string, v uint64) metricdata.Metrics {
		return metricdata.Metrics{Name: metric, Description: desc, Unit: unit, Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, Value: int64(v)}},
		}}
	}
	gauge := func(metric, unit, desc string, v int64) metricdata.Metrics {
		return metricdata.Metrics{Name: metric, Description: desc, Unit: unit,
			Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, Value: v}}}}
	}
	ms := []metricdata.Metrics{
		sum("asynclog.enqueued", "{record}", "Records handed to the queue, including those dropped on arrival and those replayed from the spool.", s.Enqueued),
		sum("asynclog.delivered", "{record}", "Records a sink (or the fallback sink) took.", s.Delivered),
		sum("asynclog.dropped", "{record}", "Records dropped by the overflow policy, larger than MaxBytes, or logged after shutdown began.", s.Dropped),
		sum("asynclog.failed", "{record}", "Records the sink gave up on or refused, and records abandoned at shutdown.", s.Failed),
		sum("asynclog.fell_back", "{record}", "Of the delivered records, those the fallback sink took.", s.FellBack),
		sum("asynclog.retries", "{attempt}", "Sink write attempts after the first, over all batches.", s.Retries),
		sum("asynclog.replayed", "{record}", "Of the enqueued records, those an earlier process left in the spool.", s.Replayed),
		sum("asynclog.damaged", "{region}", "Damaged regions of the spool skipped when the queue was made (never delivered).", s.Damaged),
		sum("asynclog.writes", "{call}", "Sink write calls, retries and the fallback's included.", s.Writes),
		gauge("asynclog.queued", "{record}", "Records accepted and not yet settled: queued, being written, or waiting for room.", int64(s.Queued)),
	}
	if c.records > 0 {
		ms = append(ms, gauge("asynclog.capacity.records", "{record}", "Records the queue holds (Options.Size); not reported for a queue with a spool.", c.records))
	}
	return append(ms, gauge("asynclog.capacity.bytes", "By", "Bytes the queue holds: Options.MaxBytes, or Options.SpoolBytes with a spool.", c.bytes))
}

// instrumentNames are the names of every instrument RegisterMetrics creates.
func instrumentNames() []string {
	var out []string
	for _, m := range want("", asynclog.Stats{}, capacity{records: 1}) {
		out = append(out, m.Name)
	}
	return out
}

// TestRegisterMetricsFiguresEqualStats: read through the SDK's
// ManualReader, the instruments report the queue's Stats of the moment and
// its capacity, with their names, units and attribute; after Unregister
// they report nothing.
func TestRegisterMetricsFiguresEqualStats(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { assert.NoError(t, mp.Shutdown(context.Background()), "MeterProvider.Shutdown") }()

	q, err := asynclog.NewQueue(&flaky{}, asynclog.Options{Size: 64, MaxBytes: 1 << 20, MinBackoff: 1, OnError: quiet, Fallback: fallbackSink})
	require.NoError(t, err, "NewQueue")
	reg, err := asynclogotel.RegisterMetrics(mp.Meter("test"), q, "app")
	require.NoError(t, err, "RegisterMetrics")

	sm := collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: want("app", asynclog.Stats{}, capacity{64, 1 << 20})}, sm,
		metricdatatest.IgnoreTimestamp())

	l := slog.New(asynclog.NewHandler(q, nil))
	for _, m := range []string{"ok", "bad", "lost"} {
		l.Info(m) // ok: delivered after one retry; bad: taken by the fallback; lost: refused by both
		_ = q.Flush(context.Background())
	}
	require.NoError(t, q.Close(), "Close")
	l.Info("after close") // dropped

	s := q.Stats()
	require.Positive(t, s.Writes, "the run's Stats: %+v", s)
	require.Equal(t, asynclog.Stats{Enqueued: 4, Delivered: 2, Dropped: 1, Failed: 1, FellBack: 1, Retries: 1, Writes: s.Writes}, s, "the run's Stats")
	sm = collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: want("app", s, capacity{64, 1 << 20})}, sm,
		metricdatatest.IgnoreTimestamp())

	require.NoError(t, reg.Unregister(), "Unregister")
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm), "Collect")
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				assert.Empty(t, d.DataPoints, "%s after Unregister", m.Name)
			case metricdata.Gauge[int64]:
				assert.Empty(t, d.DataPoints, "%s after Unregister", m.Name)
			}
		}
	}
}

// TestEveryStatsField: each field of asynclog.Stats has its instrument,
// named after it (asynclog.fell_back for FellBack), so that a counter
// added to Stats cannot be forgotten here.
func TestEveryStatsField(t *testing.T) {
	created := map[string]bool{}
	for _, n := range instrumentNames() {
		created[n] = true
	}
	for f := range reflect.TypeFor[asynclog.Stats]().Fields() {
		assert.True(t, created["asynclog."+snake(f.Name)], "Stats.%s has no instrument asynclog.%s", f.Name, snake(f.Name))
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

// TestRegisterMetricsSpoolCapacity: a queue with a spool has no record
// limit and holds Options.SpoolBytes bytes: asynclog.capacity.bytes is
// SpoolBytes (its default, or the value set) and asynclog.capacity.records
// has no data point, whatever Options.Size says.
func TestRegisterMetricsSpoolCapacity(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  asynclog.Options
		bytes int64
	}{
		{"default", asynclog.Options{}, 64 << 20},
		{"set", asynclog.Options{SpoolBytes: 1 << 20, Size: 10, MaxBytes: 4096}, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			defer func() { assert.NoError(t, mp.Shutdown(context.Background()), "MeterProvider.Shutdown") }()
			opts := tc.opts
			opts.Spool = t.TempDir()
			q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), opts)
			require.NoError(t, err, "NewQueue with a spool")
			defer func() { assert.NoError(t, q.Close(), "Close") }()
			reg, err := asynclogotel.RegisterMetrics(mp.Meter("test"), q, "app")
			require.NoError(t, err, "RegisterMetrics")
			defer func() { assert.NoError(t, reg.Unregister(), "Unregister") }()

			slog.New(asynclog.NewHandler(q, nil)).Info("one")
			require.NoError(t, q.Flush(context.Background()), "Flush")
			sm := collect(t, reader)
			var got []metricdata.Metrics
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); !ok || len(g.DataPoints) > 0 {
					got = append(got, m) // a gauge the callback did not observe has no point
				}
			}
			metricdatatest.AssertEqual(t, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: want("app", q.Stats(), capacity{0, tc.bytes})},
				metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: got}, metricdatatest.IgnoreTimestamp())
		})
	}
}

// TestRegisterMetricsSpoolReplayedDamaged: a spool left full by a queue
// whose Shutdown ran out of time, then damaged, is opened by a second
// queue: its replayed records and damaged regions are reported as Stats
// counts them.
func TestRegisterMetricsSpoolReplayedDamaged(t *testing.T) {
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

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { assert.NoError(t, mp.Shutdown(context.Background()), "MeterProvider.Shutdown") }()
	q2, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{Spool: dir, OnError: quiet})
	require.NoError(t, err, "NewQueue on the damaged spool")
	_, err = asynclogotel.RegisterMetrics(mp.Meter("test"), q2, "app")
	require.NoError(t, err, "RegisterMetrics")
	require.NoError(t, q2.Close(), "Close: the replayed records are delivered")

	s := q2.Stats()
	require.Positive(t, s.Replayed, "records replayed: %+v", s)
	require.Positive(t, s.Damaged, "damage counted: %+v", s)
	sm := collect(t, reader)
	var got []metricdata.Metrics
	for _, m := range sm.Metrics {
		if g, ok := m.Data.(metricdata.Gauge[int64]); !ok || len(g.DataPoints) > 0 {
			got = append(got, m)
		}
	}
	metricdatatest.AssertEqual(t, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: want("app", s, capacity{0, 64 << 20})},
		metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: got}, metricdatatest.IgnoreTimestamp())
}

// TestDocsNameEveryInstrument: docs/operating.md names each instrument,
// and every lower-case asynclog.name in backquotes in README.md and docs/
// is an instrument or the attribute asynclog.queue.
func TestDocsNameEveryInstrument(t *testing.T) {
	known := map[string]bool{"asynclog.queue": true}
	for _, n := range instrumentNames() {
		known[n] = true
	}
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	require.NoError(t, err)
	docs = append(docs, filepath.Join("..", "README.md"), filepath.Join("..", "CONTRIBUTING.md"))
	mentioned := map[string]bool{}
	re := regexp.MustCompile("`(asynclog\\.[a-z][a-z_.]*)`")
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			assert.True(t, known[m[1]], "%s names %s, which RegisterMetrics does not create", doc, m[1])
			if filepath.Base(doc) == "operating.md" {
				mentioned[m[1]] = true
			}
		}
	}
	for n := range known {
		assert.True(t, mentioned[n], "docs/operating.md does not name %s", n)
	}
}

// refusingMeter fails to create one instrument.
type refusingMeter struct {
	noop.Meter
}

func (refusingMeter) Int64ObservableCounter(name string, _ ...metric.Int64ObservableCounterOption) (metric.Int64ObservableCounter, error) {
	if name == "asynclog.dropped" {
		return nil, errors.New("no room")
	}
	return noop.Int64ObservableCounter{}, nil
}

func TestRegisterMetricsInstrumentError(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil }), asynclog.Options{})
	require.NoError(t, err, "NewQueue")
	defer func() { assert.NoError(t, q.Close(), "Close") }()
	reg, err := asynclogotel.RegisterMetrics(refusingMeter{}, q, "app")
	assert.Nil(t, reg, "nothing registered")
	assert.EqualError(t, err, "asynclogotel: create instruments: asynclog.dropped: no room", "the instrument and its error")
}

func TestRegisterMetricsRefusesNil(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil }), asynclog.Options{})
	require.NoError(t, err, "NewQueue")
	defer func() { assert.NoError(t, q.Close(), "Close") }()
	assert.PanicsWithValue(t, "asynclogotel: RegisterMetrics called with a nil metric.Meter", func() { _, _ = asynclogotel.RegisterMetrics(nil, q, "x") }, "nil meter")
	assert.PanicsWithValue(t, "asynclogotel: RegisterMetrics called with a nil *asynclog.Queue", func() { _, _ = asynclogotel.RegisterMetrics(noop.Meter{}, nil, "x") }, "nil queue")
}

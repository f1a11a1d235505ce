package asynclogotel_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

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

// flaky fails the first batch once (a retry) and refuses "bad" for good.
type flaky struct{ failed bool }

func (f *flaky) Write(_ context.Context, batch []asynclog.Record) error {
	for _, r := range batch {
		if r.Message == "bad" {
			return asynclog.Permanent(errors.New("refused"))
		}
	}
	if !f.failed {
		f.failed = true // only the consumer goroutine calls Write
		return errors.New("try again")
	}
	return nil
}

func collect(t *testing.T, r sdkmetric.Reader) metricdata.ScopeMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm), "Collect")
	require.Len(t, rm.ScopeMetrics, 1, "one scope")
	return rm.ScopeMetrics[0]
}

func want(name string, s asynclog.Stats) []metricdata.Metrics {
	attrs := attribute.NewSet(attribute.String("asynclog.queue", name))
	sum := func(metric, desc string, v uint64) metricdata.Metrics {
		return metricdata.Metrics{Name: metric, Description: desc, Unit: "{record}", Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, Value: int64(v)}},
		}}
	}
	return []metricdata.Metrics{
		sum("asynclog.enqueued", "Records handed to the queue, including those dropped on arrival.", s.Enqueued),
		sum("asynclog.delivered", "Records a sink (or the fallback sink) took.", s.Delivered),
		sum("asynclog.dropped", "Records dropped by the overflow policy or logged after shutdown began.", s.Dropped),
		sum("asynclog.failed", "Records the sink gave up on or refused, and records abandoned at shutdown.", s.Failed),
		sum("asynclog.retries", "Sink write attempts after the first, over all batches.", s.Retries),
		{Name: "asynclog.queued", Description: "Records accepted and not yet settled: queued, being written, or waiting for room.", Unit: "{record}",
			Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, Value: int64(s.Queued)}}}},
	}
}

// TestRegisterMetricsFiguresEqualStats: read through the SDK's
// ManualReader, the instruments report the queue's Stats of the moment,
// with their names, unit and attribute; after Unregister they report
// nothing.
func TestRegisterMetricsFiguresEqualStats(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { assert.NoError(t, mp.Shutdown(context.Background()), "MeterProvider.Shutdown") }()

	q, err := asynclog.NewQueue(&flaky{}, asynclog.Options{MinBackoff: 1, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	reg, err := asynclogotel.RegisterMetrics(mp.Meter("test"), q, "app")
	require.NoError(t, err, "RegisterMetrics")

	sm := collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: want("app", asynclog.Stats{})}, sm,
		metricdatatest.IgnoreTimestamp())

	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("ok")
	require.NoError(t, q.Flush(context.Background()), "Flush: delivered after one retry")
	l.Info("bad")
	_ = q.Flush(context.Background()) // the refusal
	require.NoError(t, q.Close(), "Close")
	l.Info("after close") // dropped

	s := q.Stats()
	require.Equal(t, asynclog.Stats{Enqueued: 3, Delivered: 1, Dropped: 1, Failed: 1, Retries: 1}, s, "the run's Stats")
	sm = collect(t, reader)
	metricdatatest.AssertEqual(t, metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: want("app", s)}, sm,
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

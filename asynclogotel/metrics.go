// Package asynclogotel reports an asynclog Queue's Stats as OpenTelemetry
// metrics. It is a module of its own, so that the main module does not
// depend on OpenTelemetry.
//
//	reg, err := asynclogotel.RegisterMetrics(otel.Meter("app"), q, "app")
//	if err != nil { ... }
//	defer reg.Unregister()
package asynclogotel

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/asynclog/asynclog"
)

// unit is the UCUM annotation of every instrument: a count of records.
const unit = "{record}"

// RegisterMetrics creates on m the observable counters asynclog.enqueued,
// asynclog.delivered, asynclog.dropped, asynclog.failed and
// asynclog.retries and the observable gauge asynclog.queued (records
// accepted and not yet settled), all in unit {record}, and registers one
// callback that reads q's [asynclog.Stats] once per collection and reports
// them with the attribute asynclog.queue = name.
//
// The callback runs on the SDK's collecting goroutine; RegisterMetrics
// starts no goroutine. Unregister the returned Registration to stop
// reporting; until then the final figures are reported after q is shut
// down. If an instrument or the callback cannot be created, RegisterMetrics
// returns the errors joined, wrapped with context, and registers nothing.
// It panics if m or q is nil.
func RegisterMetrics(m metric.Meter, q *asynclog.Queue, name string) (metric.Registration, error) {
	if m == nil {
		panic("asynclogotel: RegisterMetrics called with a nil metric.Meter")
	}
	if q == nil {
		panic("asynclogotel: RegisterMetrics called with a nil *asynclog.Queue")
	}
	var errs []error
	counter := func(name, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return c
	}
	enqueued := counter("asynclog.enqueued", "Records handed to the queue, including those dropped on arrival.")
	delivered := counter("asynclog.delivered", "Records a sink (or the fallback sink) took.")
	dropped := counter("asynclog.dropped", "Records dropped by the overflow policy or logged after shutdown began.")
	failed := counter("asynclog.failed", "Records the sink gave up on or refused, and records abandoned at shutdown.")
	retries := counter("asynclog.retries", "Sink write attempts after the first, over all batches.")
	queued, err := m.Int64ObservableGauge("asynclog.queued", metric.WithUnit(unit),
		metric.WithDescription("Records accepted and not yet settled: queued, being written, or waiting for room."))
	if err != nil {
		errs = append(errs, fmt.Errorf("asynclog.queued: %w", err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("asynclogotel: create instruments: %w", errors.Join(errs...))
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("asynclog.queue", name)))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := q.Stats()
		o.ObserveInt64(enqueued, clamp(s.Enqueued), attrs)
		o.ObserveInt64(delivered, clamp(s.Delivered), attrs)
		o.ObserveInt64(dropped, clamp(s.Dropped), attrs)
		o.ObserveInt64(failed, clamp(s.Failed), attrs)
		o.ObserveInt64(retries, clamp(s.Retries), attrs)
		o.ObserveInt64(queued, int64(s.Queued), attrs)
		return nil
	}, enqueued, delivered, dropped, failed, retries, queued)
	if err != nil {
		return nil, fmt.Errorf("asynclogotel: register callback: %w", err)
	}
	return reg, nil
}

// clamp converts a counter to the instruments' int64, saturating.
func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

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

// The instruments' UCUM units: curly braces annotate a count of things.
const (
	unitRecord = "{record}"
	unitRetry  = "{attempt}"
	unitRegion = "{region}"
	unitCall   = "{call}"
	unitBytes  = "By"
)

// RegisterMetrics creates on m one observable counter for each counter of
// q's [asynclog.Stats] and three observable gauges, and registers one
// callback that reads q.Stats once per collection and reports them all
// with the attribute asynclog.queue = name. The counters:
//
//	asynclog.enqueued   {record}   Stats.Enqueued
//	asynclog.delivered  {record}   Stats.Delivered
//	asynclog.dropped    {record}   Stats.Dropped
//	asynclog.failed     {record}   Stats.Failed
//	asynclog.fell_back  {record}   Stats.FellBack
//	asynclog.retries    {attempt}  Stats.Retries
//	asynclog.replayed   {record}   Stats.Replayed
//	asynclog.damaged    {region}   Stats.Damaged (regions of the spool, not records)
//	asynclog.writes     {call}     Stats.Writes
//
// The gauges:
//
//	asynclog.queued            {record}  Stats.Queued: records accepted and not yet settled
//	asynclog.capacity.records  {record}  Options.Size; not reported with Options.Spool, where no record limit applies
//	asynclog.capacity.bytes    By        Options.MaxBytes, or Options.SpoolBytes with Options.Spool
//
// The capacities are q.Options() as NewQueue resolved them. A spool
// rounds SpoolBytes up to a multiple of 4096, and an existing spool that
// still holds records keeps the size it was made with.
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
	var instruments []metric.Observable
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		instruments = append(instruments, c)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		instruments = append(instruments, g)
		return g
	}
	enqueued := counter("asynclog.enqueued", unitRecord, "Records handed to the queue, including those dropped on arrival and those replayed from the spool.")
	delivered := counter("asynclog.delivered", unitRecord, "Records a sink (or the fallback sink) took.")
	dropped := counter("asynclog.dropped", unitRecord, "Records dropped by the overflow policy, larger than MaxBytes, or logged after shutdown began.")
	failed := counter("asynclog.failed", unitRecord, "Records the sink gave up on or refused, and records abandoned at shutdown.")
	fellBack := counter("asynclog.fell_back", unitRecord, "Of the delivered records, those the fallback sink took.")
	retries := counter("asynclog.retries", unitRetry, "Sink write attempts after the first, over all batches.")
	replayed := counter("asynclog.replayed", unitRecord, "Of the enqueued records, those an earlier process left in the spool.")
	damaged := counter("asynclog.damaged", unitRegion, "Damaged regions of the spool skipped when the queue was made (never delivered).")
	writes := counter("asynclog.writes", unitCall, "Sink write calls, retries and the fallback's included.")
	queued := gauge("asynclog.queued", unitRecord, "Records accepted and not yet settled: queued, being written, or waiting for room.")
	capRecords := gauge("asynclog.capacity.records", unitRecord, "Records the queue holds (Options.Size); not reported for a queue with a spool.")
	capBytes := gauge("asynclog.capacity.bytes", unitBytes, "Bytes the queue holds: Options.MaxBytes, or Options.SpoolBytes with a spool.")
	if len(errs) > 0 {
		return nil, fmt.Errorf("asynclogotel: create instruments: %w", errors.Join(errs...))
	}

	// The capacity is fixed when the queue is made: NewQueue resolves the
	// Options once.
	o := q.Options()
	records, bytes := int64(o.Size), int64(o.MaxBytes)
	if o.Spool != "" {
		records, bytes = 0, o.SpoolBytes
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("asynclog.queue", name)))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := q.Stats()
		o.ObserveInt64(enqueued, clamp(s.Enqueued), attrs)
		o.ObserveInt64(delivered, clamp(s.Delivered), attrs)
		o.ObserveInt64(dropped, clamp(s.Dropped), attrs)
		o.ObserveInt64(failed, clamp(s.Failed), attrs)
		o.ObserveInt64(fellBack, clamp(s.FellBack), attrs)
		o.ObserveInt64(retries, clamp(s.Retries), attrs)
		o.ObserveInt64(replayed, clamp(s.Replayed), attrs)
		o.ObserveInt64(damaged, clamp(s.Damaged), attrs)
		o.ObserveInt64(writes, clamp(s.Writes), attrs)
		o.ObserveInt64(queued, int64(s.Queued), attrs)
		if records > 0 {
			o.ObserveInt64(capRecords, records, attrs)
		}
		o.ObserveInt64(capBytes, bytes, attrs)
		return nil
	}, instruments...)
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

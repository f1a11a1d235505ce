// Package asynclogprom exposes an asynclog Queue's Stats as Prometheus
// metrics. It is a module of its own, so that the main module does not
// depend on the Prometheus client.
//
//	q, err := asynclog.NewQueue(sink, asynclog.Options{})
//	...
//	prometheus.MustRegister(asynclogprom.NewCollector(q, "app"))
//	http.Handle("/metrics", promhttp.Handler())
package asynclogprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/asynclog/asynclog"
)

// counter is one counter of Stats and its metric.
type counter struct {
	desc  *prometheus.Desc
	value func(asynclog.Stats) uint64
}

// collector reads a queue's Stats at each scrape.
type collector struct {
	q        *asynclog.Queue
	counters []counter
	queued   *prometheus.Desc

	// The capacity is fixed when the queue is made: Options are resolved
	// once by NewQueue. capRecords is 0 with a spool, which has no record
	// limit, and the metric is then not sent.
	capRecordsDesc, capBytesDesc *prometheus.Desc
	capRecords, capBytes         float64
}

var _ prometheus.Collector = (*collector)(nil)

// NewCollector returns a prometheus.Collector for q's [asynclog.Stats].
// Each metric has the constant label queue=name. The counters, one for
// each counter of Stats:
//
//	asynclog_enqueued_total   Stats.Enqueued
//	asynclog_delivered_total  Stats.Delivered
//	asynclog_dropped_total    Stats.Dropped
//	asynclog_failed_total     Stats.Failed
//	asynclog_fell_back_total  Stats.FellBack
//	asynclog_retries_total    Stats.Retries
//	asynclog_replayed_total   Stats.Replayed
//	asynclog_damaged_total    Stats.Damaged (regions of the spool, not records)
//	asynclog_writes_total     Stats.Writes
//
// and the gauges:
//
//	asynclog_queued            Stats.Queued: records accepted and not yet settled
//	asynclog_capacity_records  Options.Size; not sent with Options.Spool, where no record limit applies
//	asynclog_capacity_bytes    Options.MaxBytes, or Options.SpoolBytes with Options.Spool
//
// The capacities are q.Options() as NewQueue resolved them. A spool
// rounds SpoolBytes up to a multiple of 4096, and an existing spool that
// still holds records keeps the size it was made with.
//
// The figures are read from q.Stats at each Collect, on the scraping
// goroutine: the collector starts no goroutine and keeps no state of its
// own, and it is safe for concurrent use. It goes on reporting the final
// figures after q is shut down. Register one collector per queue, each
// with its own name: two with the same name clash in a registry.
// NewCollector panics if q is nil.
func NewCollector(q *asynclog.Queue, name string) prometheus.Collector {
	if q == nil {
		panic("asynclogprom: NewCollector called with a nil *asynclog.Queue")
	}
	labels := prometheus.Labels{"queue": name}
	desc := func(metric, help string) *prometheus.Desc {
		return prometheus.NewDesc(metric, help, nil, labels)
	}
	c := &collector{
		q: q,
		counters: []counter{
			{desc("asynclog_enqueued_total", "Records handed to the queue, including those dropped on arrival and those replayed from the spool."),
				func(s asynclog.Stats) uint64 { return s.Enqueued }},
			{desc("asynclog_delivered_total", "Records a sink (or the fallback sink) took."),
				func(s asynclog.Stats) uint64 { return s.Delivered }},
			{desc("asynclog_dropped_total", "Records dropped by the overflow policy, larger than MaxBytes, or logged after shutdown began."),
				func(s asynclog.Stats) uint64 { return s.Dropped }},
			{desc("asynclog_failed_total", "Records the sink gave up on or refused, and records abandoned at shutdown."),
				func(s asynclog.Stats) uint64 { return s.Failed }},
			{desc("asynclog_fell_back_total", "Of the delivered records, those the fallback sink took."),
				func(s asynclog.Stats) uint64 { return s.FellBack }},
			{desc("asynclog_retries_total", "Sink write attempts after the first, over all batches."),
				func(s asynclog.Stats) uint64 { return s.Retries }},
			{desc("asynclog_replayed_total", "Of the enqueued records, those an earlier process left in the spool."),
				func(s asynclog.Stats) uint64 { return s.Replayed }},
			{desc("asynclog_damaged_total", "Damaged regions of the spool skipped when the queue was made (never delivered)."),
				func(s asynclog.Stats) uint64 { return s.Damaged }},
			{desc("asynclog_writes_total", "Sink write calls, retries and the fallback's included."),
				func(s asynclog.Stats) uint64 { return s.Writes }},
		},
		queued:         desc("asynclog_queued", "Records accepted and not yet settled: queued, being written, or waiting for room."),
		capRecordsDesc: desc("asynclog_capacity_records", "Records the queue holds (Options.Size); not sent for a queue with a spool."),
		capBytesDesc:   desc("asynclog_capacity_bytes", "Bytes the queue holds: Options.MaxBytes, or Options.SpoolBytes with a spool."),
	}
	o := q.Options()
	if o.Spool == "" {
		c.capRecords, c.capBytes = float64(o.Size), float64(o.MaxBytes)
	} else {
		c.capBytes = float64(o.SpoolBytes)
	}
	return c
}

// Describe sends the descriptions of every metric the collector can send.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.counters {
		ch <- m.desc
	}
	ch <- c.queued
	ch <- c.capRecordsDesc
	ch <- c.capBytesDesc
}

// Collect reads the queue's Stats once and sends the metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.q.Stats()
	for _, m := range c.counters {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.value(s)))
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.Queued))
	if c.capRecords > 0 {
		ch <- prometheus.MustNewConstMetric(c.capRecordsDesc, prometheus.GaugeValue, c.capRecords)
	}
	ch <- prometheus.MustNewConstMetric(c.capBytesDesc, prometheus.GaugeValue, c.capBytes)
}

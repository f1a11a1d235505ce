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

// collector reads a queue's Stats at each scrape.
type collector struct {
	q *asynclog.Queue

	enqueued, delivered, dropped, failed, retries *prometheus.Desc
	queued, capacity                              *prometheus.Desc
}

var _ prometheus.Collector = (*collector)(nil)

// NewCollector returns a prometheus.Collector for q's [asynclog.Stats]:
// the counters asynclog_enqueued_total, asynclog_delivered_total,
// asynclog_dropped_total, asynclog_failed_total and asynclog_retries_total,
// and the gauges asynclog_queued (records accepted and not yet settled)
// and asynclog_capacity (the queue's Options.Size), each with the constant
// label queue=name.
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
	return &collector{
		q:         q,
		enqueued:  desc("asynclog_enqueued_total", "Records handed to the queue, including those dropped on arrival."),
		delivered: desc("asynclog_delivered_total", "Records a sink (or the fallback sink) took."),
		dropped:   desc("asynclog_dropped_total", "Records dropped by the overflow policy or logged after shutdown began."),
		failed:    desc("asynclog_failed_total", "Records the sink gave up on or refused, and records abandoned at shutdown."),
		retries:   desc("asynclog_retries_total", "Sink write attempts after the first, over all batches."),
		queued:    desc("asynclog_queued", "Records accepted and not yet settled: queued, being written, or waiting for room."),
		capacity:  desc("asynclog_capacity", "Records the queue holds (Options.Size)."),
	}
}

// Describe sends the seven metrics' descriptions.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.enqueued, c.delivered, c.dropped, c.failed, c.retries, c.queued, c.capacity} {
		ch <- d
	}
}

// Collect reads the queue's Stats once and sends the seven metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.q.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.enqueued, s.Enqueued)
	counter(c.delivered, s.Delivered)
	counter(c.dropped, s.Dropped)
	counter(c.failed, s.Failed)
	counter(c.retries, s.Retries)
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(c.q.Options().Size))
}

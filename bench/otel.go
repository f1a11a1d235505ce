package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// What the OpenTelemetry subject needs: an exporter that writes each
// batch to the sink, and a counter of the drops the SDK reports through
// otel's logger.

// lineExporter is the OpenTelemetry exporter adapter: it writes each batch
// as newline-terminated records, one sink Write per Export call, as an
// OTLP exporter sends one request per batch.
type lineExporter struct {
	w   *sink
	mu  sync.Mutex
	buf []byte
}

var _ sdklog.Exporter = (*lineExporter)(nil)

func (e *lineExporter) Export(_ context.Context, records []sdklog.Record) error {
	if len(records) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.buf[:0]
	for i := range records {
		r := &records[i]
		b = append(b, `{"time":`...)
		b = strconv.AppendInt(b, r.Timestamp().UnixNano(), 10)
		b = append(b, `,"level":`...)
		b = strconv.AppendQuote(b, r.Severity().String())
		b = append(b, `,"msg":`...)
		b = appendAttrValue(b, r.Body())
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			b = append(b, ',')
			b = strconv.AppendQuote(b, string(kv.Key))
			b = append(b, ':')
			b = appendAttrValue(b, kv.Value)
			return true
		})
		b = append(b, "}\n"...)
	}
	e.buf = b
	_, err := e.w.Write(b)
	return err
}

func appendAttrValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.INT64:
		return strconv.AppendInt(b, v.AsInt64(), 10)
	case attribute.STRING:
		return strconv.AppendQuote(b, v.AsString())
	}
	return strconv.AppendQuote(b, v.Emit())
}

func (e *lineExporter) Shutdown(context.Context) error   { return nil }
func (e *lineExporter) ForceFlush(context.Context) error { return nil }

// otelDropCounter is a logr sink for OpenTelemetry's internal logger: it
// sums the BatchProcessor's "dropped log records" reports.
type otelDropCounter struct {
	n atomic.Uint64
}

var _ logr.LogSink = (*otelDropCounter)(nil)

func (*otelDropCounter) Init(logr.RuntimeInfo) {}
func (*otelDropCounter) Enabled(int) bool      { return true }
func (d *otelDropCounter) Info(_ int, msg string, kv ...any) {
	if msg != "dropped log records" {
		return
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, _ := kv[i].(string); k == "dropped" {
			switch v := kv[i+1].(type) {
			case uint64:
				d.n.Add(v)
			case int64:
				d.n.Add(uint64(v))
			case int:
				d.n.Add(uint64(v))
			}
		}
	}
}
func (*otelDropCounter) Error(error, string, ...any)      {}
func (d *otelDropCounter) WithValues(...any) logr.LogSink { return d }
func (d *otelDropCounter) WithName(string) logr.LogSink   { return d }

func joinMsgs(msgs []string) string { return strings.Join(msgs, "; ") }

// Package httpsink is an [asynclog.Sink] that posts batches of records to
// an HTTP endpoint: a log collector such as the OpenTelemetry Collector,
// Vector, Fluent Bit, Logstash, Grafana Loki or Elastic.
//
// A record travels from a log call through the front end's encoder and the
// queue to the consumer goroutine, which hands a batch to [Sink.Write].
// Write frames the batch in the chosen [Format] (NDJSON, a JSON array, an
// OTLP/HTTP ExportLogsServiceRequest in JSON or protobuf, or
// Elasticsearch's _bulk format), splits it into requests of at most
// Options.MaxBodyBytes, optionally gzips each, and posts them with the ctx
// the queue gives it, so a hung server cannot hold Shutdown past its
// deadline. Reading a response's body, once its status is in, takes
// at most Options.ResponseBodyTimeout (10 seconds by default), so a server
// that never ends its answer cannot hold each Write for the whole ctx.
//
// # Formats and collectors
//
// The URL is the full endpoint: nothing is appended to it. Pick the
// format your collector reads:
//
//   - [NDJSON] (the default): Vector's http_server source with
//     newline-delimited framing, Logstash's http input with the json_lines
//     codec for application/x-ndjson.
//   - [JSONArray]: Fluent Bit's http input, Logstash's http input,
//     Vector's http_server source with bytes framing.
//   - [OTLP]: the OpenTelemetry Collector's otlp receiver (http, port
//     4318, /v1/logs), Fluent Bit's opentelemetry input, Grafana Loki 3's
//     native OTLP ingestion (/otlp/v1/logs), Elastic's EDOT Collector or
//     APM Server.
//   - [OTLPProtobuf]: the same request in protobuf, OTLP/HTTP's default
//     encoding: the OpenTelemetry Collector, and the backends that take
//     only protobuf, such as VictoriaLogs (/insert/opentelemetry/v1/logs).
//   - [ElasticBulk]: Elasticsearch's and OpenSearch's _bulk API
//     (/<index>/_bulk, or Options.Index), and what speaks it, such as
//     VictoriaLogs (/insert/elasticsearch/_bulk).
//
// VictoriaLogs is checked in CI with NDJSON (/insert/jsonline),
// OTLPProtobuf and ElasticBulk.
//
// In OTLP and OTLPProtobuf, each record becomes a LogRecord: its time, a
// severityNumber on OTLP's 1..24 scale (slog's Debug 5, Info 9, Warn 13,
// Error 17, keeping offsets; zap's DPanic 21, Panic 22, Fatal 23), the
// level as the front end wrote it as severityText, the message as body,
// and every other
// top-level field of the encoded JSON object as a typed attribute (the
// first "ts", "time", "level" and "msg" are not repeated; see
// Options.LevelKey and Options.OmitKeys). A record that is not a JSON
// object is sent whole in the log.record.original attribute. The resource
// carries service.name (Options.ServiceName, else OTEL_SERVICE_NAME, else
// a service.name in Options.Resource or OTEL_RESOURCE_ATTRIBUTES, else
// unknown_service:<executable>) and the other attributes of
// Options.Resource and OTEL_RESOURCE_ATTRIBUTES.
//
// # Answers, retries and splits
//
// The server's answer decides what the queue does next: 2xx is delivered;
// 429, 502, 503, 504 and network errors are retried, no sooner than a
// Retry-After header asks (see [asynclog.RetryAfter]); any other status is
// permanent (see [asynclog.Permanent]). An OTLP partial success, and the
// items a bulk answer refused, reach the queue as [asynclog.Partial], so
// the refused records count as Failed. A bulk answer's per-item 429s are
// sent again by Write itself, those records alone (see [ElasticBulk]).
//
// A batch split across requests is sent one request at a time, in order,
// and stops at the first that fails. The requests before it were
// delivered: the error says how many records they held with
// [asynclog.Delivered], so the queue counts those as Delivered and retries,
// or gives to its fallback, only the rest. The records an OTLP partial
// success refused in a delivered request are reported once the batch is
// done, retries included; if the rest of the batch is given up on, they
// stay counted as Delivered (Delivered has no count of refused records)
// and the error names them.
//
// A 307 or 308 redirect is followed: the POST is sent again, body and
// all, to the new location, without a Referer, and, if the location is
// another origin (scheme, host or port) than the URL's, without any of
// Options.Headers (Go's client would drop only Authorization and
// cookies, and only for another host). A 301, 302 or 303 is not, since
// Go's client would follow it with a GET without the body and the page it
// lands on (a login page, say) would answer 200 for records never posted:
// it is a permanent [StatusError] naming the status and the Location,
// without the Location's user info or query.
//
// # Delivery is at least once
//
// A request that reached the server but whose answer was lost (the
// connection reset or hung after the server kept the body, a timeout
// while it answered) is an error to the sink, so the queue sends those
// records again: the collector may get them twice. Set
// Options.IdempotencyHeader (for example to "Idempotency-Key") to let it
// tell: every request then carries a key, 32 random hex digits of the
// Sink, the batch's number and the request's index in the batch, such as
//
//	Idempotency-Key: 9c1f...e07a-42-0
//
// Every attempt of the same records carries the same key: a resend by Go's
// transport, the queue's retry of the whole batch, and its retry of the
// rest after [asynclog.Delivered], whose first request is the one that
// failed (the sink knows a retry by its records, and splits the rest as
// it split the batch). Another batch, or another request of the same
// batch, never carries it. A collector, or a proxy in front of it, that
// remembers the keys it has taken can drop the repeats. The key is new
// for each Sink, so it does not survive a restart of the process; the
// formats themselves have no field for it (an OTLP log record has no
// identity of its own), which is why it travels in a header.
//
// # Errors and secrets
//
// Errors never carry the URL's user info or its query, nor the values of
// credentials: Authorization, Proxy-Authorization, Cookie, and headers
// whose names contain key, token, secret, auth, password, passwd,
// session, cookie, credential or signature. Other headers are settings
// (a tenant, VictoriaLogs' VL-Time-Field: time) and are not hidden, so
// that their ordinary words stay readable in what a server says. Every
// text an error quotes from elsewhere goes through one redaction, whatever
// its path: a transport error (which may quote what a peer sent back,
// such as the request line), a redirect's Location, a status's body, an
// OTLP partial success's message, a bulk item's reason. It hides the
// sink's secrets wherever they appear, as they are and as a server may
// echo them: query- or path-escaped (in either case of hex), JSON-escaped,
// a Basic credential decoded; and the query and user info of any URL in
// the text.
// Transport errors keep only their redacted text: errors.Is still finds
// context.Canceled and context.DeadlineExceeded, but not the transport's
// own error values, whose text could carry a secret.
//
//	sink, err := httpsink.New("http://localhost:4318/v1/logs", httpsink.Options{Format: httpsink.OTLP})
//	if err != nil { ... }
//	q, err := asynclog.NewQueue(sink, asynclog.Options{})
//	if err != nil { ... }
//	defer q.Close()
//	logger := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.InfoLevel, q))
package httpsink

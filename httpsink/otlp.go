package httpsink

import (
	"bytes"
	"cmp"
	"encoding/json"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/internal/jsonenc"
)

// scopeName is the instrumentation scope of every OTLP log record.
const scopeName = "github.com/asynclog/asynclog/httpsink"

// maxDepth bounds the nesting the OTLP transcoder follows; a deeper record
// is sent whole as log.record.original.
const maxDepth = 64

// otlpEncoder turns batches into OTLP/HTTP JSON ExportLogsServiceRequests.
// The envelope is built once in New; each record's Encoded JSON is parsed
// once, straight into its LogRecord.
type otlpEncoder struct {
	head     []byte // {"resourceLogs":[{"resource":...,"scopeLogs":[{"scope":...,"logRecords":[
	levelKey []byte
	omit     [][]byte
	rec      []byte // scratch: one LogRecord, before it is known to fit
}

// tail closes what head opened.
const otlpTail = "]}]}]}"

// lookupEnv is os.LookupEnv; New passes it so tests can pass their own.
func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

func newOTLPEncoder(opts Options, env func(string) (string, bool)) *otlpEncoder {
	e := &otlpEncoder{}
	e.levelKey, e.omit = otlpKeys(opts)
	b := []byte(`{"resourceLogs":[{"resource":{"attributes":[`)
	b = appendResource(b, resourceAttrs(opts, env))
	b = append(b, `]},"scopeLogs":[{"scope":{"name":"`+scopeName+`"},"logRecords":[`...)
	e.head = b
	return e
}

// otlpKeys returns the level key and the other keys that a LogRecord
// does not repeat as attributes, with their defaults.
func otlpKeys(opts Options) (levelKey []byte, omit [][]byte) {
	levelKey = []byte(cmp.Or(opts.LevelKey, slog.LevelKey))
	keys := opts.OmitKeys
	if keys == nil {
		keys = []string{"ts", slog.TimeKey, slog.MessageKey}
	}
	for _, k := range keys {
		omit = append(omit, []byte(k))
	}
	return levelKey, omit
}

// resourceAttrs merges the resource's attributes: Options.Resource over
// OTEL_RESOURCE_ATTRIBUTES, with service.name resolved as the
// OpenTelemetry specification says.
func resourceAttrs(opts Options, env func(string) (string, bool)) []slog.Attr {
	var attrs []slog.Attr
	seen := map[string]int{}
	set := func(a slog.Attr) {
		if i, ok := seen[a.Key]; ok {
			attrs[i] = a
			return
		}
		seen[a.Key] = len(attrs)
		attrs = append(attrs, a)
	}
	if v, ok := env("OTEL_RESOURCE_ATTRIBUTES"); ok {
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				continue // the specification says to discard a malformed list entry
			}
			dk, err1 := url.PathUnescape(k)
			dv, err2 := url.PathUnescape(strings.TrimSpace(val))
			if err1 != nil || err2 != nil {
				continue
			}
			set(slog.String(dk, dv))
		}
	}
	for _, a := range opts.Resource {
		if a.Key != "" {
			set(a)
		}
	}
	service := opts.ServiceName
	if service == "" {
		if v, ok := env("OTEL_SERVICE_NAME"); ok && v != "" {
			service = v
		}
	}
	if service == "" {
		if i, ok := seen["service.name"]; ok && attrs[i].Value.String() != "" {
			return attrs
		}
		service = "unknown_service"
		if exe, err := os.Executable(); err == nil {
			service += ":" + filepath.Base(exe)
		} else if len(os.Args) > 0 {
			service += ":" + filepath.Base(os.Args[0])
		}
	}
	set(slog.String("service.name", service))
	return attrs
}

// appendResource writes attrs as OTLP KeyValues.
func appendResource(b []byte, attrs []slog.Attr) []byte {
	for i, a := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = jsonenc.AppendString(b, a.Key)
		b = append(b, `,"value":`...)
		b = appendSlogValue(b, a.Value, 0)
		b = append(b, '}')
	}
	return b
}

// appendSlogValue writes v as an OTLP AnyValue.
func appendSlogValue(b []byte, v slog.Value, depth int) []byte {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		b = append(b, `{"stringValue":`...)
		b = jsonenc.AppendString(b, v.String())
	case slog.KindInt64:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, v.Int64(), 10)
		b = append(b, '"')
	case slog.KindUint64:
		if u := v.Uint64(); u <= math.MaxInt64 {
			b = append(b, `{"intValue":"`...)
			b = strconv.AppendUint(b, u, 10)
			b = append(b, '"')
		} else {
			b = append(b, `{"doubleValue":`...)
			b = strconv.AppendFloat(b, float64(u), 'g', -1, 64)
		}
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			b = append(b, `{"doubleValue":"`...)
			switch {
			case math.IsNaN(f):
				b = append(b, "NaN"...)
			case f > 0:
				b = append(b, "Infinity"...)
			default:
				b = append(b, "-Infinity"...)
			}
			b = append(b, '"')
		} else {
			b = append(b, `{"doubleValue":`...)
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
		}
	case slog.KindBool:
		b = append(b, `{"boolValue":`...)
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, int64(v.Duration()), 10)
		b = append(b, '"')
	case slog.KindTime:
		b = append(b, `{"stringValue":"`...)
		b = v.Time().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	case slog.KindGroup:
		if depth >= maxDepth {
			return append(b, `{}`...)
		}
		b = append(b, `{"kvlistValue":{"values":[`...)
		for i, a := range v.Group() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = jsonenc.AppendString(b, a.Key)
			b = append(b, `,"value":`...)
			b = appendSlogValue(b, a.Value, depth+1)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	default:
		b = append(b, `{"stringValue":`...)
		b = jsonenc.AppendString(b, v.String())
	}
	return append(b, '}')
}

// encode appends an ExportLogsServiceRequest holding as many of recs as
// fit in max bytes (at least one) to b, and returns it and how many it took.
func (e *otlpEncoder) encode(b []byte, recs []asynclog.Record, max int) ([]byte, int) {
	b = append(b, e.head...)
	n := 0
	for i := range recs {
		e.rec = e.appendLogRecord(e.rec[:0], &recs[i])
		if n > 0 && len(b)+1+len(e.rec)+len(otlpTail) > max {
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, e.rec...)
		n++
	}
	return append(b, otlpTail...), n
}

// severityNumber maps a record's level onto OTLP's 1..24 scale. slog's
// levels keep their offsets (Debug 5, Info 9, Warn 13, Error 17, Error+2
// 19); zap's levels above Error become FATAL: DPanic 21, Panic 22, Fatal 23.
func severityNumber(l slog.Level) int {
	if l <= slog.LevelError+3 {
		return max(int(l)+9, 1)
	}
	return min(21+(int(l)-12)/4, 24)
}

// appendLogRecord writes one OTLP LogRecord for r.
func (e *otlpEncoder) appendLogRecord(b []byte, r *asynclog.Record) []byte {
	b = append(b, '{')
	if !r.Time.IsZero() {
		b = append(b, `"timeUnixNano":"`...)
		b = strconv.AppendInt(b, r.Time.UnixNano(), 10)
		b = append(b, `",`...)
	}
	b = append(b, `"severityNumber":`...)
	b = strconv.AppendInt(b, int64(severityNumber(r.Level)), 10)
	b = append(b, `,"body":{"stringValue":`...)
	b = jsonenc.AppendString(b, r.Message)
	b = append(b, `},"attributes":[`...)
	mark := len(b)
	t := transcoder{lexer: lexer{in: bytes.TrimRight(r.Encoded, "\r\n")}, keyFilter: keyFilter{levelKey: e.levelKey, omit: e.omit}, out: b}
	var err error
	if len(t.in) > 0 {
		err = t.object()
	}
	b = t.out
	if err != nil {
		// Not the JSON object this sink expects (a console encoder, say):
		// keep the record whole under the semantic-convention name.
		b = append(b[:mark], `{"key":"log.record.original","value":{"stringValue":`...)
		b = jsonenc.AppendString(b, string(t.in))
		b = append(b, "}}"...)
		t.level = nil
	}
	b = append(b, `],"severityText":`...)
	if t.level != nil {
		b = append(b, t.level...)
	} else {
		b = jsonenc.AppendString(b, r.Level.String())
	}
	return append(b, '}')
}

// parsePartialSuccess reads an ExportLogsServiceResponse's partialSuccess.
// A body that is not a JSON object, or has none, means full success
// (servers do not always label JSON as such).
func parsePartialSuccess(body []byte) (rejected int, msg string) {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return 0, ""
	}
	var resp struct {
		PartialSuccess *struct {
			RejectedLogRecords json.RawMessage `json:"rejectedLogRecords"`
			ErrorMessage       string          `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if json.Unmarshal(body, &resp) != nil || resp.PartialSuccess == nil {
		return 0, ""
	}
	ps := resp.PartialSuccess
	raw := strings.Trim(string(ps.RejectedLogRecords), `"`) // int64 is a JSON string, but accept a number
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n > 0 {
		rejected = int(min(n, math.MaxInt32))
	}
	return rejected, ps.ErrorMessage
}

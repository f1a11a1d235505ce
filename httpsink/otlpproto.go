package httpsink

import (
	"bytes"
	"log/slog"
	"math"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/asynclog/asynclog"
)

// Field numbers of the OTLP messages the protobuf encoder writes
// (opentelemetry/proto/collector/logs/v1, logs/v1, common/v1).
const (
	pbRequestResourceLogs   = 1 // ExportLogsServiceRequest.resource_logs
	pbResourceLogsResource  = 1 // ResourceLogs.resource
	pbResourceLogsScopeLogs = 2 // ResourceLogs.scope_logs
	pbResourceAttributes    = 1 // Resource.attributes
	pbScopeLogsScope        = 1 // ScopeLogs.scope
	pbScopeLogsLogRecords   = 2 // ScopeLogs.log_records
	pbScopeName             = 1 // InstrumentationScope.name
	pbLogTime               = 1 // LogRecord.time_unix_nano, fixed64
	pbLogSeverityNumber     = 2 // LogRecord.severity_number
	pbLogSeverityText       = 3 // LogRecord.severity_text
	pbLogBody               = 5 // LogRecord.body
	pbLogAttributes         = 6 // LogRecord.attributes
	pbKeyValueKey           = 1 // KeyValue.key
	pbKeyValueValue         = 2 // KeyValue.value
	pbAnyString             = 1 // AnyValue.string_value
	pbAnyBool               = 2 // AnyValue.bool_value
	pbAnyInt                = 3 // AnyValue.int_value
	pbAnyDouble             = 4 // AnyValue.double_value
	pbAnyArray              = 5 // AnyValue.array_value
	pbAnyKvlist             = 6 // AnyValue.kvlist_value
	pbListValues            = 1 // ArrayValue.values and KeyValueList.values

	pbResponsePartialSuccess = 1 // ExportLogsServiceResponse.partial_success
	pbPartialRejected        = 1 // ExportLogsPartialSuccess.rejected_log_records
	pbPartialMessage         = 2 // ExportLogsPartialSuccess.error_message
	pbStatusMessage          = 2 // google.rpc.Status.message
)

// protoEncoder turns batches into OTLP/HTTP protobuf
// ExportLogsServiceRequests, with the same mapping as [otlpEncoder]. The
// resource and the scope are encoded once in New; each record's Encoded
// JSON is parsed once, straight into its LogRecord. Lengths come before
// the bytes they count in protobuf, so the envelope is written last, into
// a gap left before the records.
type protoEncoder struct {
	resource []byte // ResourceLogs.resource, tag and length included
	scope    []byte // ScopeLogs.scope, tag and length included
	gap      int    // room for the envelope before the first record
	levelKey []byte
	omit     [][]byte
	rec      []byte // scratch: one LogRecord, before it is known to fit
}

func newProtoEncoder(opts Options, env func(string) (string, bool)) *protoEncoder {
	e := &protoEncoder{}
	e.levelKey, e.omit = otlpKeys(opts)
	var res []byte
	for _, a := range resourceAttrs(opts, env) {
		res = appendTag(res, pbResourceAttributes, protowire.BytesType)
		var kv int
		res, kv = openLen(res)
		res = appendProtoKeyValue(res, a, 0)
		res = closeLen(res, kv)
	}
	e.resource = appendBytes(appendTag(nil, pbResourceLogsResource, protowire.BytesType), res)
	var scope []byte
	scope = appendTag(scope, pbScopeName, protowire.BytesType)
	scope = appendStr(scope, scopeName)
	e.scope = appendBytes(appendTag(nil, pbScopeLogsScope, protowire.BytesType), scope)
	// Two tags of one byte and two lengths of at most ten.
	e.gap = 2 + 2*protowire.SizeVarint(math.MaxUint64) + len(e.resource) + len(e.scope)
	return e
}

// appendTag appends a field's tag. Every field number here is below 16,
// so a tag is one byte.
func appendTag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return append(b, byte(num)<<3|byte(typ))
}

// appendVarint is protowire.AppendVarint with its common case inlined.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// appendBytes appends a length-delimited value.
func appendBytes(b, v []byte) []byte {
	return append(appendVarint(b, uint64(len(v))), v...)
}

// appendStr appends a length-delimited string.
func appendStr(b []byte, v string) []byte {
	return append(appendVarint(b, uint64(len(v))), v...)
}

// openLen reserves a byte for the length of the field whose bytes follow,
// and returns where they start.
func openLen(b []byte) ([]byte, int) {
	b = append(b, 0)
	return b, len(b)
}

// closeLen writes the length of the bytes since start into the room
// openLen left, moving them up if the length takes more than a byte.
func closeLen(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, k-1)...)
	copy(b[start+k-1:], b[start:start+n])
	protowire.AppendVarint(b[start-1:start-1], uint64(n))
	return b
}

// encode writes an ExportLogsServiceRequest holding as many of recs as
// fit in max bytes (at least one) into b's memory. The request is
// body[off:]; n is how many records it took.
func (e *protoEncoder) encode(b []byte, recs []asynclog.Record, max int) (body []byte, off, n int) {
	if cap(b) < e.gap {
		b = make([]byte, e.gap, 64<<10)
	}
	b = b[:e.gap]
	for i := range recs {
		e.rec = e.appendLogRecord(e.rec[:0], &recs[i])
		if n > 0 && len(b)+1+protowire.SizeBytes(len(e.rec)) > max {
			break
		}
		b = appendTag(b, pbScopeLogsLogRecords, protowire.BytesType)
		b = appendBytes(b, e.rec)
		n++
	}
	records := len(b) - e.gap
	scopeLogs := len(e.scope) + records
	resourceLogs := len(e.resource) + 1 + protowire.SizeBytes(scopeLogs)
	off = e.gap - (1 + protowire.SizeBytes(resourceLogs) - records)
	// The envelope fills b[off:e.gap] exactly, in b's own memory.
	h := appendTag(b[off:off], pbRequestResourceLogs, protowire.BytesType)
	h = appendVarint(h, uint64(resourceLogs))
	h = append(h, e.resource...)
	h = appendTag(h, pbResourceLogsScopeLogs, protowire.BytesType)
	h = appendVarint(h, uint64(scopeLogs))
	_ = append(h, e.scope...)
	return b, off, n
}

// appendLogRecord writes one OTLP LogRecord for r, as appendLogRecord of
// [otlpEncoder] does in JSON.
func (e *protoEncoder) appendLogRecord(b []byte, r *asynclog.Record) []byte {
	if !r.Time.IsZero() {
		b = appendTag(b, pbLogTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, uint64(r.Time.UnixNano()))
	}
	b = appendTag(b, pbLogSeverityNumber, protowire.VarintType)
	b = appendVarint(b, uint64(severityNumber(r.Level)))
	b = appendTag(b, pbLogBody, protowire.BytesType)
	b, start := openLen(b)
	b = appendProtoString(b, pbAnyString, r.Message)
	b = closeLen(b, start)

	mark := len(b)
	t := protoTranscoder{lexer: lexer{in: bytes.TrimRight(r.Encoded, "\r\n")}, keyFilter: keyFilter{levelKey: e.levelKey, omit: e.omit}, out: b}
	var err error
	if len(t.in) > 0 {
		err = t.object()
	}
	b = t.out
	if err != nil {
		// Not a JSON object: keep the record whole, as the JSON encoding does.
		var kv, v int
		b = appendTag(b[:mark], pbLogAttributes, protowire.BytesType)
		b, kv = openLen(b)
		b = appendProtoString(b, pbKeyValueKey, "log.record.original")
		b = appendTag(b, pbKeyValueValue, protowire.BytesType)
		b, v = openLen(b)
		b = appendProtoString(b, pbAnyString, string(t.in))
		b = closeLen(b, v)
		b = closeLen(b, kv)
		t.level = nil
	}
	b = appendTag(b, pbLogSeverityText, protowire.BytesType)
	if t.level != nil {
		b, start = openLen(b)
		b = appendUnquoted(b, t.level)
		return closeLen(b, start)
	}
	return appendStr(b, r.Level.String())
}

// appendProtoString writes a string field; each byte of invalid UTF-8,
// which protobuf strings may not hold, becomes U+FFFD, as in the JSON
// encoding.
func appendProtoString(b []byte, field protowire.Number, s string) []byte {
	b = appendTag(b, field, protowire.BytesType)
	if utf8.ValidString(s) {
		return appendStr(b, s)
	}
	b, start := openLen(b)
	for _, r := range s { // ranging yields U+FFFD for each invalid byte
		b = utf8.AppendRune(b, r)
	}
	return closeLen(b, start)
}

// appendProtoKeyValue writes a resource attribute's KeyValue fields.
func appendProtoKeyValue(b []byte, a slog.Attr, depth int) []byte {
	b = appendProtoString(b, pbKeyValueKey, a.Key)
	b = appendTag(b, pbKeyValueValue, protowire.BytesType)
	b, start := openLen(b)
	b = appendProtoSlogValue(b, a.Value, depth)
	return closeLen(b, start)
}

// appendProtoSlogValue writes v's AnyValue fields, with the types
// appendSlogValue gives it in JSON.
func appendProtoSlogValue(b []byte, v slog.Value, depth int) []byte {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return appendProtoString(b, pbAnyString, v.String())
	case slog.KindInt64:
		return appendProtoInt(b, v.Int64())
	case slog.KindUint64:
		if u := v.Uint64(); u <= math.MaxInt64 {
			return appendProtoInt(b, int64(u))
		}
		return appendProtoDouble(b, float64(v.Uint64()))
	case slog.KindFloat64:
		return appendProtoDouble(b, v.Float64())
	case slog.KindBool:
		b = appendTag(b, pbAnyBool, protowire.VarintType)
		return appendVarint(b, protowire.EncodeBool(v.Bool()))
	case slog.KindDuration:
		return appendProtoInt(b, int64(v.Duration()))
	case slog.KindTime:
		return appendProtoString(b, pbAnyString, v.Time().Format(time.RFC3339Nano))
	case slog.KindGroup:
		if depth >= maxDepth {
			return b
		}
		var list, kv int
		b = appendTag(b, pbAnyKvlist, protowire.BytesType)
		b, list = openLen(b)
		for _, a := range v.Group() {
			b = appendTag(b, pbListValues, protowire.BytesType)
			b, kv = openLen(b)
			b = appendProtoKeyValue(b, a, depth+1)
			b = closeLen(b, kv)
		}
		return closeLen(b, list)
	}
	return appendProtoString(b, pbAnyString, v.String())
}

func appendProtoInt(b []byte, i int64) []byte {
	b = appendTag(b, pbAnyInt, protowire.VarintType)
	return appendVarint(b, uint64(i))
}

func appendProtoDouble(b []byte, f float64) []byte {
	b = appendTag(b, pbAnyDouble, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(f))
}

package httpsink

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

var errSyntax = errors.New("httpsink: record is not a JSON object")

// transcoder rewrites one record's JSON object as OTLP KeyValues, in one
// pass. Strings are copied as they are (JSON to JSON); numbers keep their
// type: integers that fit int64 become intValue (a JSON string, as the
// OTLP JSON mapping has it), others doubleValue.
type transcoder struct {
	lexer
	keyFilter
	out []byte
}

// lexer scans one record's JSON; both OTLP encodings read records with it.
type lexer struct {
	in      []byte
	i       int
	escaped bool // the last string str returned has an escape
}

// keyFilter recognises the top-level members that OTLP carries in fields
// of its own: the front end's time, level and message.
type keyFilter struct {
	levelKey []byte
	omit     [][]byte
	omitted  uint64 // bit i: omit[i] seen; bit 63: level key seen
	level    []byte // the level key's raw JSON string, for severityText
}

func (t *lexer) ws() {
	for t.i < len(t.in) {
		switch t.in[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// object transcodes the top-level object's members as KeyValues.
func (t *transcoder) object() error {
	t.ws()
	if t.i >= len(t.in) || t.in[t.i] != '{' {
		return errSyntax
	}
	t.i++
	first := true
	for {
		t.ws()
		if t.i < len(t.in) && t.in[t.i] == '}' && first {
			t.i++
			break
		}
		key, err := t.str()
		if err != nil {
			return err
		}
		t.ws()
		if t.i >= len(t.in) || t.in[t.i] != ':' {
			return errSyntax
		}
		t.i++
		t.ws()
		mark := len(t.out)
		sep := len(t.out) > 0 && t.out[len(t.out)-1] == '}'
		if sep {
			t.out = append(t.out, ',')
		}
		t.out = append(t.out, `{"key":`...)
		t.out = append(t.out, key...)
		t.out = append(t.out, `,"value":`...)
		vstart := t.i
		if err := t.value(0); err != nil {
			return err
		}
		t.out = append(t.out, '}')
		if t.skip(key[1:len(key)-1], t.in[vstart:t.i]) {
			t.out = t.out[:mark]
		}
		t.ws()
		if t.i >= len(t.in) {
			return errSyntax
		}
		c := t.in[t.i]
		t.i++
		if c == '}' {
			break
		}
		if c != ',' {
			return errSyntax
		}
		first = false
	}
	t.ws()
	if t.i != len(t.in) {
		return errSyntax
	}
	return nil
}

// skips reports whether skip would drop a member with this key, without
// recording it.
func (t *keyFilter) skips(key []byte) bool {
	if t.omitted&(1<<63) == 0 && bytes.Equal(key, t.levelKey) {
		return true
	}
	for i, k := range t.omit {
		if i < 63 && t.omitted&(1<<i) == 0 && bytes.Equal(key, k) {
			return true
		}
	}
	return false
}

// skip reports whether a top-level member is the front end's own time,
// level or message (its first occurrence only), and keeps the level.
func (t *keyFilter) skip(key, raw []byte) bool {
	if t.omitted&(1<<63) == 0 && bytes.Equal(key, t.levelKey) {
		t.omitted |= 1 << 63
		if len(raw) > 0 && raw[0] == '"' {
			t.level = raw
		}
		return true
	}
	for i, k := range t.omit {
		if i < 63 && t.omitted&(1<<i) == 0 && bytes.Equal(key, k) {
			t.omitted |= 1 << i
			return true
		}
	}
	return false
}

// str scans a JSON string at t.i and returns it raw, quotes included.
func (t *lexer) str() ([]byte, error) {
	if t.i >= len(t.in) || t.in[t.i] != '"' {
		return nil, errSyntax
	}
	start := t.i
	t.i++
	ascii := true
	t.escaped = false
	for t.i < len(t.in) {
		c := t.in[t.i]
		switch {
		case c == '"':
			t.i++
			s := t.in[start:t.i]
			if !ascii && !utf8.Valid(s) {
				return nil, errSyntax
			}
			return s, nil
		case c == '\\':
			t.escaped = true
			if t.i+1 >= len(t.in) {
				return nil, errSyntax
			}
			switch t.in[t.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				t.i += 2
			case 'u':
				if t.i+6 > len(t.in) {
					return nil, errSyntax
				}
				for _, h := range t.in[t.i+2 : t.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, errSyntax
					}
				}
				t.i += 6
			default:
				return nil, errSyntax
			}
		case c < 0x20:
			return nil, errSyntax
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			t.i++
		}
	}
	return nil, errSyntax
}

// value transcodes the JSON value at t.i as an OTLP AnyValue.
func (t *transcoder) value(depth int) error {
	if t.i >= len(t.in) || depth > maxDepth {
		return errSyntax
	}
	switch c := t.in[t.i]; {
	case c == '"':
		s, err := t.str()
		if err != nil {
			return err
		}
		t.out = append(t.out, `{"stringValue":`...)
		t.out = append(t.out, s...)
		t.out = append(t.out, '}')
	case c == '{':
		return t.kvlist(depth)
	case c == '[':
		return t.array(depth)
	case c == 't':
		return t.literal("true", `{"boolValue":true}`)
	case c == 'f':
		return t.literal("false", `{"boolValue":false}`)
	case c == 'n':
		return t.literal("null", `{}`)
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number()
	default:
		return errSyntax
	}
	return nil
}

func (t *transcoder) literal(word, out string) error {
	if !bytes.HasPrefix(t.in[t.i:], []byte(word)) {
		return errSyntax
	}
	t.i += len(word)
	t.out = append(t.out, out...)
	return nil
}

// number writes an intValue if the literal is an integer that fits int64,
// else a doubleValue.
func (t *transcoder) number() error {
	lit, integer := t.numberLit()
	if integer && fitsInt64(lit) {
		t.out = append(t.out, `{"intValue":"`...)
		t.out = append(t.out, lit...)
		t.out = append(t.out, `"}`...)
		return nil
	}
	exp, ok := validNumber(lit)
	if !ok {
		return errSyntax
	}
	// Only an exponent or a very long literal can leave double's range.
	if exp || len(lit) > 300 {
		if f, err := strconv.ParseFloat(string(lit), 64); err != nil || math.IsInf(f, 0) {
			// Out of double's range: keep the digits as text.
			t.out = append(t.out, `{"stringValue":"`...)
			t.out = append(t.out, lit...)
			t.out = append(t.out, `"}`...)
			return nil
		}
	}
	t.out = append(t.out, `{"doubleValue":`...)
	t.out = append(t.out, lit...)
	t.out = append(t.out, '}')
	return nil
}

// numberLit scans the characters a JSON number may hold, and reports
// whether they had no fraction or exponent. Its caller checks the grammar.
func (t *lexer) numberLit() (lit []byte, integer bool) {
	start := t.i
	integer = true
	for t.i < len(t.in) {
		c := t.in[t.i]
		if c >= '0' && c <= '9' || c == '-' {
			t.i++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' {
			integer = false
			t.i++
			continue
		}
		break
	}
	return t.in[start:t.i], integer
}

// validNumber reports whether lit follows JSON's number grammar, and
// whether it has an exponent.
func validNumber(lit []byte) (exp, ok bool) {
	i := 0
	digits := func() int {
		start := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	switch n := digits(); {
	case n == 0, n > 1 && lit[i-n] == '0':
		return false, false
	}
	if i < len(lit) && lit[i] == '.' {
		i++
		if digits() == 0 {
			return false, false
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		exp = true
		i++
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false, false
		}
	}
	return exp, i == len(lit)
}

// fitsInt64 reports whether lit, a run of digits with an optional leading
// minus, is a valid JSON integer within int64.
func fitsInt64(lit []byte) bool {
	neg := len(lit) > 0 && lit[0] == '-'
	d := lit
	if neg {
		d = d[1:]
	}
	if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	const maxInt, minInt = "9223372036854775807", "9223372036854775808"
	limit := maxInt
	if neg {
		limit = minInt
	}
	if len(d) != len(limit) {
		return len(d) < len(limit)
	}
	return string(d) <= limit
}

func (t *transcoder) kvlist(depth int) error {
	t.i++ // '{'
	t.out = append(t.out, `{"kvlistValue":{"values":[`...)
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == '}' {
		t.i++
		t.out = append(t.out, "]}}"...)
		return nil
	}
	for n := 0; ; n++ {
		t.ws()
		key, err := t.str()
		if err != nil {
			return err
		}
		t.ws()
		if t.i >= len(t.in) || t.in[t.i] != ':' {
			return errSyntax
		}
		t.i++
		t.ws()
		if n > 0 {
			t.out = append(t.out, ',')
		}
		t.out = append(t.out, `{"key":`...)
		t.out = append(t.out, key...)
		t.out = append(t.out, `,"value":`...)
		if err := t.value(depth + 1); err != nil {
			return err
		}
		t.out = append(t.out, '}')
		t.ws()
		if t.i >= len(t.in) {
			return errSyntax
		}
		c := t.in[t.i]
		t.i++
		if c == '}' {
			t.out = append(t.out, "]}}"...)
			return nil
		}
		if c != ',' {
			return errSyntax
		}
	}
}

func (t *transcoder) array(depth int) error {
	t.i++ // '['
	t.out = append(t.out, `{"arrayValue":{"values":[`...)
	t.ws()
	if t.i < len(t.in) && t.in[t.i] == ']' {
		t.i++
		t.out = append(t.out, "]}}"...)
		return nil
	}
	for n := 0; ; n++ {
		t.ws()
		if n > 0 {
			t.out = append(t.out, ',')
		}
		if err := t.value(depth + 1); err != nil {
			return err
		}
		t.ws()
		if t.i >= len(t.in) {
			return errSyntax
		}
		c := t.in[t.i]
		t.i++
		if c == ']' {
			t.out = append(t.out, "]}}"...)
			return nil
		}
		if c != ',' {
			return errSyntax
		}
	}
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

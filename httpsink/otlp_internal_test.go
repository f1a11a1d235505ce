package httpsink

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/asynclog/asynclog"
)

func TestTranscodeAttributes(t *testing.T) {
	e := newOTLPEncoder(Options{ServiceName: "s"}, noEnv)
	for _, tc := range []struct {
		name, in string
		attrs    string // the attributes array's contents
		level    string // severityText
	}{
		{"zap production", `{"level":"info","ts":1700000000.5,"logger":"app","caller":"main.go:12","msg":"hi","stacktrace":"goroutine 1"}`,
			`{"key":"logger","value":{"stringValue":"app"}},{"key":"caller","value":{"stringValue":"main.go:12"}},{"key":"stacktrace","value":{"stringValue":"goroutine 1"}}`, `"info"`},
		{"slog", `{"time":"2026-01-02T03:04:05Z","level":"ERROR+2","source":{"file":"a.go","line":3},"msg":"m","k":"v"}`,
			`{"key":"source","value":{"kvlistValue":{"values":[{"key":"file","value":{"stringValue":"a.go"}},{"key":"line","value":{"intValue":"3"}}]}}},{"key":"k","value":{"stringValue":"v"}}`, `"ERROR+2"`},
		{"integers", `{"a":0,"b":-12,"c":9223372036854775807,"d":-9223372036854775808}`,
			`{"key":"a","value":{"intValue":"0"}},{"key":"b","value":{"intValue":"-12"}},{"key":"c","value":{"intValue":"9223372036854775807"}},{"key":"d","value":{"intValue":"-9223372036854775808"}}`, `"INFO"`},
		{"beyond int64 is a double", `{"u":18446744073709551615,"n":-9223372036854775809}`,
			`{"key":"u","value":{"doubleValue":18446744073709551615}},{"key":"n","value":{"doubleValue":-9223372036854775809}}`, `"INFO"`},
		{"doubles", `{"f":1.5,"g":-2e-3,"h":1E+300}`,
			`{"key":"f","value":{"doubleValue":1.5}},{"key":"g","value":{"doubleValue":-2e-3}},{"key":"h","value":{"doubleValue":1E+300}}`, `"INFO"`},
		{"out of double range kept as text", `{"x":1e400}`, `{"key":"x","value":{"stringValue":"1e400"}}`, `"INFO"`},
		{"bool null", `{"t":true,"f":false,"n":null}`,
			`{"key":"t","value":{"boolValue":true}},{"key":"f","value":{"boolValue":false}},{"key":"n","value":{}}`, `"INFO"`},
		{"arrays and objects", `{"a":[1,"x",[true],{}],"o":{"p":{"q":[]}},"e":[]}`,
			`{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"x"},{"arrayValue":{"values":[{"boolValue":true}]}},{"kvlistValue":{"values":[]}}]}}},` +
				`{"key":"o","value":{"kvlistValue":{"values":[{"key":"p","value":{"kvlistValue":{"values":[{"key":"q","value":{"arrayValue":{"values":[]}}}]}}}]}}},` +
				`{"key":"e","value":{"arrayValue":{"values":[]}}}`, `"INFO"`},
		{"escapes copied as they are", `{"s":"a\"b\\c\u00e9\n","ü":"ö"}`,
			`{"key":"s","value":{"stringValue":"a\"b\\c\u00e9\n"}},{"key":"ü","value":{"stringValue":"ö"}}`, `"INFO"`},
		{"whitespace", " { \"a\" : 1 , \"b\" : [ 1 , 2 ] } \n",
			`{"key":"a","value":{"intValue":"1"}},{"key":"b","value":{"arrayValue":{"values":[{"intValue":"1"},{"intValue":"2"}]}}}`, `"INFO"`},
		{"only the first time, level and msg are the front end's", `{"msg":"m","level":"warn","msg":"user","level":"user","ts":1,"ts":2}`,
			`{"key":"msg","value":{"stringValue":"user"}},{"key":"level","value":{"stringValue":"user"}},{"key":"ts","value":{"intValue":"2"}}`, `"warn"`},
		{"keys omitted only at the top level", `{"g":{"msg":"inner","level":"x"}}`,
			`{"key":"g","value":{"kvlistValue":{"values":[{"key":"msg","value":{"stringValue":"inner"}},{"key":"level","value":{"stringValue":"x"}}]}}}`, `"INFO"`},
		{"numeric level falls back to the record's", `{"level":3}`, ``, `"INFO"`},
		{"empty", `{}`, ``, `"INFO"`},
		{"empty encoding", ``, ``, `"INFO"`},
		{"console encoder", "2026-01-01T00:00:00Z\tINFO\thello\t{\"k\":1}",
			`{"key":"log.record.original","value":{"stringValue":"2026-01-01T00:00:00Z\tINFO\thello\t{\"k\":1}"}}`, `"INFO"`},
		{"truncated", `{"a":1`, `{"key":"log.record.original","value":{"stringValue":"{\"a\":1"}}`, `"INFO"`},
		{"trailing garbage", `{"a":1}x`, `{"key":"log.record.original","value":{"stringValue":"{\"a\":1}x"}}`, `"INFO"`},
		{"bad escape", `{"a":"\x"}`, `{"key":"log.record.original","value":{"stringValue":"{\"a\":\"\\x\"}"}}`, `"INFO"`},
		{"bad number", `{"a":01}`, `{"key":"log.record.original","value":{"stringValue":"{\"a\":01}"}}`, `"INFO"`},
		{"bad literal", `{"a":tru}`, `{"key":"log.record.original","value":{"stringValue":"{\"a\":tru}"}}`, `"INFO"`},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", `{"key":"log.record.original","value":{"stringValue":"{\"a\":\"\ufffd\"}"}}`, `"INFO"`},
		{"too deep", strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := asynclog.Record{Level: slog.LevelInfo, Message: "m", Encoded: []byte(tc.in)}
			out := e.appendLogRecord(nil, &r)
			require.True(t, json.Valid(out), "the LogRecord is valid JSON: %s", out)
			if tc.level == "" {
				assert.Contains(t, string(out), `"log.record.original"`, "too deep: kept whole")
				return
			}
			want := `{"severityNumber":9,"body":{"stringValue":"m"},"attributes":[` + tc.attrs + `],"severityText":` + tc.level + `}`
			assert.Equal(t, want, string(out), "LogRecord")
		})
	}
}

func TestOmitKeysOption(t *testing.T) {
	e := newOTLPEncoder(Options{LevelKey: "L", OmitKeys: []string{"T", "M"}}, noEnv)
	r := asynclog.Record{Level: slog.LevelWarn, Message: "m", Encoded: []byte(`{"L":"WARN","T":"x","M":"m","level":"kept","msg":"kept"}`)}
	out := string(e.appendLogRecord(nil, &r))
	assert.Equal(t, `{"severityNumber":13,"body":{"stringValue":"m"},"attributes":[{"key":"level","value":{"stringValue":"kept"}},{"key":"msg","value":{"stringValue":"kept"}}],"severityText":"WARN"}`,
		out, "the configured keys are omitted, the defaults kept")
}

func TestSeverityNumber(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level slog.Level
		want  int
	}{
		{"far below debug", -20, 1},
		{"trace-ish", -8, 1},
		{"debug-3", -7, 2},
		{"debug", slog.LevelDebug, 5},
		{"info", slog.LevelInfo, 9},
		{"info+2", 2, 11},
		{"warn", slog.LevelWarn, 13},
		{"error", slog.LevelError, 17},
		{"error+3", 11, 20},
		{"zap dpanic", 12, 21},
		{"zap panic", 16, 22},
		{"zap fatal", 20, 23},
		{"beyond", 40, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, severityNumber(tc.level), "severityNumber(%d)", tc.level)
		})
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, v string
		want    time.Duration
		ok      bool
	}{
		{"absent", "", 0, false},
		{"seconds", "3", 3 * time.Second, true},
		{"zero", "0", 0, true},
		{"negative", "-1", 0, false},
		{"huge", "99999999999999999", time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second)), true},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"garbage", "soon", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := retryAfter(tc.v, now)
			assert.Equal(t, tc.ok, ok, "understood")
			assert.Equal(t, tc.want, d, "delay")
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestResourceAttributes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		env  map[string]string
		want map[string]string
	}{
		{"options win", Options{ServiceName: "opt"}, map[string]string{"OTEL_SERVICE_NAME": "env"}, map[string]string{"service.name": "opt"}},
		{"OTEL_SERVICE_NAME", Options{}, map[string]string{"OTEL_SERVICE_NAME": "env", "OTEL_RESOURCE_ATTRIBUTES": "service.name=ra"}, map[string]string{"service.name": "env"}},
		{"OTEL_RESOURCE_ATTRIBUTES", Options{}, map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=ra, team=a%20b ,bad,=x"},
			map[string]string{"service.name": "ra", "team": "a b"}},
		{"Resource over environment", Options{Resource: []slog.Attr{slog.String("team", "opt"), slog.String("service.name", "res")}},
			map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=env"}, map[string]string{"service.name": "res", "team": "opt"}},
		{"unknown service", Options{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := resourceAttrs(tc.opts, envOf(tc.env))
			got := map[string]string{}
			for _, a := range attrs {
				got[a.Key] = a.Value.String()
			}
			if tc.want == nil {
				assert.True(t, strings.HasPrefix(got["service.name"], "unknown_service:"), "unknown_service: and the executable, got %q", got["service.name"])
				assert.Greater(t, len(got["service.name"]), len("unknown_service:"), "the executable's name follows")
				return
			}
			assert.Equal(t, tc.want, got, "resource attributes")
		})
	}
}

func TestResourceValueTypes(t *testing.T) {
	b := appendResource(nil, []slog.Attr{
		slog.Int("i", -1), slog.Uint64("u", math.MaxUint64), slog.Float64("f", 0.5), slog.Float64("nan", math.NaN()),
		slog.Bool("b", true), slog.Duration("d", time.Second), slog.Time("t", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		slog.Group("g", slog.String("s", "x")), slog.Any("a", []int{1}),
	})
	require.True(t, json.Valid(append(append([]byte{'['}, b...), ']')), "valid JSON")
	assert.Equal(t, `{"key":"i","value":{"intValue":"-1"}},{"key":"u","value":{"doubleValue":1.8446744073709552e+19}},`+
		`{"key":"f","value":{"doubleValue":0.5}},{"key":"nan","value":{"doubleValue":"NaN"}},{"key":"b","value":{"boolValue":true}},`+
		`{"key":"d","value":{"intValue":"1000000000"}},{"key":"t","value":{"stringValue":"2026-01-02T03:04:05Z"}},`+
		`{"key":"g","value":{"kvlistValue":{"values":[{"key":"s","value":{"stringValue":"x"}}]}}},{"key":"a","value":{"stringValue":"[1]"}}`,
		string(b), "typed resource values")
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	recs := []asynclog.Record{
		{Time: time.Unix(1, 0), Message: "m", Encoded: []byte(`{"level":"info","ts":1.5,"msg":"m","n":1,"f":2.5,"e":1e3,"o":{"a":[true,null,"s"]}}`)},
		{Time: time.Unix(2, 0), Message: "m", Encoded: []byte(`{"time":"x","level":"INFO","msg":"m"}`)},
	}
	for _, f := range []Format{NDJSON, JSONArray, OTLP, OTLPProtobuf, ElasticBulk} {
		t.Run(f.String(), func(t *testing.T) {
			s, err := New("http://127.0.0.1:1/", Options{Format: f, ServiceName: "s"})
			require.NoError(t, err, "New")
			s.encode(recs) // grow the buffers
			allocs := testing.AllocsPerRun(100, func() { s.encode(recs) })
			assert.Zero(t, allocs, "encoding a batch reuses the sink's buffers")
		})
	}
}

func FuzzTranscode(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"level":"info","msg":"x","o":{"p":[1,2.5,-3e2,true,null]}}`, `{"a":"\u00e9\n"}`, `[1]`, `{"a":01}`, "{\"a\":\"\xff\"}"} {
		f.Add(s)
	}
	e := newOTLPEncoder(Options{ServiceName: "s"}, noEnv)
	pe := newProtoEncoder(Options{ServiceName: "s"}, noEnv)
	f.Fuzz(func(t *testing.T, in string) {
		r := asynclog.Record{Message: "m", Encoded: []byte(in)}
		out := e.appendLogRecord(nil, &r)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", in, out)
		}
		pb := pe.appendLogRecord(nil, &r)
		if !validWire(pb) {
			t.Fatalf("invalid protobuf for %q: %x", in, pb)
		}
		if fellBack, pbFellBack := bytes.Contains(out, []byte(`"log.record.original"`)), bytes.Contains(pb, []byte("log.record.original")); fellBack != pbFellBack && !strings.Contains(in, "log.record.original") {
			t.Fatalf("JSON and protobuf disagree on falling back for %q", in)
		}
		var obj map[string]any
		isObject := json.Unmarshal([]byte(in), &obj) == nil && obj != nil && strings.Count(in, "{")+strings.Count(in, "[") < maxDepth
		if isObject && utf8Valid(in) && strings.Contains(string(out), `"log.record.original"`) && !strings.Contains(in, `log.record.original`) {
			t.Fatalf("a valid JSON object fell back to log.record.original: %q", in)
		}
	})
}

// validWire reports whether b is a run of well-formed protobuf fields.
func validWire(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func TestQuoteBody(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain JSON keeps its quotes", `{"error":"bad"}`, `{"error":"bad"}`},
		{"line breaks become spaces", "a\r\nb\tc\n", "a  b c"},
		{"control characters dropped", "a\x00\x1b[31mb", "a[31mb"},
		{"invalid UTF-8 replaced", "a\xffb", "a\ufffdb"},
		{"cut at the limit", strings.Repeat("x", errBodyBytes+10), strings.Repeat("x", errBodyBytes) + "..."},
		{"a rune cut in half is replaced", strings.Repeat("x", errBodyBytes-1) + "é", strings.Repeat("x", errBodyBytes-1) + "\ufffd..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, quoteBody([]byte(tc.in)), "quoteBody")
		})
	}
}

// TestShortDecimal: the fast path gives ParseFloat's value, bit for bit,
// and leaves what it does not handle to it.
func TestShortDecimal(t *testing.T) {
	for _, lit := range []string{"0.5", "-0.25", "1796163011.0594788", "140.42857142857142", "0.1", "-0.0", "123456789.012345",
		"9.99999999999999", "0.00000000000001", "3.14159265358979", "0.0000000000000000000001", "99999999999999999.9"} {
		f, ok := shortDecimal([]byte(lit))
		require.True(t, ok, "%s takes the fast path", lit)
		want, err := strconv.ParseFloat(lit, 64)
		require.NoError(t, err, "ParseFloat(%s)", lit)
		assert.Equal(t, math.Float64bits(want), math.Float64bits(f), "%s: the same bits as ParseFloat", lit)
	}
	for _, lit := range []string{"1", "1.", ".5", "01.5", "00.5", "1e5", "1.5e3", "-", "-.5", "1.2.3", "1234567890.123456789", "999999999999999999.9", "4503599627370496.5", "0.00000000000000000000001", "1-2.5", "+1.5"} {
		_, ok := shortDecimal([]byte(lit))
		assert.False(t, ok, "%s is left to the general path", lit)
	}
	r := rand.New(rand.NewPCG(3, 4))
	fast := 0
	for i := range 1_000_000 {
		v := r.NormFloat64() * math.Pow(10, float64(r.IntN(30)-12))
		var lit string
		switch i % 3 {
		case 0:
			lit = strconv.FormatFloat(v, 'f', -1, 64) // shortest, as zap and slog write
		case 1:
			lit = strconv.FormatFloat(v, 'f', r.IntN(22)+1, 64)
		default:
			// A midpoint between two float64s, or next to one.
			u := math.Float64bits(math.Abs(v)) &^ 1
			mid := (math.Float64frombits(u) + math.Float64frombits(u+1)) / 2
			lit = strconv.FormatFloat(mid, 'f', r.IntN(22)+1, 64)
		}
		if f, ok := shortDecimal([]byte(lit)); ok {
			fast++
			want, err := strconv.ParseFloat(lit, 64)
			require.NoError(t, err, "ParseFloat(%s)", lit)
			require.Equal(t, math.Float64bits(want), math.Float64bits(f), "%s: the same bits as ParseFloat", lit)
		}
	}
	assert.Greater(t, fast, 300_000, "most decimals take the fast path")
}

func TestParseInt64AgreesWithFitsInt64(t *testing.T) {
	for _, lit := range []string{"0", "-0", "1", "-1", "01", "-01", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "99999999999999999999", "12a", "-", ""} {
		i, ok := parseInt64([]byte(lit))
		assert.Equal(t, fitsInt64([]byte(lit)), ok, "%q: parseInt64 takes what fitsInt64 takes", lit)
		if want, err := strconv.ParseInt(lit, 10, 64); ok && err == nil {
			assert.Equal(t, want, i, "%q: the value", lit)
		}
	}
}

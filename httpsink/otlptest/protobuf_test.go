package otlptest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// bodyServer is a loopback endpoint that keeps every request body it
// gets, gunzipped, with its Content-Type, and answers with answer (nil: an
// empty 200).
type bodyServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	types  []string
}

func newBodyServer(t *testing.T, answer func(w http.ResponseWriter)) *bodyServer {
	t.Helper()
	s := &bodyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.types = append(s.types, r.Header.Get("Content-Type"))
		s.mu.Unlock()
		if answer != nil {
			answer(w)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bodyServer) all() ([][]byte, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...), append([]string(nil), s.types...)
}

// odd are records that take every path of the transcoders: escapes,
// surrogates, invalid UTF-8, numbers at the edges of int64 and double,
// nesting, duplicates, values that are not objects, a level that is not a
// string, and a message that is not valid UTF-8.
var odd = []string{
	`{}`,
	`{"a":1}`,
	`{"level":"info","msg":"x","o":{"p":[1,2.5,-3e2,true,null,false,"s",{},[]]}}`,
	`{"a":"\u00e9\n\t\"\\\/\b\f\r"}`,
	`{"emoji":"\ud83d\ude00","lone":"\ud800x","pair-lone":"\udc00\ud800","bad-second":"\ud800\u0041"}`,
	`{"k\u00e9y":"v","k\"q":1}`,
	`{"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,"under":-9223372036854775809}`,
	`{"zero":0,"negzero":-0,"f":-0.0,"e":1E+2,"tiny":5e-324,"huge":1e400,"neghuge":-1e400,"long":` + strings.Repeat("1", 320) + `}`,
	`{"level":"ERROR","level":"second","time":"t","time":"kept","msg":"m","msg":"kept too"}`,
	`{"level":7,"n":1}`,
	`{"level":"w\u00e4rn\n"}`,
	`[1,2]`,
	`"just a string"`,
	`not json at all`,
	"{\"a\":\"\xff\"}",
	`{"a":01}`,
	`{"a":1,}`,
	`{"a":1} trailing`,
	`  {"spaced" : [ 1 , { "b" : null } ] }  ` + "\r\n",
	`{"deep":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`,
	`{"deep":` + strings.Repeat(`{"a":`, 60) + `1` + strings.Repeat(`}`, 60) + `}`,
	`{"big":"` + strings.Repeat("x", 300) + `","nested":{"big":"` + strings.Repeat("é", 200) + `"}}`,
	``,
}

// randomJSON writes a random JSON value, depth levels deep at most.
func randomJSON(r *rand.Rand, b *strings.Builder, depth int) {
	switch k := r.IntN(10); {
	case depth > 0 && k == 0:
		b.WriteByte('{')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			randomString(r, b)
			b.WriteByte(':')
			randomJSON(r, b, depth-1)
		}
		b.WriteByte('}')
	case depth > 0 && k == 1:
		b.WriteByte('[')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			randomJSON(r, b, depth-1)
		}
		b.WriteByte(']')
	case k == 2:
		b.WriteString(strconv.FormatInt(r.Int64()-r.Int64(), 10))
	case k == 3:
		b.WriteString(strconv.FormatFloat(r.NormFloat64()*1e6, 'g', -1, 64))
	case k == 4:
		b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
	case k == 5:
		b.WriteString(strconv.Itoa(r.IntN(100)))
	default:
		randomString(r, b)
	}
}

// randomString writes a JSON string of random runes and escapes.
func randomString(r *rand.Rand, b *strings.Builder) {
	// No lone surrogates: before another \u escape the collector's JSON
	// decoder reads one otherwise than encoding/json, which protobuf
	// follows (odd has the cases both read alike).
	parts := []string{"a", "level", "msg", "é", "世", "😀", `\n`, `\"`, `\\`, `\u0000`, `\u00e9`, `\ud83d\ude00`, " ", "x.y", "\xff"}
	b.WriteByte('"')
	for range r.IntN(8) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	b.WriteByte('"')
}

// TestProtobufDecodesAsJSONDoes: the collector's own decoders
// (plogotlp's UnmarshalProto and UnmarshalJSON) read the same logs from
// httpsink's OTLPProtobuf body as from its OTLP JSON body, for records of
// every shape and for random ones, split or not, gzipped or not.
func TestProtobufDecodesAsJSONDoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []asynclog.Record
	at := time.Date(2026, 12, 3, 9, 0, 0, 7, time.UTC)
	for i, e := range odd {
		recs = append(recs, asynclog.Record{Time: at.Add(time.Duration(i)), Level: slog.Level(i - 8), Message: "odd " + strconv.Itoa(i), Encoded: []byte(e)})
	}
	recs = append(recs, asynclog.Record{Message: "no time, bad UTF-8 \xff\xfe in the message", Encoded: []byte(`{"a":1}`)})
	for i := range 500 {
		var b strings.Builder
		b.WriteString(`{"level":"info","msg":"m"`)
		for range rng.IntN(6) {
			b.WriteByte(',')
			randomString(rng, &b)
			b.WriteByte(':')
			randomJSON(rng, &b, 4)
		}
		b.WriteByte('}')
		recs = append(recs, asynclog.Record{Time: at.Add(time.Duration(i) * time.Millisecond), Level: slog.Level(rng.IntN(30) - 5), Message: "random " + strconv.Itoa(i), Encoded: []byte(b.String())})
	}
	for _, tc := range []struct {
		name    string
		maxBody int
		gzip    bool
	}{
		{"one request", 0, false},
		{"one request, gzip", 0, true},
		{"split", 4096, false},
		{"a request per record", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			decoded := map[httpsink.Format][]map[string]any{}
			for _, format := range otlpFormats {
				srv := newBodyServer(t, nil)
				sink, err := httpsink.New(srv.URL+"/v1/logs", httpsink.Options{
					Format: format, MaxBodyBytes: tc.maxBody, Gzip: tc.gzip, ServiceName: "svc",
					Resource: []slog.Attr{slog.Int("n", -3), slog.Uint64("u", 1<<63), slog.Bool("b", false), slog.Float64("f", 0.5),
						slog.Duration("d", time.Second), slog.Time("t", at), slog.Group("g", slog.String("s", "x\xff"), slog.Group("h", slog.Int("i", 1))), slog.Any("a", []int{1})},
				})
				require.NoError(t, err, "httpsink.New")
				t.Cleanup(func() { _ = sink.Close(context.Background()) })
				require.NoError(t, sink.Write(context.Background(), recs), "Write")

				bodies, types := srv.all()
				require.NotEmpty(t, bodies, "requests arrived")
				all := plogotlp.NewExportRequest()
				for i, body := range bodies {
					req := plogotlp.NewExportRequest()
					if format == httpsink.OTLPProtobuf {
						assert.Equal(t, "application/x-protobuf", types[i], "Content-Type")
						require.NoError(t, req.UnmarshalProto(body), "the collector's UnmarshalProto decodes request %d", i)
					} else {
						require.NoError(t, req.UnmarshalJSON(body), "the collector's UnmarshalJSON decodes request %d", i)
					}
					req.Logs().ResourceLogs().MoveAndAppendTo(all.Logs().ResourceLogs())
				}
				assert.Equal(t, len(recs), all.Logs().LogRecordCount(), "%s: every record arrived", format)
				decoded[format] = views(all.Logs())
			}
			j, p := decoded[httpsink.OTLP], decoded[httpsink.OTLPProtobuf]
			require.Equal(t, len(j), len(p), "as many resources, scopes and records")
			for i := range j {
				if !assert.Equal(t, j[i], p[i], "protobuf and JSON carry the same %s", j[i]["what"]) {
					return
				}
			}
		})
	}
}

// views lists the resource, the scope and every log record of logs as
// plain values, in order, so that a difference names the record it is
// in. A resource or scope that every request repeats is listed once.
func views(logs plog.Logs) []map[string]any {
	var out []map[string]any
	seen := map[string]bool{}
	once := func(v map[string]any) {
		if k := fmt.Sprint(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	rl := logs.ResourceLogs()
	for i := 0; i < rl.Len(); i++ {
		once(map[string]any{"what": "resource", "attributes": rl.At(i).Resource().Attributes().AsRaw()})
		sl := rl.At(i).ScopeLogs()
		for j := 0; j < sl.Len(); j++ {
			once(map[string]any{"what": "scope", "name": sl.At(j).Scope().Name()})
			lr := sl.At(j).LogRecords()
			for k := 0; k < lr.Len(); k++ {
				r := lr.At(k)
				out = append(out, map[string]any{
					"what": "record " + r.Body().AsString(), "time": r.Timestamp(), "severity": r.SeverityNumber(),
					"severityText": r.SeverityText(), "body": r.Body().AsRaw(), "attributes": r.Attributes().AsRaw(),
				})
			}
		}
	}
	return out
}

// TestProtobufPartialSuccessIsCounted: a partial success that the
// collector's own code encodes in protobuf reaches the queue as a
// Partial: the rejected records count as Failed, the rest as Delivered,
// and nothing is retried.
func TestProtobufPartialSuccessIsCounted(t *testing.T) {
	resp := plogotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedLogRecords(2)
	resp.PartialSuccess().SetErrorMessage("timestamps too old")
	answer, err := resp.MarshalProto()
	require.NoError(t, err, "MarshalProto")
	srv := newBodyServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(answer)
	})
	sink, err := httpsink.New(srv.URL+"/v1/logs", httpsink.Options{Format: httpsink.OTLPProtobuf})
	require.NoError(t, err, "httpsink.New")
	var mu sync.Mutex
	var partial []*asynclog.PartialError
	q, err := asynclog.NewQueue(sink, asynclog.Options{BatchSize: 5, FlushInterval: time.Hour, OnError: func(err error) {
		var pe *asynclog.PartialError
		if errors.As(err, &pe) {
			mu.Lock()
			partial = append(partial, pe)
			mu.Unlock()
		}
	}})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for range 5 {
		l.Info("r")
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close")
	bodies, _ := srv.all()
	assert.Len(t, bodies, 1, "a partial success is not retried")
	st := q.Stats()
	assert.Equal(t, uint64(3), st.Delivered, "the accepted records count as delivered")
	assert.Equal(t, uint64(2), st.Failed, "the rejected records count as failed")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, partial, 1, "OnError got one PartialError")
	assert.Equal(t, 2, partial[0].Rejected, "the rejected count")
	assert.Contains(t, partial[0].Error(), "timestamps too old", "the collector's message")
}

// TestProtobufRequestsAreProtobuf: nothing but protobuf goes out: the
// body does not start like JSON, and decodes.
func TestProtobufRequestsAreProtobuf(t *testing.T) {
	srv := newBodyServer(t, nil)
	sink, err := httpsink.New(srv.URL, httpsink.Options{Format: httpsink.OTLPProtobuf, ServiceName: "svc"})
	require.NoError(t, err, "httpsink.New")
	require.NoError(t, sink.Write(context.Background(), []asynclog.Record{{Time: time.Unix(1, 0), Message: "m", Encoded: []byte(`{"msg":"m","k":"v"}`)}}), "Write")
	bodies, _ := srv.all()
	require.Len(t, bodies, 1, "one request")
	assert.False(t, bytes.HasPrefix(bodies[0], []byte("{")), "not JSON")
	req := plogotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(bodies[0]), "UnmarshalProto")
	lr := req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, "m", lr.Body().Str(), "body")
	assert.Equal(t, map[string]any{"k": "v"}, lr.Attributes().AsRaw(), "attributes")
}

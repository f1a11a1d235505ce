package httpsink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

const benchBatch = 256

// benchRecords encodes n typical zap records (a string, an int, a float, a
// bool and a nested object, varying from record to record, so that gzip
// meets realistic text) with zap's production JSON encoder.
func benchRecords(b *testing.B, n int) []asynclog.Record {
	b.Helper()
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	recs := make([]asynclog.Record, n)
	now := time.Now()
	for i := range recs {
		ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: now.Add(time.Duration(i) * 1317 * time.Microsecond), Message: "request served", LoggerName: "http"}
		buf, err := enc.EncodeEntry(ent, []zapcore.Field{
			zap.String("path", "/api/v1/items/"+strconv.Itoa(i*7919%10007)), zap.Int("status", 200+i%3), zap.Float64("ms", float64(i%977)/7), zap.Bool("cached", i%2 == 0),
			zap.Dict("user", zap.String("id", "u-1234"), zap.Int("tier", 2)),
		})
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = asynclog.Record{Time: now, Level: 0, Message: ent.Message, Encoded: append([]byte(nil), buf.Bytes()[:buf.Len()-1]...)}
		buf.Free()
	}
	return recs
}

var benchFormats = []Format{NDJSON, JSONArray, OTLP, OTLPProtobuf, ElasticBulk}

// reportPerRecord reports wire bytes, allocations and allocated bytes per
// record over the b.N batches just run.
func reportPerRecord(b *testing.B, before *runtime.MemStats, wire int) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	recs := float64(b.N * benchBatch)
	b.ReportMetric(float64(wire)/benchBatch, "wire-B/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/recs, "allocs/record")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/recs, "alloc-B/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/recs, "ns/record")
}

// BenchmarkEncode frames a batch of 256 records in each format: the work
// Write does before the request, with its buffers reused across batches.
func BenchmarkEncode(b *testing.B) {
	recs := benchRecords(b, benchBatch)
	for _, f := range benchFormats {
		b.Run(f.String(), func(b *testing.B) {
			s, err := New("http://127.0.0.1:1/", Options{Format: f, ServiceName: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			s.encode(recs) // grow the buffers once
			b.ReportAllocs()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ResetTimer()
			for range b.N {
				if n := s.encode(recs); n != benchBatch {
					b.Fatalf("encoded %d of %d records", n, benchBatch)
				}
			}
			b.StopTimer()
			reportPerRecord(b, &ms, len(s.payload()))
		})
	}
}

// BenchmarkWrite posts a batch of 256 records per op to a loopback server
// that discards the body: encoding, optional gzip and the HTTP exchange.
func BenchmarkWrite(b *testing.B) {
	recs := benchRecords(b, benchBatch)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	for _, f := range benchFormats {
		for _, gz := range []bool{false, true} {
			name := f.String()
			if gz {
				name += "/gzip"
			}
			b.Run(name, func(b *testing.B) {
				s, err := New(srv.URL, Options{Format: f, Gzip: gz, ServiceName: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close(context.Background()) })
				ctx := context.Background()
				if err := s.Write(ctx, recs); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ResetTimer()
				for range b.N {
					if err := s.Write(ctx, recs); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				wire := len(s.payload())
				if gz {
					wire = s.zbuf.Len()
				}
				reportPerRecord(b, &ms, wire)
			})
		}
	}
}

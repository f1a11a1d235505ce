package otlptest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startCollector starts the Collector's OTLP receiver with only its HTTP
// protocol, on a loopback port, and returns the logs endpoint and the
// consumer that collects what it accepts.
func startCollector(t *testing.T) (string, *consumertest.LogsSink) {
	t.Helper()
	logs := new(consumertest.LogsSink)
	return startReceiver(t, logs), logs
}

// startReceiver starts the OTLP receiver (HTTP only, loopback) in front of
// next and returns the logs endpoint.
func startReceiver(t *testing.T, next consumer.Logs) string {
	t.Helper()
	// The receiver takes an address, not a listener: find a free port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "reserve a loopback port")
	addr := l.Addr().String()
	require.NoError(t, l.Close(), "release the port for the receiver")

	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = addr
	// GRPC stays a default, which the receiver does not start.
	require.False(t, cfg.Protocols.GRPC.HasValue(), "gRPC must stay off")

	rcv, err := factory.CreateLogs(context.Background(), receivertest.NewNopSettings(factory.Type()), cfg, next)
	require.NoError(t, err, "create the OTLP receiver")
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()), "start the OTLP receiver")
	t.Cleanup(func() {
		assert.NoError(t, rcv.Shutdown(context.Background()), "shut the receiver down")
	})
	return "http://" + addr + "/v1/logs"
}

// attrs turns a pcommon.Map into plain Go values for comparison: int64,
// float64, bool, string, map[string]any and []any, as pdata's AsRaw does.
func attrs(m pcommon.Map) map[string]any { return m.AsRaw() }

// otlpFormats are the two OTLP encodings, each checked against the
// receiver.
var otlpFormats = []httpsink.Format{httpsink.OTLP, httpsink.OTLPProtobuf}

func TestCollectorAcceptsZapAndSlog(t *testing.T) {
	for _, format := range otlpFormats {
		for _, gz := range []bool{false, true} {
			name := format.String() + "/plain"
			if gz {
				name = format.String() + "/gzip"
			}
			t.Run(name, func(t *testing.T) { testCollectorAccepts(t, format, gz) })
		}
	}
}

func testCollectorAccepts(t *testing.T, format httpsink.Format, gz bool) {
	endpoint, logs := startCollector(t)
	sink, err := httpsink.New(endpoint, httpsink.Options{
		Format:      format,
		Gzip:        gz,
		ServiceName: "checkout",
		Resource:    []slog.Attr{slog.String("deployment.environment.name", "test"), slog.Int("host.cpus", 2)},
	})
	require.NoError(t, err, "httpsink.New")
	var errs []error
	q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(err error) { errs = append(errs, err) }})
	require.NoError(t, err, "NewQueue")

	at := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	zl := zap.New(asynclog.NewCore(enc, zapcore.DebugLevel, q), zap.WithClock(fixedClock{at}), zap.AddCaller())
	zl.Named("billing").Warn("card declined",
		zap.Int("amount", 1250),
		zap.Int64("big", 1<<62),
		zap.Float64("ratio", 0.25),
		zap.Bool("retry", true),
		zap.Strings("tags", []string{"a", "b"}),
		zap.Dict("card", zap.String("brand", "visa"), zap.Int("last4", 4242)),
		zap.String("level", "user's own level field"),
	)
	sl := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sl.Error("db down", "attempt", 3, slog.Group("db", "host", "pg1", "port", 5432), "latency", 1.5)
	sl.Debug("tick")
	require.NoError(t, q.Close(), "Close delivers everything")
	require.Empty(t, errs, "no errors reported")

	require.Equal(t, 3, logs.LogRecordCount(), "the collector took every record")
	var recs []plog.LogRecord
	for _, ld := range logs.AllLogs() {
		rl := ld.ResourceLogs()
		for i := 0; i < rl.Len(); i++ {
			res := attrs(rl.At(i).Resource().Attributes())
			assert.Equal(t, "checkout", res["service.name"], "service.name from Options")
			assert.Equal(t, "test", res["deployment.environment.name"], "resource attribute from Options")
			assert.Equal(t, int64(2), res["host.cpus"], "typed resource attribute")
			sl := rl.At(i).ScopeLogs()
			for j := 0; j < sl.Len(); j++ {
				assert.Equal(t, "github.com/asynclog/asynclog/httpsink", sl.At(j).Scope().Name(), "scope name")
				lr := sl.At(j).LogRecords()
				for k := 0; k < lr.Len(); k++ {
					recs = append(recs, lr.At(k))
				}
			}
		}
	}
	require.Len(t, recs, 3, "three log records")

	z := recs[0]
	assert.Equal(t, at, z.Timestamp().AsTime(), "zap timestamp to the nanosecond")
	assert.Equal(t, plog.SeverityNumberWarn, z.SeverityNumber(), "zap Warn is WARN")
	assert.Equal(t, "warn", z.SeverityText(), "zap's own level text")
	assert.Equal(t, "card declined", z.Body().Str(), "body is the message")
	za := attrs(z.Attributes())
	assert.Equal(t, int64(1250), za["amount"], "int stays int")
	assert.Equal(t, int64(1<<62), za["big"], "int64 keeps every digit")
	assert.Equal(t, 0.25, za["ratio"], "float stays double")
	assert.Equal(t, true, za["retry"], "bool stays bool")
	assert.Equal(t, []any{"a", "b"}, za["tags"], "array value")
	assert.Equal(t, map[string]any{"brand": "visa", "last4": int64(4242)}, za["card"], "nested object as kvlist")
	assert.Equal(t, "billing", za["logger"], "zap's logger name kept as an attribute")
	assert.Contains(t, za["caller"], "collector_test.go", "zap's caller kept as an attribute")
	assert.Equal(t, "user's own level field", za["level"], "a second level key is the user's, kept")
	assert.NotContains(t, za, "ts", "time not repeated")
	assert.NotContains(t, za, "msg", "message not repeated")

	s := recs[1]
	assert.Equal(t, plog.SeverityNumberError, s.SeverityNumber(), "slog Error is ERROR")
	assert.Equal(t, "ERROR", s.SeverityText(), "slog's own level text")
	assert.Equal(t, "db down", s.Body().Str(), "body is the message")
	assert.NotZero(t, s.Timestamp(), "slog time is set")
	assert.Equal(t, map[string]any{
		"attempt": int64(3),
		"db":      map[string]any{"host": "pg1", "port": int64(5432)},
		"latency": 1.5,
	}, attrs(s.Attributes()), "slog attributes, without time, level and msg")

	d := recs[2]
	assert.Equal(t, plog.SeverityNumberDebug, d.SeverityNumber(), "slog Debug is DEBUG")
	assert.Equal(t, "tick", d.Body().Str(), "debug body")
	assert.Equal(t, 0, d.Attributes().Len(), "no attributes")
}

func TestCollectorSplitBatches(t *testing.T) {
	for _, format := range otlpFormats {
		t.Run(format.String(), func(t *testing.T) { testCollectorSplitBatches(t, format) })
	}
}

func testCollectorSplitBatches(t *testing.T, format httpsink.Format) {
	endpoint, logs := startCollector(t)
	sink, err := httpsink.New(endpoint, httpsink.Options{Format: format, MaxBodyBytes: 2048})
	require.NoError(t, err, "httpsink.New")
	q, err := asynclog.NewQueue(sink, asynclog.Options{BatchSize: 100, FlushInterval: time.Hour})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for i := range 100 {
		l.Info("record", "i", i)
	}
	require.NoError(t, q.Close(), "Close delivers everything")
	assert.Equal(t, 100, logs.LogRecordCount(), "every record arrived")
	assert.Greater(t, len(logs.AllLogs()), 1, "the batch was split across requests")
	st := q.Stats()
	assert.Equal(t, uint64(100), st.Delivered, "all counted delivered")
}

func TestCollectorRefusals(t *testing.T) {
	for _, format := range otlpFormats {
		t.Run(format.String(), func(t *testing.T) { testCollectorRefusals(t, format) })
	}
}

func testCollectorRefusals(t *testing.T, format httpsink.Format) {
	for _, tc := range []struct {
		name      string
		err       error
		wantCalls int64 // requests the pipeline saw
		status    string
	}{
		// The receiver answers 503 for a retryable pipeline error: retried.
		{"retryable", errors.New("exporter queue full"), 3, "503 Service Unavailable"},
		// ... and 500 for a permanent one (gRPC code Internal): not retried.
		{"permanent", consumererror.NewPermanent(errors.New("bad data")), 1, "500 Internal Server Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			next, err := consumer.NewLogs(func(context.Context, plog.Logs) error {
				calls.Add(1)
				return tc.err
			})
			require.NoError(t, err, "consumer.NewLogs")
			endpoint := startReceiver(t, next)
			sink, err := httpsink.New(endpoint, httpsink.Options{Format: format, ServiceName: "svc"})
			require.NoError(t, err, "httpsink.New")
			var reported atomic.Value
			q, err := asynclog.NewQueue(sink, asynclog.Options{MaxAttempts: 3, MinBackoff: time.Millisecond, OnError: func(err error) { reported.Store(err.Error()) }})
			require.NoError(t, err, "NewQueue")
			slog.New(asynclog.NewHandler(q, nil)).Info("refused")
			ferr := q.Flush(context.Background())
			require.NoError(t, q.Close(), "Close")
			assert.Error(t, ferr, "Flush reports the lost record")
			assert.Equal(t, tc.wantCalls, calls.Load(), "requests that reached the pipeline")
			st := q.Stats()
			assert.Equal(t, uint64(1), st.Failed, "the record failed")
			assert.Equal(t, uint64(tc.wantCalls-1), st.Retries, "retries")
			msg, _ := reported.Load().(string)
			assert.Contains(t, msg, tc.status, "OnError names the receiver's status")
			if tc.wantCalls == 1 {
				// protojson varies its spacing on purpose: match the words only.
				assert.Contains(t, msg, "Permanent error: bad data", "OnError quotes the receiver's body")
			}
		})
	}
}

// fixedClock is a zapcore.Clock that always says the same time.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

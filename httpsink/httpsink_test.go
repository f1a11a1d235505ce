package httpsink_test

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 5, time.UTC)

func rec(level slog.Level, msg, encoded string) asynclog.Record {
	return asynclog.Record{Time: t0, Level: level, Message: msg, Encoded: []byte(encoded)}
}

// newSink returns a sink for url and closes it when the test ends.
func newSink(t *testing.T, url string, o httpsink.Options) *httpsink.Sink {
	t.Helper()
	s, err := httpsink.New(url, o)
	require.NoError(t, err, "httpsink.New")
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// errorLog collects what a queue passes to OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) { l.mu.Lock(); l.errs = append(l.errs, err); l.mu.Unlock() }

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func (l *errorLog) text() string {
	var b strings.Builder
	for _, e := range l.all() {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		opts      httpsink.Options
		want      string
	}{
		{"unparsable URL", "http://user:s3cret@host:badport/x", httpsink.Options{}, "parse URL"},
		{"control character", "http://user:s3cret@host/\x7f\x00", httpsink.Options{}, "parse URL"},
		{"ftp scheme", "ftp://user:s3cret@host/x", httpsink.Options{}, `scheme "ftp"`},
		{"no scheme", "localhost:4318/v1/logs", httpsink.Options{}, "scheme"},
		{"relative", "/v1/logs", httpsink.Options{}, "scheme"},
		{"no host", "http:///v1/logs", httpsink.Options{}, "no host"},
		{"negative MaxBodyBytes", "http://127.0.0.1/x", httpsink.Options{MaxBodyBytes: -1}, "MaxBodyBytes is negative"},
		{"unknown format", "http://127.0.0.1/x", httpsink.Options{Format: 7}, "not a known format"},
		{"negative ResponseBodyTimeout", "http://127.0.0.1/x", httpsink.Options{ResponseBodyTimeout: -time.Second}, "ResponseBodyTimeout is negative"},
		{"bad IdempotencyHeader", "http://127.0.0.1/x", httpsink.Options{IdempotencyHeader: "Idempotency Key"}, "IdempotencyHeader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := httpsink.New(tc.url, tc.opts)
			require.Error(t, err, "New must refuse %q", tc.url)
			assert.Nil(t, s, "no sink on error")
			assert.Contains(t, err.Error(), tc.want, "the error says what is wrong")
			assert.NotContains(t, err.Error(), "s3cret", "the error hides the URL's user info")
		})
	}
}

func TestFormatsByteForByte(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	batch := []asynclog.Record{
		rec(slog.LevelInfo, "hello", `{"level":"info","ts":1.5,"msg":"hello","n":1}`),
		rec(slog.LevelWarn, "two\nlines", `{"time":"2026-11-23T10:00:00Z","level":"WARN","msg":"two\nlines","ok":true}`+"\n"),
	}
	const otlpHead = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},` +
		`"scopeLogs":[{"scope":{"name":"github.com/asynclog/asynclog/httpsink"},"logRecords":[`
	for _, tc := range []struct {
		name        string
		format      httpsink.Format
		contentType string
		want        string
	}{
		{"NDJSON", httpsink.NDJSON, "application/x-ndjson",
			`{"level":"info","ts":1.5,"msg":"hello","n":1}` + "\n" +
				`{"time":"2026-11-23T10:00:00Z","level":"WARN","msg":"two\nlines","ok":true}` + "\n"},
		{"JSONArray", httpsink.JSONArray, "application/json",
			`[{"level":"info","ts":1.5,"msg":"hello","n":1},{"time":"2026-11-23T10:00:00Z","level":"WARN","msg":"two\nlines","ok":true}]`},
		{"OTLP", httpsink.OTLP, "application/json", otlpHead +
			`{"timeUnixNano":"1795428000000000005","severityNumber":9,"body":{"stringValue":"hello"},` +
			`"attributes":[{"key":"n","value":{"intValue":"1"}}],"severityText":"info"},` +
			`{"timeUnixNano":"1795428000000000005","severityNumber":13,"body":{"stringValue":"two\nlines"},` +
			`"attributes":[{"key":"ok","value":{"boolValue":true}}],"severityText":"WARN"}` +
			`]}]}]}`},
	} {
		for _, gz := range []bool{false, true} {
			name := tc.name
			if gz {
				name += "/gzip"
			}
			t.Run(name, func(t *testing.T) {
				srv := newServer(t, nil)
				s := newSink(t, srv.URL+"/ingest?x=1", httpsink.Options{
					Format:      tc.format,
					Gzip:        gz,
					ServiceName: "svc",
					Headers:     http.Header{"Authorization": {"Bearer tok"}, "X-Tenant": {"a", "b"}},
				})
				require.NoError(t, s.Write(context.Background(), batch), "Write")
				reqs := srv.requests()
				require.Len(t, reqs, 1, "one request for a small batch")
				r := reqs[0]
				assert.Equal(t, http.MethodPost, r.Method, "method")
				assert.Equal(t, "/ingest?x=1", r.Path, "the URL is used as given, nothing appended")
				assert.Equal(t, tc.want, string(r.Body), "body byte for byte")
				assert.Equal(t, tc.contentType, r.Header.Get("Content-Type"), "Content-Type")
				assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"), "configured header sent")
				assert.Equal(t, []string{"a", "b"}, r.Header.Values("X-Tenant"), "multi-valued header sent")
				if gz {
					assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"), "Content-Encoding")
					assert.NotEqual(t, r.Raw, r.Body, "the wire bytes are compressed")
				} else {
					assert.Empty(t, r.Header.Get("Content-Encoding"), "no Content-Encoding")
				}
			})
		}
	}
}

func TestHeadersDoNotOverrideContentType(t *testing.T) {
	srv := newServer(t, nil)
	s := newSink(t, srv.URL, httpsink.Options{Headers: http.Header{"Content-Type": {"text/plain"}}})
	require.NoError(t, s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)}), "Write")
	assert.Equal(t, "application/x-ndjson", srv.requests()[0].Header.Get("Content-Type"), "the format decides Content-Type")
}

func TestSplitting(t *testing.T) {
	line := `{"msg":"0123456789"}` // 20 bytes, 21 with its newline
	batch := make([]asynclog.Record, 10)
	for i := range batch {
		batch[i] = rec(0, "0123456789", line)
	}
	big := rec(0, "big", `{"msg":"big","pad":"`+strings.Repeat("x", 200)+`"}`)
	for _, tc := range []struct {
		name     string
		format   httpsink.Format
		max      int
		batch    []asynclog.Record
		wantReqs []int // records per request
	}{
		{"NDJSON exact fit", httpsink.NDJSON, 63, batch, []int{3, 3, 3, 1}},
		{"NDJSON one byte short", httpsink.NDJSON, 62, batch, []int{2, 2, 2, 2, 2}},
		{"JSONArray", httpsink.JSONArray, 2 + 3*20 + 2, batch, []int{3, 3, 3, 1}},
		{"OTLP", httpsink.OTLP, 1000, batch, nil},
		{"oversized record alone", httpsink.NDJSON, 50, []asynclog.Record{batch[0], big, batch[1]}, []int{1, 1, 1}},
		{"oversized OTLP record alone", httpsink.OTLP, 100, []asynclog.Record{batch[0], big}, []int{1, 1}},
		{"default limit", httpsink.NDJSON, 0, batch, []int{10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nil)
			s := newSink(t, srv.URL, httpsink.Options{Format: tc.format, MaxBodyBytes: tc.max})
			require.NoError(t, s.Write(context.Background(), tc.batch), "Write")
			reqs := srv.requests()
			total := 0
			var counts []int
			for _, r := range reqs {
				n := strings.Count(string(r.Body), `"0123456789"`) + strings.Count(string(r.Body), `xxxx"`)
				counts = append(counts, n)
				total += n
				if max := cmp.Or(tc.max, 4<<20); n > 1 {
					assert.LessOrEqual(t, len(r.Body), max, "a request of several records respects MaxBodyBytes")
				}
			}
			assert.Equal(t, len(tc.batch), total, "every record sent exactly once")
			if tc.wantReqs != nil {
				assert.Equal(t, tc.wantReqs, counts, "records per request")
			} else {
				assert.Greater(t, len(reqs), 1, "the batch was split")
			}
		})
	}
}

func TestStatusHandling(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		permanent bool
	}{
		{"400", http.StatusBadRequest, true},
		{"401", http.StatusUnauthorized, true},
		{"404", http.StatusNotFound, true},
		{"413", http.StatusRequestEntityTooLarge, true},
		{"500", http.StatusInternalServerError, true},
		{"501", http.StatusNotImplemented, true},
		{"429", http.StatusTooManyRequests, false},
		{"502", http.StatusBadGateway, false},
		{"503", http.StatusServiceUnavailable, false},
		{"504", http.StatusGatewayTimeout, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "reason: "+strings.Repeat("z", 1000), tc.status)
			})
			s := newSink(t, srv.URL, httpsink.Options{})
			err := s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
			require.Error(t, err, "a %d is an error", tc.status)
			assert.Equal(t, tc.permanent, asynclog.IsPermanent(err), "permanent or retryable")
			var se *httpsink.StatusError
			require.ErrorAs(t, err, &se, "a StatusError is reachable")
			assert.Equal(t, tc.status, se.StatusCode, "status code")
			assert.Contains(t, err.Error(), "reason: zzz", "the body's first bytes are in the error")
			assert.Less(t, len(err.Error()), 500, "only the first bytes")
		})
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	srv := newServer(t, nil)
	url := srv.URL
	srv.Close() // nothing listens there any more
	s := newSink(t, url, httpsink.Options{})
	err := s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
	require.Error(t, err, "connection refused is an error")
	assert.False(t, asynclog.IsPermanent(err), "network errors are retried")
}

func TestRetryThenDeliver(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	var errs errorLog
	s := newSink(t, srv.URL, httpsink.Options{})
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("once")
	require.NoError(t, q.Close(), "Close")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Delivered, "delivered on the second attempt")
	assert.Equal(t, uint64(1), st.Retries, "one retry")
	bodies := srv.bodies()
	require.Len(t, bodies, 2, "two requests")
	assert.Equal(t, bodies[0], bodies[1], "the retry sends the same records")
	assert.Contains(t, errs.text(), "503", "the failed attempt was reported")
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func(now time.Time) (string, time.Time) // value, earliest allowed retry
	}{
		{"seconds", func(now time.Time) (string, time.Time) { return "1", now.Add(time.Second) }},
		{"HTTP date", func(now time.Time) (string, time.Time) {
			at := now.Add(2 * time.Second).Truncate(time.Second) // 1 to 2 s away: dates have 1 s resolution
			return at.Format(http.TimeFormat), at
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var earliest time.Time
			srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					var v string
					v, earliest = tc.header(time.Now())
					w.Header().Set("Retry-After", v)
					w.WriteHeader(http.StatusTooManyRequests)
				}
			})
			s := newSink(t, srv.URL, httpsink.Options{})
			q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, OnError: func(error) {}})
			require.NoError(t, err, "NewQueue")
			slog.New(asynclog.NewHandler(q, nil)).Info("later")
			require.NoError(t, q.Close(), "Close")
			reqs := srv.requests()
			require.Len(t, reqs, 2, "refused once, then delivered")
			assert.False(t, reqs[1].At.Before(earliest), "the retry came %v before Retry-After allowed", earliest.Sub(reqs[1].At))
			assert.Equal(t, uint64(1), q.Stats().Delivered, "delivered")
		})
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"field level must be a string"}`, http.StatusBadRequest)
	})
	var errs errorLog
	s := newSink(t, srv.URL, httpsink.Options{})
	// One batch of two records: it fills before it is written.
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, MaxAttempts: 5, BatchSize: 2, FlushInterval: time.Hour, OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("a")
	l.Info("b")
	ferr := q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close: the failure was already reported by Flush")
	assert.Error(t, ferr, "Flush reports the records given up on")
	assert.Equal(t, 1, len(srv.requests()), "exactly one request: a 400 is not retried")
	st := q.Stats()
	assert.Equal(t, uint64(0), st.Retries, "no retries")
	assert.Equal(t, uint64(2), st.Failed, "both records failed")
	assert.Equal(t, uint64(0), st.Delivered, "nothing delivered")
	require.NotEmpty(t, errs.all(), "OnError was called")
	assert.Contains(t, errs.text(), "400 Bad Request", "OnError names the status")
	assert.Contains(t, errs.text(), `field level must be a string`, "OnError quotes the body's first bytes")
}

func TestPartialSuccess(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"timestamps too old"}}`))
	})
	var errs errorLog
	s := newSink(t, srv.URL, httpsink.Options{Format: httpsink.OTLP})
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, BatchSize: 5, FlushInterval: time.Hour, OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for range 5 {
		l.Info("r")
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close")
	assert.Equal(t, 1, len(srv.requests()), "partial success is not retried")
	st := q.Stats()
	assert.Equal(t, uint64(3), st.Delivered, "the accepted records count as delivered")
	assert.Equal(t, uint64(2), st.Failed, "the rejected records count as failed")
	var pe *asynclog.PartialError
	var found bool
	for _, e := range errs.all() {
		if errors.As(e, &pe) {
			found = true
			assert.Equal(t, 2, pe.Rejected, "rejected count reaches OnError")
			assert.Contains(t, e.Error(), "timestamps too old", "the server's message reaches OnError")
		}
	}
	assert.True(t, found, "OnError got a PartialError")
}

func TestPartialSuccessResponses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		rejected   int
		wantErr    bool
	}{
		{"empty body", ``, 0, false},
		{"empty object", `{}`, 0, false},
		{"empty partial success", `{"partialSuccess":{}}`, 0, false},
		{"number instead of string", `{"partialSuccess":{"rejectedLogRecords":3}}`, 3, true},
		{"warning only", `{"partialSuccess":{"errorMessage":"deprecated field"}}`, 0, true},
		{"not JSON", `ok`, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(tc.body)) })
			s := newSink(t, srv.URL, httpsink.Options{Format: httpsink.OTLP})
			err := s.Write(context.Background(), []asynclog.Record{rec(0, "a", `{}`), rec(0, "b", `{}`), rec(0, "c", `{}`)})
			if !tc.wantErr {
				assert.NoError(t, err, "full success")
				return
			}
			var pe *asynclog.PartialError
			require.ErrorAs(t, err, &pe, "a partial success")
			assert.Equal(t, tc.rejected, pe.Rejected, "rejected count")
		})
	}
}

func TestSplitBatchRetryResumes(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the second request, once
		}
	})
	s := newSink(t, srv.URL, httpsink.Options{MaxBodyBytes: 20})
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, BatchSize: 10, FlushInterval: time.Hour, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
	for _, m := range []string{"a", "b", "c"} {
		l.Info(m)
	}
	require.NoError(t, q.Close(), "Close")
	assert.Equal(t, []string{"{\"msg\":\"a\"}\n", "{\"msg\":\"b\"}\n", "{\"msg\":\"b\"}\n", "{\"msg\":\"c\"}\n"}, srv.bodies(),
		"the retry resends only the request that failed, not the delivered one")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Retries, "one retry")
	skipIfCoreDropsDelivered(t, st, 3)
	assert.Equal(t, uint64(3), st.Delivered, "all delivered")
}

// skipIfCoreDropsDelivered checks that the queue counted as Delivered the
// records a Write reported with asynclog.Delivered before a retry of the
// rest succeeded.
func skipIfCoreDropsDelivered(t *testing.T, st asynclog.Stats, want uint64) {
	t.Helper()
	assert.GreaterOrEqual(t, st.Delivered, want, "records delivered before a retried failure are counted: %+v", st)
}

func TestSplitBatchRefusedPartWay(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			http.Error(w, "no", http.StatusBadRequest)
		}
	})
	s := newSink(t, srv.URL, httpsink.Options{MaxBodyBytes: 20})
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, BatchSize: 10, FlushInterval: time.Hour, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
	for _, m := range []string{"a", "b", "c"} {
		l.Info(m)
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close")
	assert.Equal(t, 2, len(srv.requests()), "nothing after the refusal, no retry")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Delivered, "the first request's record was delivered")
	assert.Equal(t, uint64(2), st.Failed, "the refused and the unsent records failed")
}

func dropTimeLevel(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
		return slog.Attr{}
	}
	return a
}

func TestHungServerCannotHoldShutdown(t *testing.T) {
	cancelled := make(chan struct{})
	release := make(chan struct{})
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-release:
		}
	})
	defer close(release) // if the client never gave up, let the server close
	s := newSink(t, srv.URL, httpsink.Options{})
	q, err := asynclog.NewQueue(s, asynclog.Options{OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	slog.New(asynclog.NewHandler(q, nil)).Info("stuck")
	srv.waitRequests(t, 1)

	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = q.Shutdown(ctx)
	took := time.Since(start)
	require.Error(t, err, "Shutdown reports the undelivered record")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown's error wraps the deadline")
	assert.NotContains(t, err.Error(), "ignored cancellation", "the sink honoured cancellation")
	assert.Less(t, took, deadline+time.Second, "Shutdown returned at its deadline")
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		assert.Fail(t, "the request in flight was not cancelled")
	}
	assert.Equal(t, uint64(1), q.Stats().Failed, "the record counts as failed")
}

func TestSecretsStaySecret(t *testing.T) {
	const user, pass, query, header = "alice", "pw-s3cret", "qs-s3cret", "hdr-s3cret"
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		// A careless server that echoes the request's credentials.
		http.Error(w, "denied: "+r.Header.Get("X-Auth-Token")+" "+r.Header.Get("X-Api-Key")+" "+r.Header.Get("Authorization")+" "+r.URL.RawQuery, http.StatusForbidden)
	})
	dead := newServer(t, nil)
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct{ name, url string }{
		{"refused", srv.URL},
		{"network error", deadURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := strings.Replace(tc.url, "http://", "http://"+user+":"+pass+"@", 1) + "/logs?token=" + query
			var errs errorLog
			s := newSink(t, u, httpsink.Options{Headers: http.Header{"X-Auth-Token": {"Bearer " + header}, "X-Api-Key": {header}}})
			q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, MaxAttempts: 2, OnError: errs.add})
			require.NoError(t, err, "NewQueue")
			slog.New(asynclog.NewHandler(q, nil)).Info("m")
			ferr := q.Flush(context.Background())
			require.Error(t, ferr, "the record failed")
			require.NoError(t, q.Close(), "Close")
			all := errs.text() + ferr.Error()
			require.NotEmpty(t, errs.all(), "errors were reported")
			for _, secret := range []string{pass, query, header} {
				assert.NotContains(t, all, secret, "errors must not carry %q", secret)
			}
			assert.Contains(t, all, "/logs", "errors still name the endpoint's path")
			if tc.name == "refused" {
				assert.Contains(t, all, "denied: [redacted] [redacted] Basic [redacted] token=[redacted]", "the echoed body is quoted with the secrets hidden")
			}
		})
	}
	reqs := srv.requests()
	require.NotEmpty(t, reqs, "the server was reached")
	assert.Equal(t, user, reqs[0].User, "user info is still sent as basic auth")
	assert.Equal(t, pass, reqs[0].Pass, "password is still sent as basic auth")
}

func TestFormatString(t *testing.T) {
	for f, want := range map[httpsink.Format]string{httpsink.NDJSON: "NDJSON", httpsink.JSONArray: "JSONArray", httpsink.OTLP: "OTLP", httpsink.OTLPProtobuf: "OTLPProtobuf", httpsink.ElasticBulk: "ElasticBulk", 9: "Format(9)"} {
		assert.Equal(t, want, f.String(), "Format(%d).String()", int(f))
	}
}

// TestRetryKnownOnlyForTheSameRecords: the sink knows the queue's retry
// of a batch's rest by its records, so that the retry keeps the failed
// request's idempotency key; a new batch in the very same buffers (as
// the queue's slots are reused) is not mistaken for it.
func TestRetryKnownOnlyForTheSameRecords(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 || n == 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s := newSink(t, srv.URL, httpsink.Options{MaxBodyBytes: 20, IdempotencyHeader: "idempotency-key"})
	buf := []byte(`{"msg":"a"}`)
	batch := []asynclog.Record{{Time: t0, Encoded: buf}, {Time: t0, Encoded: []byte(`{"msg":"b"}`)}}
	err := s.Write(context.Background(), batch)
	var dl *asynclog.DeliveredError
	require.ErrorAs(t, err, &dl, "the second request fails after the first was delivered")
	assert.Equal(t, 1, dl.N, "one record delivered")
	copy(buf, `{"msg":"c"}`)
	require.Error(t, s.Write(context.Background(), batch), "a new batch, whose second request fails again")
	require.NoError(t, s.Write(context.Background(), batch[1:]), "the retry of its rest")
	assert.Equal(t, []string{"{\"msg\":\"a\"}\n", "{\"msg\":\"b\"}\n", "{\"msg\":\"c\"}\n", "{\"msg\":\"b\"}\n", "{\"msg\":\"b\"}\n"}, srv.bodies(),
		"the new batch starts from its first record; the retry sends only the rest")
	var keys []string
	for _, r := range srv.requests() {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
	}
	require.Len(t, keys, 5, "five requests")
	assert.Equal(t, keys[3], keys[4], "the retry of the rest keeps the failed request's key")
	assert.NotEqual(t, keys[1], keys[3], "the new batch's request in the same buffers has a key of its own")
	assert.Len(t, map[string]bool{keys[0]: true, keys[1]: true, keys[2]: true, keys[3]: true}, 4, "distinct requests, distinct keys")
}

func TestEarlyAnswerBeforeTheBodyIsSent(t *testing.T) {
	// The server refuses a big body without reading it, so the transport
	// may still be sending it when Write has its answer; the next Write
	// must not reuse that buffer meanwhile (the race detector checks).
	srv := newServer(t, nil)
	early := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 1<<16 {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(early.Close)
	s := newSink(t, early.URL, httpsink.Options{MaxBodyBytes: 8 << 20})
	big := rec(0, "big", `{"pad":"`+strings.Repeat("x", 4<<20)+`"}`)
	for i := range 3 {
		err := s.Write(context.Background(), []asynclog.Record{big})
		if err != nil { // the server may also cut the connection mid-body
			var se *httpsink.StatusError
			if errors.As(err, &se) {
				assert.Equal(t, http.StatusRequestEntityTooLarge, se.StatusCode, "refused as too large (round %d)", i)
			}
		}
		small := rec(0, "s", `{"round":`+strconv.Itoa(i)+`}`)
		require.NoError(t, s.Write(context.Background(), []asynclog.Record{small}), "a small batch after the refused one")
	}
	assert.Equal(t, []string{"{\"round\":0}\n", "{\"round\":1}\n", "{\"round\":2}\n"}, srv.bodies(), "the small batches arrived intact")
}

func TestConnectionsAreReused(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	n := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i % 3 {
		case 1:
			http.Error(w, strings.Repeat("refused ", 4096), http.StatusBadRequest) // a long body the sink must drain
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newSink(t, srv.URL, httpsink.Options{})
	for i := range 9 {
		_ = s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"i":`+strconv.Itoa(i)+`}`)})
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 9, n, "nine requests")
	assert.Equal(t, 1, conns, "refusals, retryable errors and successes all leave the connection reusable")
}

func TestEmptyEncodingIsAnEmptyObject(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format httpsink.Format
		want   string
	}{
		{"NDJSON", httpsink.NDJSON, "{}\n{\"a\":1}\n"},
		{"JSONArray", httpsink.JSONArray, `[{},{"a":1}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nil)
			s := newSink(t, srv.URL, httpsink.Options{Format: tc.format})
			require.NoError(t, s.Write(context.Background(), []asynclog.Record{rec(0, "", "\n"), rec(0, "", `{"a":1}`)}), "Write")
			assert.Equal(t, []string{tc.want}, srv.bodies(), "an empty encoding is sent as {}, so the body stays valid")
		})
	}
}

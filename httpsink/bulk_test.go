package httpsink_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// bulkAnswer writes a bulk response with one item per status.
func bulkAnswer(w http.ResponseWriter, statuses ...int) {
	type item struct {
		Status int            `json:"status"`
		Error  map[string]any `json:"error,omitempty"`
	}
	var items []map[string]item
	failed := false
	for _, st := range statuses {
		it := item{Status: st}
		switch {
		case st == http.StatusTooManyRequests:
			it.Error = map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution"}
		case st/100 != 2:
			it.Error = map[string]any{"type": "document_parsing_exception", "reason": "failed to parse field [n]"}
		}
		failed = failed || st/100 != 2
		items = append(items, map[string]item{"create": it})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 3, "errors": failed, "items": items})
}

// docs returns the documents of a bulk body, checking that each follows
// an action line.
func docs(t *testing.T, body []byte, action string) []string {
	t.Helper()
	lines := strings.Split(string(body), "\n")
	require.Equal(t, "", lines[len(lines)-1], "the body ends with a newline")
	lines = lines[:len(lines)-1]
	require.Zero(t, len(lines)%2, "action and document lines in pairs: %q", lines)
	var out []string
	for i := 0; i < len(lines); i += 2 {
		assert.Equal(t, action, lines[i], "line %d is the action", i)
		out = append(out, lines[i+1])
	}
	return out
}

func TestElasticBulkBody(t *testing.T) {
	for _, tc := range []struct {
		name, index, action string
	}{
		{"index in the URL", "", `{"create":{}}`},
		{"Options.Index", `logs-"app"`, `{"create":{"_index":"logs-\"app\""}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nil)
			s := newSink(t, srv.URL+"/logs-app/_bulk", httpsink.Options{Format: httpsink.ElasticBulk, Index: tc.index, Gzip: true})
			batch := []asynclog.Record{
				rec(0, "a", `{"msg":"a","n":1}`),
				rec(0, "b", "{\"msg\":\"line one\nline two\r\",\n\"n\":\r\n2}\n"),
				rec(0, "c", "{\"msg\":\"c\"}\n{\"delete\":{\"_index\":\"logs-app\",\"_id\":\"1\"}}"),
				rec(0, "d", `{"msg":"escaped \"quote\" and \\","x":"\n"}`),
				rec(0, "e", ``),
			}
			require.NoError(t, s.Write(context.Background(), batch), "Write")
			reqs := srv.requests()
			require.Len(t, reqs, 1, "one request")
			assert.Equal(t, "application/x-ndjson", reqs[0].Header.Get("Content-Type"), "Content-Type")
			assert.Equal(t, "/logs-app/_bulk", reqs[0].Path, "the URL as given")
			got := docs(t, reqs[0].Body, tc.action)
			assert.Equal(t, []string{
				`{"msg":"a","n":1}`,
				`{"msg":"line one\nline two\r", "n":  2}`,
				`{"msg":"c"} {"delete":{"_index":"logs-app","_id":"1"}}`,
				`{"msg":"escaped \"quote\" and \\","x":"\n"}`,
				`{}`,
			}, got, "one line per record: line breaks escaped in strings, spaces between tokens")
			for _, d := range []string{got[0], got[1], got[3]} {
				assert.True(t, json.Valid([]byte(d)), "still JSON: %s", d)
			}
		})
	}
}

// TestNDJSONKeepsARecordOnOneLine: NDJSON's framing has the same rule as
// the bulk format's.
func TestNDJSONKeepsARecordOnOneLine(t *testing.T) {
	srv := newServer(t, nil)
	s := newSink(t, srv.URL, httpsink.Options{})
	require.NoError(t, s.Write(context.Background(), []asynclog.Record{rec(0, "m", "{\"msg\":\"a\nb\",\n\"n\":1}")}), "Write")
	assert.Equal(t, "{\"msg\":\"a\\nb\", \"n\":1}\n", string(srv.requests()[0].Body), "one line, still the same JSON")
}

// TestElasticBulkRefusedItemsArePartial: items refused with "errors":
// true count as Failed, the others as Delivered, nothing is retried, and
// OnError hears the first refusal's type and reason.
func TestElasticBulkRefusedItemsArePartial(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		bulkAnswer(w, 201, 400, 201, 409)
	})
	var errs errorLog
	s := newSink(t, srv.URL+"/logs/_bulk", httpsink.Options{Format: httpsink.ElasticBulk})
	q, err := asynclog.NewQueue(s, asynclog.Options{BatchSize: 4, FlushInterval: time.Hour, OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, nil))
	for i := range 4 {
		l.Info("r", "n", i)
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close")
	assert.Len(t, srv.requests(), 1, "nothing is resent")
	st := q.Stats()
	assert.Equal(t, uint64(2), st.Delivered, "the accepted records")
	assert.Equal(t, uint64(2), st.Failed, "the refused records")
	assert.Equal(t, uint64(0), st.Retries, "no retries")
	var pe *asynclog.PartialError
	require.Len(t, errs.all(), 1, "one error")
	require.ErrorAs(t, errs.all()[0], &pe, "a PartialError")
	assert.Equal(t, 2, pe.Rejected, "two rejected")
	assert.Contains(t, pe.Error(), "item 1: 400 document_parsing_exception: failed to parse field [n]", "the first refusal")
}

// TestElasticBulkResendsOnly429Items: the records whose items were
// refused with 429 are sent again, those alone, until accepted; a record
// refused otherwise is not.
func TestElasticBulkResendsOnly429Items(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 0:
			bulkAnswer(w, 201, 429, 201, 400, 429)
		case 1:
			bulkAnswer(w, 201, 429)
		default:
			bulkAnswer(w, 201)
		}
	})
	var errs errorLog
	s := newSink(t, srv.URL+"/logs/_bulk", httpsink.Options{Format: httpsink.ElasticBulk, IdempotencyHeader: "Idempotency-Key"})
	httpsink.SetAfter(s, now)
	q, err := asynclog.NewQueue(s, asynclog.Options{BatchSize: 5, FlushInterval: time.Hour, OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
	for i := range 5 {
		l.Info("r" + strconv.Itoa(i))
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close")

	reqs := srv.requests()
	require.Len(t, reqs, 3, "the request and two resends")
	assert.Equal(t, []string{`{"msg":"r0"}`, `{"msg":"r1"}`, `{"msg":"r2"}`, `{"msg":"r3"}`, `{"msg":"r4"}`}, docs(t, reqs[0].Body, `{"create":{}}`), "the batch")
	assert.Equal(t, []string{`{"msg":"r1"}`, `{"msg":"r4"}`}, docs(t, reqs[1].Body, `{"create":{}}`), "the first resend: the 429s only")
	assert.Equal(t, []string{`{"msg":"r4"}`}, docs(t, reqs[2].Body, `{"create":{}}`), "the second resend: the one still refused")
	keys := map[string]bool{}
	for _, r := range reqs {
		keys[r.Header.Get("Idempotency-Key")] = true
	}
	assert.Len(t, keys, 3, "each resend is a request of its own, with a key of its own")
	st := q.Stats()
	assert.Equal(t, uint64(4), st.Delivered, "the records taken, at once or on a resend")
	assert.Equal(t, uint64(1), st.Failed, "the record refused with 400")
	assert.Equal(t, uint64(0), st.Retries, "the queue retried nothing: the sink resent")
	assert.Contains(t, errs.text(), "document_parsing_exception", "OnError hears of the 400")
}

// TestElasticBulk429GivesUp: a record refused with 429 on every resend
// is given up on after four resends and counts as rejected.
func TestElasticBulk429GivesUp(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			bulkAnswer(w, 201, 429)
			return
		}
		bulkAnswer(w, 429)
	})
	s := newSink(t, srv.URL+"/logs/_bulk", httpsink.Options{Format: httpsink.ElasticBulk})
	var waits []time.Duration
	httpsink.SetAfter(s, func(d time.Duration) <-chan time.Time { waits = append(waits, d); return now(d) })
	err := s.Write(context.Background(), []asynclog.Record{rec(0, "a", `{"msg":"a"}`), rec(0, "b", `{"msg":"b"}`)})
	var pe *asynclog.PartialError
	require.ErrorAs(t, err, &pe, "a partial success")
	assert.Equal(t, 1, pe.Rejected, "the record still refused")
	assert.Contains(t, err.Error(), "still refused with 429 Too Many Requests after 4 resends", "the error says why")
	assert.Len(t, srv.requests(), 5, "the request and four resends")
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}, waits, "a backoff doubling from 100 ms")
}

// TestElasticBulkResendHonoursCtx: the wait before a resend ends with the
// Write's ctx, and the records not resent count as rejected.
func TestElasticBulkResendHonoursCtx(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { bulkAnswer(w, 429) })
	s := newSink(t, srv.URL+"/logs/_bulk", httpsink.Options{Format: httpsink.ElasticBulk})
	waiting := make(chan struct{})
	httpsink.SetAfter(s, func(time.Duration) <-chan time.Time {
		close(waiting)
		return nil // a wait that never ends by itself
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, []asynclog.Record{rec(0, "a", `{"msg":"a"}`)}) }()
	<-waiting
	cancel()
	select {
	case err := <-done:
		var pe *asynclog.PartialError
		require.ErrorAs(t, err, &pe, "a partial success")
		assert.Equal(t, 1, pe.Rejected, "the record not resent")
		assert.Contains(t, err.Error(), "not resent: context canceled", "the error says why")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Write waited past its ctx")
	}
	assert.Len(t, srv.requests(), 1, "no resend")
}

// now is a time.After whose wait is over at once.
func now(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func TestElasticBulkAnswers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		rejected int
		wantErr  bool
	}{
		{"no errors", `{"took":1,"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, 0, false},
		{"errors false before items that say otherwise", `{"errors":false,"items":[{"create":{"status":400}}]}`, 0, false},
		{"empty body", ``, 0, false},
		{"not JSON", `ok`, 0, false},
		{"items before errors", `{"items":[{"create":{"status":201}},{"index":{"status":500,"error":"boom"}}],"errors":true}`, 1, true},
		{"fewer items than records: 429s count as refused", `{"errors":true,"items":[{"create":{"status":429}}]}`, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(tc.body)) })
			s := newSink(t, srv.URL+"/logs/_bulk", httpsink.Options{Format: httpsink.ElasticBulk})
			err := s.Write(context.Background(), []asynclog.Record{rec(0, "a", `{}`), rec(0, "b", `{}`)})
			assert.Len(t, srv.requests(), 1, "nothing resent")
			if !tc.wantErr {
				assert.NoError(t, err, "success")
				return
			}
			var pe *asynclog.PartialError
			require.ErrorAs(t, err, &pe, "a partial success")
			assert.Equal(t, tc.rejected, pe.Rejected, "rejected count")
		})
	}
}

// TestElasticBulkWhole429IsRetriedByTheQueue: a 429 for the whole request
// is the queue's to retry, like any format's.
func TestElasticBulkWhole429IsRetriedByTheQueue(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		bulkAnswer(w, 201)
	})
	s := newSink(t, srv.URL+"/logs/_bulk", httpsink.Options{Format: httpsink.ElasticBulk})
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	slog.New(asynclog.NewHandler(q, nil)).Info("m")
	require.NoError(t, q.Close(), "Close")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Delivered, "delivered on the retry")
	assert.Equal(t, uint64(1), st.Retries, "one retry by the queue")
}

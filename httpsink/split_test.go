package httpsink_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
	"github.com/asynclog/asynclog/httpsink"
)

// splitMessages returns 20 messages that, each with {"msg":...} and a
// newline, take 142 bytes: with MaxBodyBytes 1000 a batch of them goes in
// three requests of 7, 7 and 6.
func splitMessages() []string {
	msgs := make([]string, 20)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("r%02d ", i) + strings.Repeat("x", 127)
	}
	return msgs
}

// TestSplitBatchGivenUpCountsWhatWasDelivered: when the first request of
// a split batch is delivered and the rest fail until the attempts run out,
// the delivered records count as Delivered, only the rest fail, and only
// the rest go to the fallback: none arrives twice.
func TestSplitBatchGivenUpCountsWhatWasDelivered(t *testing.T) {
	for _, withFallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback %v", withFallback), func(t *testing.T) {
			srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n > 0 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			s := newSink(t, srv.URL, httpsink.Options{MaxBodyBytes: 1000})
			var fallback *asynclogtest.Recorder
			opts := asynclog.Options{MinBackoff: time.Millisecond, MaxAttempts: 3, BatchSize: 20, FlushInterval: time.Hour, OnError: func(error) {}}
			if withFallback {
				fallback = asynclogtest.NewRecorder()
				opts.Fallback = fallback
			}
			q, err := asynclog.NewQueue(s, opts)
			require.NoError(t, err, "NewQueue")
			l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
			msgs := splitMessages()
			for _, m := range msgs {
				l.Info(m)
			}
			ferr := q.Flush(context.Background())
			require.NoError(t, q.Close(), "Close")

			bodies := srv.bodies()
			require.Len(t, bodies, 1+3, "the first request once, the second on each of the three attempts")
			assert.Equal(t, 7, strings.Count(bodies[0], "\n"), "the first request held 7 records")
			for i, b := range bodies[1:] {
				assert.True(t, strings.HasPrefix(b, `{"msg":"r07 `), "attempt %d starts where the delivered request ended", i+1)
			}
			st := q.Stats()
			assert.Equal(t, uint64(2), st.Retries, "two retries of the rest")
			if !withFallback {
				require.Error(t, ferr, "Flush reports the records given up on")
				assert.Equal(t, uint64(7), st.Delivered, "the 7 at the collector are Delivered")
				assert.Equal(t, uint64(13), st.Failed, "only the other 13 failed")
				return
			}
			assert.NoError(t, ferr, "the fallback took the rest")
			assert.Equal(t, msgs[7:], fallback.Messages(), "the fallback got the 13 that never reached the collector, and only them")
			assert.Equal(t, uint64(20), st.Delivered, "all 20 are Delivered")
			assert.Equal(t, uint64(13), st.FellBack, "13 of them by the fallback")
			assert.Equal(t, uint64(0), st.Failed, "none failed")
		})
	}
}

// TestSplitBatchRefusedPartWayGoesToTheFallback: a refusal part way
// through a split batch is permanent for the rest only: the delivered
// request counts as Delivered and the rest goes to the fallback.
func TestSplitBatchRefusedPartWayGoesToTheFallback(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n > 0 {
			http.Error(w, "no", http.StatusBadRequest)
		}
	})
	s := newSink(t, srv.URL, httpsink.Options{MaxBodyBytes: 1000})
	fallback := asynclogtest.NewRecorder()
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, BatchSize: 20, FlushInterval: time.Hour, Fallback: fallback, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
	msgs := splitMessages()
	for _, m := range msgs {
		l.Info(m)
	}
	require.NoError(t, q.Flush(context.Background()), "Flush: the fallback took the rest")
	require.NoError(t, q.Close(), "Close")
	assert.Len(t, srv.requests(), 2, "the refused request is not retried")
	assert.Equal(t, msgs[7:], fallback.Messages(), "the fallback got the 13 records the collector did not take")
	st := q.Stats()
	assert.Equal(t, uint64(20), st.Delivered, "7 by the collector, 13 by the fallback")
	assert.Equal(t, uint64(13), st.FellBack, "13 by the fallback")
}

// TestPartialSuccessCountedAcrossARetry: the records an OTLP partial
// success refused in a delivered request of a split batch are still
// counted Failed when the rest is retried and then delivered.
func TestPartialSuccessCountedAcrossARetry(t *testing.T) {
	srv := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 0:
			_, _ = w.Write([]byte(`{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}`))
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s := newSink(t, srv.URL, httpsink.Options{Format: httpsink.OTLP, MaxBodyBytes: 1000})
	var errs errorLog
	q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, BatchSize: 20, FlushInterval: time.Hour, OnError: errs.add})
	require.NoError(t, err, "NewQueue")
	l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
	for _, m := range splitMessages() {
		l.Info(m)
	}
	_ = q.Flush(context.Background())
	require.NoError(t, q.Close(), "Close")
	require.Greater(t, len(srv.requests()), 3, "the batch was split")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Retries, "the 503 was retried once")
	assert.Equal(t, uint64(2), st.Failed, "the 2 refused records count as Failed")
	assert.Equal(t, uint64(18), st.Delivered, "the other 18 as Delivered")
	assert.Contains(t, errs.text(), "too old", "the server's message reached OnError")
}

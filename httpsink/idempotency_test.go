package httpsink_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// TestIdempotencyKey: delivery is at least once, so a request that the
// server kept but whose answer was lost comes again. With
// IdempotencyHeader set, each request carries a key that is the same on
// every attempt of the same records (the transport's resend, the queue's
// retry of the whole batch or, after asynclog.Delivered, of its rest) and
// differs between requests and batches, so a collector that remembers the
// keys keeps each record once.
func TestIdempotencyKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter) // answers the second request's first attempt, after its body was read
	}{
		{"503 after the body was kept", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }},
		{"connection reset after the body was kept", func(w http.ResponseWriter) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
		}},
		{"hang after the body was kept", nil}, // until the sink's ctx gives up
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n != 1 {
					return
				}
				if tc.fail != nil {
					tc.fail(w)
					return
				}
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			defer close(release)
			s := newSink(t, srv.URL, httpsink.Options{MaxBodyBytes: 1000, IdempotencyHeader: "Idempotency-Key"})
			q, err := asynclog.NewQueue(s, asynclog.Options{
				MinBackoff: time.Millisecond, BatchSize: 20, FlushInterval: time.Hour,
				WriteTimeout: 500 * time.Millisecond, OnError: func(error) {},
			})
			require.NoError(t, err, "NewQueue")
			l := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))
			msgs := splitMessages()
			for _, batch := range [][]string{msgs, msgs[:3]} { // two batches, the second a single request
				for _, m := range batch {
					l.Info(m)
				}
				require.NoError(t, q.Flush(context.Background()), "Flush: delivered in the end")
			}
			require.NoError(t, q.Close(), "Close")

			reqs := srv.requests()
			require.Greater(t, len(reqs), 4, "the failed request was sent again")
			keyOf := map[string]string{} // body -> key
			bodyOf := map[string]string{}
			kept := 0 // records a collector that drops repeated keys keeps
			for i, r := range reqs {
				key := r.Header.Get("Idempotency-Key")
				require.NotEmpty(t, key, "request %d carries a key", i)
				body := string(r.Body)
				if k, ok := keyOf[body]; ok {
					assert.Equal(t, k, key, "request %d: the same records carry the same key on every attempt", i)
					continue
				}
				_, seen := bodyOf[key]
				assert.False(t, seen, "request %d: a key is never reused for other records", i)
				keyOf[body], bodyOf[key] = key, body
				kept += strings.Count(body, "\n")
			}
			assert.Len(t, keyOf, 4, "four distinct requests: three of the split batch, one of the next")
			assert.Equal(t, 23, kept, "deduplicated by key, the collector has each of the 23 records once")
		})
	}
}

package httpsink_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// TestResponseBodyTimeout: a server that sends its status and headers and
// then never ends the body holds a Write no longer than
// ResponseBodyTimeout, not until the queue's WriteTimeout; the status
// still decides the outcome.
func TestResponseBodyTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		format  httpsink.Format
		status  int
		wantErr bool
	}{
		{"200 NDJSON", httpsink.NDJSON, http.StatusOK, false},
		{"200 OTLP", httpsink.OTLP, http.StatusOK, false},
		{"503", httpsink.NDJSON, http.StatusServiceUnavailable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"partialSuccess":`)) // the body starts, and never ends
				_ = http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			defer close(release)
			const bound = 100 * time.Millisecond
			s := newSink(t, srv.URL, httpsink.Options{Format: tc.format, ResponseBodyTimeout: bound})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the queue's WriteTimeout
			defer cancel()
			start := time.Now()
			err := s.Write(ctx, []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
			took := time.Since(start)
			assert.Less(t, took, bound+2*time.Second, "Write returned soon after ResponseBodyTimeout, not at ctx's deadline")
			if tc.wantErr {
				require.Error(t, err, "a 503 is still an error")
				assert.False(t, asynclog.IsPermanent(err), "and still retryable")
				assert.Contains(t, err.Error(), "503", "naming the status")
			} else {
				assert.NoError(t, err, "a 2xx is delivered, whatever its body does")
			}
		})
	}
}

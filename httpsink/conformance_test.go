package httpsink_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
	"github.com/asynclog/asynclog/httpsink"
)

// TestConformance runs the test kit's Sink rules against each format, with
// a real server on loopback that is slow to answer, so that cancellation
// has something to cut short.
func TestConformance(t *testing.T) {
	for _, f := range []struct {
		name   string
		format httpsink.Format
	}{{"NDJSON", httpsink.NDJSON}, {"JSONArray", httpsink.JSONArray}, {"OTLP", httpsink.OTLP}, {"OTLPProtobuf", httpsink.OTLPProtobuf}, {"ElasticBulk", httpsink.ElasticBulk}} {
		t.Run(f.name, func(t *testing.T) {
			asynclogtest.TestSink(t, func(t *testing.T) asynclog.Sink {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					select { // a slow collector: the cost of a round trip
					case <-time.After(20 * time.Millisecond):
					case <-r.Context().Done():
					}
					w.WriteHeader(http.StatusOK)
				}))
				t.Cleanup(srv.Close)
				s, err := httpsink.New(srv.URL+"/v1/logs", httpsink.Options{Format: f.format})
				require.NoError(t, err)
				return s
			})
		})
	}
}

package asynclogprom_test

// Snippets of docs/operating.md and docs/frontends.md, copied line for
// line (the root module's TestSnippetsCovered checks the copies against
// the docs). The slog fan-out lives here because slog.NewMultiHandler
// needs Go 1.26, as this module does, and the root module says go 1.25.

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogprom"
)

// docs/operating.md: Prometheus. Only compiled: it registers with the
// global registry and the default mux.
func snippetOperatingPrometheus(q *asynclog.Queue) {
	prometheus.MustRegister(asynclogprom.NewCollector(q, "app"))
	http.Handle("/metrics", promhttp.Handler())
}

var _ = snippetOperatingPrometheus

// docs/frontends.md: console and email through slog.NewMultiHandler.
func TestSnippetFrontendsMultiHandler(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{})
	require.NoError(t, err)

	console := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	email := asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelError})
	logger := slog.New(slog.NewMultiHandler(console, email))

	logger.Error("to both")
	require.NoError(t, q.Close())
	require.Equal(t, uint64(1), q.Stats().Delivered, "the error reached the queue")
}

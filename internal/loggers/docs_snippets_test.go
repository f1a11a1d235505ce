package loggers_test

// The snippets of docs/frontends.md that need zerolog, logrus or logr,
// copied line for line (the root module's TestSnippetsCovered checks the
// copies against the docs).

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// docs/frontends.md: loggers that write one record per Write.
func TestSnippetFrontendsWriter(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() {
		log.SetOutput(os.Stderr)
		logrus.SetOutput(os.Stderr)
	})

	w := asynclog.NewWriter(q)
	zl := zerolog.New(w).With().Timestamp().Logger()
	logrus.SetOutput(w)
	log.SetOutput(w)

	zl.Info().Msg("from zerolog")
	logrus.Info("from logrus")
	log.Print("from log")
	require.NoError(t, q.Close())
	assert.Equal(t, uint64(3), q.Stats().Delivered, "one record from each logger")
}

// docs/frontends.md: logr.
func TestSnippetFrontendsLogr(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{})
	require.NoError(t, err)

	logger := logr.FromSlogHandler(asynclog.NewHandler(q, nil))
	logger.Info("from logr")
	logger.V(1).Info("not shown: V(1) is slog level -1, below Info")

	require.NoError(t, q.Close())
	assert.Equal(t, uint64(1), q.Stats().Delivered, "V(1) is below the handler's level")
}

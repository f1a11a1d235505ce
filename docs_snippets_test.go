package asynclog_test

// Every Go snippet in README.md, CONTRIBUTING.md and docs/*.md is copied,
// line for line, into a function in this file, into an Example function,
// or, when it needs a library the root module does not depend on, into the
// docs_snippets_test.go of the nested module that has it. The compiler
// checks the copies; TestSnippetsCovered (docs_snippets_covered_test.go)
// checks that every snippet in the docs has one, so the two cannot drift
// apart. Snippets that can run without an outside service run as tests;
// the others only compile.

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
	"github.com/asynclog/asynclog/httpsink"
)

// The snippets below are grouped by the document they come from.

// README.md: the zap quick start.
func TestSnippetREADMEZap(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stderr), asynclog.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close() // drains the queue: the main path for the last lines

	logger := zap.New(asynclog.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.InfoLevel, q))
	defer logger.Sync() // Sync is Flush, bounded by Options.CloseTimeout

	logger.Info("order placed", zap.Int("id", 42))
}

// README.md: the slog quick start.
func TestSnippetREADMESlog(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stderr), asynclog.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()

	logger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logger.Info("order placed", "id", 42)
}

// docs/frontends.md.
func TestSnippetFrontends(t *testing.T) {
	q := discardQueue(t)
	{
		core := asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.InfoLevel, q)
		logger := zap.New(core)
		logger.Info("zap")
	}
	{
		console := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
			zapcore.Lock(os.Stderr), zap.DebugLevel)
		email := asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
			zap.ErrorLevel, q) // q: the queue on the mailsink, with DigestOptions
		logger := zap.New(zapcore.NewTee(console, email))
		defer logger.Sync()
	}
	{
		logger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logger.Info("slog")
	}
	require.NoError(t, q.Close())
	assert.Equal(t, uint64(2), q.Stats().Delivered, "the two records logged")
}

// docs/guarantees.md: Close in main, with the exit hook.
func TestSnippetGuaranteesExitHook(t *testing.T) {
	sink := asynclog.WriterSink(io.Discard)
	q, err := asynclog.NewQueue(sink, asynclog.Options{ExitHook: true})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
}

// docs/guarantees.md: asynclog.Exit after a failure. Only compiled: Exit
// ends the process.
func snippetGuaranteesExit(run func() error) {
	if err := run(); err != nil {
		slog.Error("run failed", "err", err)
		asynclog.Exit(1) // drains every hooked queue, then os.Exit(1)
	}
}

// docs/guarantees.md: a program with its own signal handling. Only
// compiled: it waits for a signal.
func snippetGuaranteesNotifyContext(q *asynclog.Queue) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done() // the program's own shutdown begins here
	if err := q.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err) // says how many records were not delivered
	}
}

// docs/guarantees.md: the spool. Only compiled: it would leave a spool in
// the system's temporary directory.
func snippetGuaranteesSpool(sink asynclog.Sink) {
	q, err := asynclog.NewQueue(sink, asynclog.Options{
		Spool:       filepath.Join(os.TempDir(), "myapp-log-spool"),
		CrashReport: true,
	})
	if err != nil {
		log.Fatal(err) // ErrSpoolInUse if another live queue holds the directory
	}
	defer q.Close()
}

// docs/operating.md: expvar. Only compiled: ExampleQueue_Stats_expvar
// runs it, and expvar refuses a second variable of the same name.
func snippetOperatingExpvar(q *asynclog.Queue) {
	expvar.Publish("asynclog", expvar.Func(func() any { return q.Stats() }))
}

// docs/operating.md: OnError.
func TestSnippetOperatingOnError(t *testing.T) {
	var droppedReports atomic.Int64
	opts := asynclog.Options{
		OnError: func(err error) {
			switch {
			case errors.Is(err, asynclog.ErrDropped):
				droppedReports.Add(1)
			default:
				fmt.Fprintln(os.Stderr, "log delivery:", err)
			}
		},
	}
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), opts)
	require.NoError(t, err)
	require.NoError(t, q.Close())
}

// docs/sinks.md: your own sink.
func TestSnippetSinksOwn(t *testing.T) {
	var sent int
	send := func(ctx context.Context, b []byte) error {
		sent++
		return ctx.Err()
	}
	sink := asynclog.SinkFunc(func(ctx context.Context, batch []asynclog.Record) error {
		// Called only from the queue's consumer goroutine. Honour ctx.
		// Copy r.Encoded if you keep it: the queue reuses the bytes.
		// Never change them: with a spool they are the spool's own copy.
		for _, r := range batch {
			if err := send(ctx, r.Encoded); err != nil {
				return err // retried with backoff; asynclog.Permanent(err) is not
			}
		}
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{})
	require.NoError(t, err)
	slog.New(asynclog.NewHandler(q, nil)).Info("one")
	require.NoError(t, q.Close())
	assert.Equal(t, 1, sent, "the record reached send")
}

// docs/sinks.md: SlogSink.
func TestSnippetSinksSlogSink(t *testing.T) {
	slackHandler := slog.NewTextHandler(io.Discard, nil) // a slow handler in real life
	q, err := asynclog.NewQueue(asynclog.SlogSink(slackHandler), asynclog.Options{})
	if err != nil {
		log.Fatal(err)
	}
	logger := slog.New(asynclog.NewHandler(q, nil))
	logger.Info("to the handler")
	require.NoError(t, q.Close())
	assert.Equal(t, uint64(1), q.Stats().Delivered)
}

// docs/sinks.md: httpsink. Only compiled: it posts to a collector on
// localhost:4318.
func snippetSinksHTTP() {
	sink, err := httpsink.New("http://localhost:4318/v1/logs", httpsink.Options{
		Format:      httpsink.OTLP,
		ServiceName: "checkout",
		Headers:     http.Header{"Authorization": {"Bearer " + os.Getenv("LOG_TOKEN")}},
		Gzip:        true,
	})
	if err != nil {
		log.Fatal(err) // bad URL, a scheme other than http/https, negative MaxBodyBytes
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close() // drains the queue: the last lines reach the collector

	logger := zap.New(asynclog.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.InfoLevel, q))
	logger.Info("order placed", zap.String("order", "A-1001"), zap.Int("items", 3))
}

// docs/sinks.md: the conformance suite, run on httpsink against a
// loopback server.
func TestMySink(t *testing.T) {
	asynclogtest.TestSink(t, func(t *testing.T) asynclog.Sink {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // a real endpoint on loopback
		}))
		t.Cleanup(srv.Close)
		sink, err := httpsink.New(srv.URL, httpsink.Options{}) // your sink here
		if err != nil {
			t.Fatal(err)
		}
		return sink
	})
}

// docs/operating.md: Scale-out. Only compiled: it posts to a gateway
// and keeps a spool under /var/lib; httpsink/otlptest runs the same
// settings against the Collector's receiver.
func snippetOperatingScaleOut() {
	sink, err := httpsink.New("http://otel-gateway:4318/v1/logs", httpsink.Options{
		Format:            httpsink.OTLPProtobuf,
		Gzip:              true,
		ServiceName:       "checkout",
		IdempotencyHeader: "Idempotency-Key",
	})
	if err != nil {
		log.Fatal(err)
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{
		Spool:      "/var/lib/checkout/log-spool",
		SpoolBytes: 256 << 20,
		RetryFor:   2 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
}

// docs/operating.md: outages. Only compiled: it would need the directory.
func snippetOperatingOutages(sink asynclog.Sink) (*asynclog.Queue, error) {
	q, err := asynclog.NewQueue(sink, asynclog.Options{
		Spool:      "/var/lib/myapp/log-spool", // survives a restart of the program too
		SpoolBytes: 256 << 20,                  // about 8 minutes at 2,000 records/s of 200 bytes
		RetryFor:   15 * time.Minute,
	})
	return q, err
}

// The compile-only snippets, referenced so that no linter calls them
// unused.
var _ = []any{
	snippetOperatingOutages,
	snippetGuaranteesExit,
	snippetGuaranteesNotifyContext,
	snippetGuaranteesSpool,
	snippetOperatingExpvar,
	snippetSinksHTTP,
	snippetOperatingScaleOut,
}

// discardQueue returns a queue on io.Discard, closed at the test's end.
func discardQueue(t *testing.T) *asynclog.Queue {
	t.Helper()
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	return q
}

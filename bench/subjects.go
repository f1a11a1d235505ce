package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/diode"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// The record every subject logs: a message and five fields.
const (
	fMethod  = "GET"
	fPath    = "/api/v1/users"
	fStatus  = 200
	fElapsed = 1500 * time.Microsecond
	fRemote  = "10.0.0.1:54321"
)

// fieldMarkers are the strings that must all appear in a subject's encoded
// record: the message, the five keys and the values every encoding writes
// alike (durations differ by encoder: seconds, milliseconds, nanoseconds).
func fieldMarkers() []string {
	return []string{benchMsg, "method", fMethod, "path", fPath, "status", "200", "elapsed", "remote", fRemote}
}

// subject is one logger under test, built fresh for each run.
type subject struct {
	name   string
	config string // how it is configured, for the tables
	// lossless: documented to deliver every record it accepts with a
	// live sink; the run fails if it loses any.
	lossless bool
	// async: the record is written by another goroutine than the caller's
	// (for zap's BufferedWriteSyncer, by the caller that fills the buffer
	// or by its flush timer).
	async bool
	open  func(s *sink, env *env) *instance
}

// instance is one subject wired to one sink.
type instance struct {
	log func() // logs the record once; safe for concurrent use
	// close flushes and stops the subject; nil if it holds nothing.
	close func(ctx context.Context) error
	// drops returns the records the subject itself reports as dropped, and
	// false if it has no such report.
	drops func() (uint64, bool)
	// check compares the subject's own counters with what it logged and
	// the sink received; "" if they agree or it has none.
	check func(logged, delivered int64) string
}

// env is state shared by subjects across the run: the OpenTelemetry drop
// reports, which reach the process-wide otel logger.
type env struct {
	otelDrops *otelDropCounter
}

func zapEncoder() zapcore.Encoder {
	return zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
}

func zapLog(l *zap.Logger) {
	l.Info(benchMsg,
		zap.String("method", fMethod),
		zap.String("path", fPath),
		zap.Int("status", fStatus),
		zap.Duration("elapsed", fElapsed),
		zap.String("remote", fRemote),
	)
}

func slogLog(l *slog.Logger) {
	l.LogAttrs(context.Background(), slog.LevelInfo, benchMsg,
		slog.String("method", fMethod),
		slog.String("path", fPath),
		slog.Int("status", fStatus),
		slog.Duration("elapsed", fElapsed),
		slog.String("remote", fRemote),
	)
}

func zerologLog(l *zerolog.Logger) {
	l.Info().
		Str("method", fMethod).
		Str("path", fPath).
		Int("status", fStatus).
		Dur("elapsed", fElapsed).
		Str("remote", fRemote).
		Msg(benchMsg)
}

// asynclogQueue makes a queue writing to s through WriterSink, and an
// instance whose check compares the queue's Stats with the sink's count.
func asynclogQueue(s *sink, opts asynclog.Options) (*asynclog.Queue, *instance) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(s), opts)
	if err != nil {
		panic(fmt.Sprintf("bench: asynclog.NewQueue: %v", err)) // Options are constants here
	}
	in := &instance{
		close: func(ctx context.Context) error { return q.Shutdown(ctx) },
		drops: func() (uint64, bool) { return q.Stats().Dropped, true },
		check: func(logged, delivered int64) string {
			st := q.Stats()
			var msgs []string
			if int64(st.Enqueued) != logged {
				msgs = append(msgs, fmt.Sprintf("Stats.Enqueued %d, logged %d", st.Enqueued, logged))
			}
			if int64(st.Delivered) != delivered {
				msgs = append(msgs, fmt.Sprintf("Stats.Delivered %d, sink counted %d", st.Delivered, delivered))
			}
			// Checked after Close: the identity holds with nothing queued.
			if st.Queued != 0 || st.Enqueued != st.Delivered+st.Dropped+st.Failed {
				msgs = append(msgs, fmt.Sprintf("after Close: Enqueued %d != Delivered %d + Dropped %d + Failed %d, or Queued %d != 0", st.Enqueued, st.Delivered, st.Dropped, st.Failed, st.Queued))
			}
			return joinMsgs(msgs)
		},
	}
	return q, in
}

// asynclogClose is the queue's Close, which is what an application calls:
// Shutdown bounded by Options.CloseTimeout (the program's ctx is not used).
func asynclogClose(q *asynclog.Queue) func(ctx context.Context) error {
	return func(context.Context) error { return q.Close() }
}

func subjects() []subject {
	const asyncDefaults = "Options{} (Block, Size 16384, MaxBytes 16 MiB, BatchSize 256, FlushInterval 1ms, BlockTimeout 2s, CloseTimeout 5s); WriterSink(sink)"
	return append([]subject{
		{
			name:     "asynclog Core (zap)",
			async:    true,
			config:   "NewCore(zap JSON encoder, production config), " + asyncDefaults,
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				q, in := asynclogQueue(s, asynclog.Options{})
				l := zap.New(asynclog.NewCore(zapEncoder(), zapcore.InfoLevel, q))
				in.log = func() { zapLog(l) }
				in.close = asynclogClose(q)
				return in
			},
		},
		{
			name:     "asynclog Handler (slog)",
			async:    true,
			config:   "NewHandler(q, nil), " + asyncDefaults,
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				q, in := asynclogQueue(s, asynclog.Options{})
				l := slog.New(asynclog.NewHandler(q, nil))
				in.log = func() { slogLog(l) }
				in.close = asynclogClose(q)
				return in
			},
		},
		{
			name:     "zap NewCore (sync)",
			config:   "zapcore.NewCore(JSON encoder, production config, zapcore.AddSync(sink), Info)",
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				l := zap.New(zapcore.NewCore(zapEncoder(), zapcore.AddSync(s), zapcore.InfoLevel))
				return &instance{
					log:   func() { zapLog(l) },
					close: func(context.Context) error { return l.Sync() },
				}
			},
		},
		{
			name:     "zap BufferedWriteSyncer",
			async:    true,
			config:   "zapcore.BufferedWriteSyncer{WS: AddSync(sink)} (defaults: 256 KiB buffer, 30s flush interval); Stop at Close",
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(s)}
				l := zap.New(zapcore.NewCore(zapEncoder(), ws, zapcore.InfoLevel))
				return &instance{
					log:   func() { zapLog(l) },
					close: func(context.Context) error { return ws.Stop() },
				}
			},
		},
		{
			name:     "slog JSONHandler (sync)",
			config:   "slog.NewJSONHandler(sink, nil)",
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				l := slog.New(slog.NewJSONHandler(s, nil))
				return &instance{log: func() { slogLog(l) }}
			},
		},
		{
			name:   "zerolog + diode",
			async:  true,
			config: "zerolog.New(diode.NewWriter(sink, 1000, 10ms, alert)).With().Timestamp() (the zerolog README's diode example); Close at Close",
			open: func(s *sink, _ *env) *instance {
				var missed atomic.Uint64
				w := diode.NewWriter(s, 1000, 10*time.Millisecond, func(n int) { missed.Add(uint64(n)) })
				l := zerolog.New(w).With().Timestamp().Logger()
				return &instance{
					log:   func() { zerologLog(&l) },
					close: func(context.Context) error { return w.Close() },
					drops: func() (uint64, bool) { return missed.Load(), true },
				}
			},
		},
		{
			name:   "OTel BatchProcessor (otelslog)",
			async:  true,
			config: "otelslog.NewLogger via sdklog.NewLoggerProvider(WithProcessor(NewBatchProcessor(exp))) (defaults: queue 2048, batch 512, interval 1s, export timeout 30s); exp writes each batch as lines in one sink Write; LoggerProvider.Shutdown at Close",
			open: func(s *sink, e *env) *instance {
				exp := &lineExporter{w: s}
				lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
				l := otelslog.NewLogger("bench", otelslog.WithLoggerProvider(lp))
				base := e.otelDrops.n.Load()
				return &instance{
					log:   func() { slogLog(l) },
					close: func(ctx context.Context) error { return lp.Shutdown(ctx) },
					drops: func() (uint64, bool) { return e.otelDrops.n.Load() - base, true },
				}
			},
		},
	}, writerSubjects()...)
}

// preparedFields are the record's five fields, for zap's Logger.With.
func preparedFields() []zap.Field {
	return []zap.Field{
		zap.String("method", fMethod),
		zap.String("path", fPath),
		zap.Int("status", fStatus),
		zap.Duration("elapsed", fElapsed),
		zap.String("remote", fRemote),
	}
}

// preparedSubjects are asynclog's zap Core and its synchronous twin with
// the five fields given once, through Logger.With, so that each call logs
// the message only: the fields are encoded when the logger is made, not
// per call. Scenario 1 runs them beside the others; the record they write
// is the same.
func preparedSubjects() []subject {
	return []subject{
		{
			name:     ourCoreWith,
			async:    true,
			config:   "as asynclog Core (zap), the five fields given once by Logger.With; each call logs the message only",
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				q, in := asynclogQueue(s, asynclog.Options{})
				l := zap.New(asynclog.NewCore(zapEncoder(), zapcore.InfoLevel, q)).With(preparedFields()...)
				in.log = func() { l.Info(benchMsg) }
				in.close = asynclogClose(q)
				return in
			},
		},
		{
			name:     zapCoreWith,
			config:   "as zap NewCore (sync), the five fields given once by Logger.With; each call logs the message only",
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				l := zap.New(zapcore.NewCore(zapEncoder(), zapcore.AddSync(s), zapcore.InfoLevel)).With(preparedFields()...)
				return &instance{
					log:   func() { l.Info(benchMsg) },
					close: func(context.Context) error { return l.Sync() },
				}
			},
		},
	}
}

// allSubjects is every subject some scenario runs, for the report's list
// and the tests.
func allSubjects() []subject {
	all := append(subjects(), preparedSubjects()...)
	all = append(all, zerologSyncSubject())
	all = append(all, ringSubjects()...)
	all = append(all, ringWithSubject())
	return append(all, dropNewestSubjects()...)
}

// dropNewestSubjects are asynclog with OnFull DropNewest, for the dead sink.
func dropNewestSubjects() []subject {
	const cfg = "Options{OnFull: DropNewest} (Size 16384, KeepLevel Error); WriterSink(sink)"
	return []subject{
		{
			name:   "asynclog Core, DropNewest",
			async:  true,
			config: "NewCore(zap JSON encoder), " + cfg,
			open: func(s *sink, _ *env) *instance {
				q, in := asynclogQueue(s, asynclog.Options{OnFull: asynclog.DropNewest})
				l := zap.New(asynclog.NewCore(zapEncoder(), zapcore.InfoLevel, q))
				in.log = func() { zapLog(l) }
				in.close = asynclogClose(q)
				return in
			},
		},
		{
			name:   "asynclog Handler, DropNewest",
			async:  true,
			config: "NewHandler(q, nil), " + cfg,
			open: func(s *sink, _ *env) *instance {
				q, in := asynclogQueue(s, asynclog.Options{OnFull: asynclog.DropNewest})
				l := slog.New(asynclog.NewHandler(q, nil))
				in.log = func() { slogLog(l) }
				in.close = asynclogClose(q)
				return in
			},
		},
	}
}

package loggers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		child()
		return
	}
	goleak.VerifyTestMain(m)
}

func newQueue(t *testing.T, sink asynclog.Sink, opts asynclog.Options) *asynclog.Queue {
	t.Helper()
	q, err := asynclog.NewQueue(sink, opts)
	require.NoError(t, err, "NewQueue")
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// logger is one real logger writing through NewWriter, with a way to log
// at each of four levels.
type logger struct {
	name string
	open func(w io.Writer) func(level, msg string, g, i int)
}

// loggers are the io.Writer front end's customers, each set to log
// everything down to Debug.
func loggers() []logger {
	return []logger{
		{"zerolog", func(w io.Writer) func(string, string, int, int) {
			l := zerolog.New(w).Level(zerolog.TraceLevel).With().Timestamp().Logger()
			return func(level, msg string, g, i int) {
				lv, err := zerolog.ParseLevel(level)
				if err != nil {
					panic(err)
				}
				l.WithLevel(lv).Int("g", g).Int("i", i).Msg(msg)
			}
		}},
		{"logrus JSON", func(w io.Writer) func(string, string, int, int) {
			l := logrus.New()
			l.SetOutput(w)
			l.SetFormatter(&logrus.JSONFormatter{})
			l.SetLevel(logrus.TraceLevel)
			return func(level, msg string, g, i int) {
				lv, err := logrus.ParseLevel(level)
				if err != nil {
					panic(err)
				}
				l.WithFields(logrus.Fields{"g": g, "i": i}).Log(lv, msg)
			}
		}},
		{"logrus text", func(w io.Writer) func(string, string, int, int) {
			l := logrus.New()
			l.SetOutput(w)
			l.SetFormatter(&logrus.TextFormatter{DisableColors: true})
			l.SetLevel(logrus.TraceLevel)
			return func(level, msg string, g, i int) {
				lv, err := logrus.ParseLevel(level)
				if err != nil {
					panic(err)
				}
				l.WithFields(logrus.Fields{"g": g, "i": i}).Log(lv, msg)
			}
		}},
		{"slog TextHandler", func(w io.Writer) func(string, string, int, int) {
			l := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
			return func(level, msg string, g, i int) {
				var lv slog.Level
				if err := lv.UnmarshalText([]byte(level)); err != nil {
					panic(err)
				}
				l.Log(context.Background(), lv, msg, "g", g, "i", i)
			}
		}},
		{"slog JSONHandler", func(w io.Writer) func(string, string, int, int) {
			l := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
			return func(level, msg string, g, i int) {
				var lv slog.Level
				if err := lv.UnmarshalText([]byte(level)); err != nil {
					panic(err)
				}
				l.Log(context.Background(), lv, msg, "g", g, "i", i)
			}
		}},
		{"standard log", func(w io.Writer) func(string, string, int, int) {
			l := log.New(w, "", log.LstdFlags|log.Lmicroseconds)
			return func(level, msg string, g, i int) {
				// The standard logger has no levels; its users write one.
				l.Printf("level=%s msg=%q g=%d i=%d", level, msg, g, i)
			}
		}},
	}
}

var textGI = regexp.MustCompile(`\bg=(\d+) i=(\d+)\b`)

// fields reads g and i from a record, JSON or text.
func fields(t *testing.T, enc []byte) (g, i int) {
	t.Helper()
	if len(enc) > 0 && enc[0] == '{' {
		var m struct{ G, I int }
		require.NoError(t, json.Unmarshal(enc, &m), "JSON record: %s", enc)
		return m.G, m.I
	}
	sm := textGI.FindSubmatch(enc)
	require.NotNil(t, sm, "g= and i= in %s", enc)
	g, _ = strconv.Atoi(string(sm[1]))
	i, _ = strconv.Atoi(string(sm[2]))
	return g, i
}

// TestLevelsAndMessages: every logger's records arrive one per call, each
// with its level and message read from the bytes.
func TestLevelsAndMessages(t *testing.T) {
	levels := []struct {
		name string
		want slog.Level
	}{{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}}
	for _, lg := range loggers() {
		t.Run(lg.name, func(t *testing.T) {
			rec := asynclogtest.NewRecorder()
			q := newQueue(t, rec, asynclog.Options{})
			logf := lg.open(asynclog.NewWriter(q))
			for i, lv := range levels {
				logf(lv.name, "record "+lv.name, 0, i)
			}
			require.NoError(t, q.Flush(context.Background()), "Flush")
			recs := rec.Records()
			require.Len(t, recs, len(levels), "one record per log call")
			for i, lv := range levels {
				assert.Equal(t, lv.want, recs[i].Level, "%s: level of %s", lg.name, recs[i].Encoded)
				assert.Equal(t, "record "+lv.name, recs[i].Message, "%s: message of %s", lg.name, recs[i].Encoded)
				assert.NotContains(t, string(recs[i].Encoded), "\n", "line ending trimmed")
			}
		})
	}
}

// TestKeepLevelAndSyncLevel: in DropNewest, a full queue drops a
// logger's Info, and its Error (KeepLevel) evicts the queued Info rather
// than being dropped; a Fatal (written with WithLevel or Log, which do not
// exit) is delivered before the call returns.
func TestKeepLevelAndSyncLevel(t *testing.T) {
	for _, lg := range loggers() {
		t.Run(lg.name, func(t *testing.T) {
			rec := asynclogtest.NewRecorder()
			gate := asynclogtest.NewBlocked(rec)
			q := newQueue(t, gate, asynclog.Options{Size: 1, OnFull: asynclog.DropNewest})
			logf := lg.open(asynclog.NewWriter(q))
			logf("info", "taken", 0, 0)
			<-gate.Entered() // the consumer holds "taken"
			logf("info", "evicted", 0, 1)
			logf("info", "dropped", 0, 2)
			require.Equal(t, uint64(1), q.Stats().Dropped, "an Info beyond room is dropped")
			logf("error", "kept", 0, 3)
			require.Equal(t, uint64(2), q.Stats().Dropped, "the Error took the queued Info's place: it was read as an Error")
			gate.Release()
			if lg.name != "standard log" && lg.name != "slog TextHandler" && lg.name != "slog JSONHandler" {
				logf("fatal", "bye", 0, 4)
			} else {
				logf("ERROR+12", "bye", 0, 4) // slog's spelling of Fatal
			}
			var got []string
			for _, m := range rec.Messages() {
				if !strings.HasPrefix(m, "asynclog:") {
					got = append(got, m)
				}
			}
			assert.Equal(t, []string{"taken", "kept", "bye"}, got, "Info dropped, Error kept, Fatal delivered before the call returned")
			assert.Equal(t, uint64(2), q.Stats().Dropped, "two drops")
		})
	}
}

// waitQueued waits until q counts n records not yet settled.
func waitQueued(t *testing.T, q *asynclog.Queue, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.Stats().Queued < n {
		require.True(t, time.Now().Before(deadline), "Queued reached %d within 10s: %+v", n, q.Stats())
		runtime.Gosched()
	}
}

// TestFloodThroughWriter: the core's flood test through NewWriter. Eight
// producers, two per logger kind, log into a small queue in Block mode in
// front of a sink with a small cost: every record arrives exactly once,
// each producer's in order, and Stats agree.
func TestFloodThroughWriter(t *testing.T) {
	const producers, perP = 8, 2000
	rec := asynclogtest.NewRecorder()
	q, err := asynclog.NewQueue(asynclogtest.Slow(rec, 50*time.Microsecond), asynclog.Options{Size: 64, BatchSize: 16})
	require.NoError(t, err, "NewQueue")
	w := asynclog.NewWriter(q)
	kinds := []logger{}
	for _, lg := range loggers() {
		if lg.name == "zerolog" || lg.name == "logrus JSON" || lg.name == "standard log" || lg.name == "slog TextHandler" {
			kinds = append(kinds, lg)
		}
	}
	var wg sync.WaitGroup
	for g := range producers {
		logf := kinds[g%len(kinds)].open(w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perP {
				logf("info", "flood", g, i)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close(), "Close")

	next := make([]int, producers)
	for _, r := range rec.Records() {
		g, i := fields(t, r.Encoded)
		require.Equal(t, next[g], i, "producer %d (%s): records out of order or lost", g, kinds[g%len(kinds)].name)
		next[g]++
	}
	for g, n := range next {
		assert.Equal(t, perP, n, "producer %d delivered", g)
	}
	s := q.Stats()
	assert.Equal(t, uint64(producers*perP), s.Enqueued, "enqueued")
	assert.Equal(t, uint64(producers*perP), s.Delivered, "delivered")
	assert.Zero(t, s.Dropped+s.Failed, "nothing dropped or failed in Block mode")
	assert.Zero(t, s.Queued, "nothing left")
}

// TestLogr: logr.FromSlogHandler(asynclog.NewHandler(q, nil)) is a
// working logr.Logger: Info, V levels, Error, WithValues and WithName.
func TestLogr(t *testing.T) {
	rec := asynclogtest.NewRecorder()
	q := newQueue(t, rec, asynclog.Options{})
	l := logr.FromSlogHandler(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.Info("started", "port", 8080)
	l.V(4).Info("too verbose") // slog level -4, Debug: enabled
	l.V(5).Info("dropped by level")
	l.WithName("db").WithValues("shard", 3).Error(errors.New("timeout"), "query failed", "ms", 1500)
	require.NoError(t, q.Flush(context.Background()), "Flush")

	got, err := rec.Decoded()
	require.NoError(t, err, "records are JSON")
	require.Len(t, got, 3, "V(5) is below Debug")
	for _, m := range got {
		delete(m, "time")
	}
	assert.Equal(t, map[string]any{"level": "INFO", "msg": "started", "port": 8080.0}, got[0], "Info")
	assert.Equal(t, map[string]any{"level": "DEBUG", "msg": "too verbose"}, got[1], "V(4)")
	assert.Equal(t, map[string]any{"level": "ERROR", "msg": "query failed", "logger": "db", "shard": 3.0, "err": "timeout", "ms": 1500.0}, got[2], "Error with name and values")
	assert.Equal(t, []slog.Level{slog.LevelInfo, slog.LevelDebug, slog.LevelError}, []slog.Level{rec.Records()[0].Level, rec.Records()[1].Level, rec.Records()[2].Level}, "levels")
}

// A logr.Logger (the interface Kubernetes' libraries log to) on the queue.
func Example_logr() {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stdout), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	logger := logr.FromSlogHandler(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger.WithName("controller").Info("reconciled", "object", "pod/web-0")

	_ = q.Close() // drain before the output is checked
	// Output:
	// {"level":"INFO","msg":"reconciled","logger":"controller","object":"pod/web-0"}
}

// zerolog through NewWriter: zerolog's own levels drive the queue.
func Example_zerolog() {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stdout), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	logger := zerolog.New(asynclog.NewWriter(q))
	logger.Info().Str("sku", "A-7").Msg("stock low")
	logger.Error().Int("code", 503).Msg("upstream down")

	_ = q.Close() // drain before the output is checked
	// Output:
	// {"level":"info","sku":"A-7","message":"stock low"}
	// {"level":"error","code":503,"message":"upstream down"}
}

const childEnv = "ASYNCLOG_LOGGERS_CHILD"

// child is the program of TestZerologFatalExit: records then a real
// zerolog Fatal, which exits 1 without any Close.
func child() {
	f, err := os.OpenFile(os.Getenv(childEnv), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	q, err := asynclog.NewQueue(asynclog.WriterSink(f), asynclog.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	l := zerolog.New(asynclog.NewWriter(q))
	for i := range 100 {
		l.Info().Int("i", i).Msg("work")
	}
	l.Fatal().Msg("bye") // zerolog exits 1 once Write returns
	os.Exit(3)           // not reached
}

// TestZerologFatalExit: a real zerolog Fatal in a child process: the
// process exits 1 (zerolog's os.Exit), and the Fatal line and every line
// before it are in the file, though the program never called Close.
func TestZerologFatalExit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the child exits non-zero: %s", out)
	assert.Equal(t, 1, ee.ExitCode(), "zerolog's Fatal exits 1: %s", out)
	b, err := os.ReadFile(path)
	require.NoError(t, err, "read the child's log")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 101, "every record, the Fatal included")
	assert.Equal(t, `{"level":"fatal","message":"bye"}`, lines[100], "the Fatal line last")
}

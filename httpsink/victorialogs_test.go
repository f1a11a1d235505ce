package httpsink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// victoriaLogsEnv names the victoria-logs binary TestVictoriaLogs runs.
// .ci/parts/victorialogs.sh builds it and sets the variable; without it
// the test is skipped, as in the main module's go test ./... .
const victoriaLogsEnv = "ASYNCLOG_VICTORIALOGS"

// logWriter takes a child process's log output: it reports the address
// in VictoriaLogs' "started server at http://..." line once, and keeps the
// last lines for a failing test to show.
type logWriter struct {
	mu      sync.Mutex
	partial []byte
	tail    []string
	addr    chan<- string // gets the server's base URL, once
	found   bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		w.tail = append(w.tail, line)
		if len(w.tail) > 50 {
			w.tail = w.tail[1:]
		}
		if _, after, ok := strings.Cut(line, "started server at "); ok && !w.found {
			w.found = true
			w.addr <- strings.TrimSuffix(strings.TrimSpace(after), "/")
		}
	}
}

func (w *logWriter) lines() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// startVictoriaLogs runs bin on a loopback port the kernel picks, with a
// storage directory of the test's own, and returns its base URL. The
// process is stopped, and waited for, when the test ends.
func startVictoriaLogs(t *testing.T, bin string) string {
	t.Helper()
	addr := make(chan string, 1)
	logs := &logWriter{addr: addr}
	cmd := exec.Command(bin,
		"-httpListenAddr=127.0.0.1:0",
		"-storageDataPath="+t.TempDir(),
		"-retentionPeriod=30d",
		"-loggerOutput=stderr",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start(), "start %s", bin)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(t, err, "VictoriaLogs exits cleanly on SIGTERM")
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			assert.Fail(t, "VictoriaLogs did not stop within 30 s of SIGTERM; killed")
		}
		if t.Failed() {
			t.Logf("VictoriaLogs' last log lines:\n%s", logs.lines())
		}
	})
	select {
	case base := <-addr:
		return base
	case err := <-exited:
		exited <- err // for the cleanup
		require.FailNow(t, "VictoriaLogs exited at start", "%v\n%s", err, logs.lines())
	case <-time.After(30 * time.Second):
		require.FailNow(t, "VictoriaLogs did not start within 30 s", logs.lines())
	}
	return ""
}

// vlQuery runs a LogsQL query and returns the matching entries, each a
// map of field to value.
func vlQuery(t *testing.T, c *http.Client, base, query string) []map[string]string {
	t.Helper()
	resp, err := c.PostForm(base+"/select/logsql/query", url.Values{"query": {query}})
	require.NoError(t, err, "query %q", query)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "read the query's answer")
	require.Equal(t, http.StatusOK, resp.StatusCode, "query %q: %s", query, body)
	var out []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "an entry: %s", sc.Bytes())
		out = append(out, e)
	}
	return out
}

// TestVictoriaLogs ships records through httpsink to a real VictoriaLogs,
// in the three formats it ingests, and reads them back through LogsQL:
// every record, with its level, its attributes (nested ones flattened)
// and its time to the nanosecond.
func TestVictoriaLogs(t *testing.T) {
	bin := os.Getenv(victoriaLogsEnv)
	if bin == "" {
		t.Skip(victoriaLogsEnv + " is not set: .ci/parts/victorialogs.sh builds VictoriaLogs and runs this test")
	}
	_, err := os.Stat(bin)
	require.NoError(t, err, "%s names the victoria-logs binary", victoriaLogsEnv)
	base := startVictoriaLogs(t, bin)
	client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
	t.Cleanup(client.CloseIdleConnections)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	// VictoriaLogs takes records within its retention: an hour ago, with
	// nanoseconds, so that the read-back shows the precision kept.
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).Add(123456789)
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	const n = 40
	vl := http.Header{"VL-Msg-Field": {"msg"}, "VL-Time-Field": {"time"}}
	for _, tc := range []struct {
		name     string
		path     string
		format   httpsink.Format
		headers  http.Header
		levelKey string // the field VictoriaLogs keeps the level in
	}{
		{"NDJSON", "/insert/jsonline", httpsink.NDJSON, vl, "level"},
		{"OTLPProtobuf", "/insert/opentelemetry/v1/logs", httpsink.OTLPProtobuf, nil, "severity_text"},
		{"ElasticBulk", "/insert/elasticsearch/_bulk", httpsink.ElasticBulk, vl, "level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink, err := httpsink.New(base+tc.path, httpsink.Options{Format: tc.format, Headers: tc.headers, Gzip: true, ServiceName: "vltest", MaxBodyBytes: 2048})
			require.NoError(t, err, "httpsink.New")
			var errs errorLog
			q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: errs.add})
			require.NoError(t, err, "NewQueue")
			h := asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelDebug})
			for i := range n {
				r := slog.NewRecord(t0.Add(time.Duration(i)*time.Millisecond), levels[i%len(levels)], "record "+strconv.Itoa(i), 0)
				r.AddAttrs(slog.String("run", run), slog.String("format", tc.name), slog.Int("i", i),
					slog.Group("user", slog.String("id", "u-"+strconv.Itoa(i%3)), slog.Bool("admin", i%2 == 0)))
				require.NoError(t, h.Handle(context.Background(), r), "Handle")
			}
			require.NoError(t, q.Close(), "Close delivers everything")
			require.Empty(t, errs.all(), "no delivery errors: %s", errs.text())
			st := q.Stats()
			require.Equal(t, uint64(n), st.Delivered, "every record delivered")

			resp, err := client.Get(base + "/internal/force_flush")
			require.NoError(t, err, "force_flush")
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "force_flush")

			got := vlQuery(t, client, base, fmt.Sprintf(`run:=%q format:=%q | sort by (_time)`, run, tc.name))
			require.Len(t, got, n, "every record is stored once")
			for i, e := range got {
				want := t0.Add(time.Duration(i) * time.Millisecond)
				at, err := time.Parse(time.RFC3339Nano, e["_time"])
				require.NoError(t, err, "record %d: _time %q", i, e["_time"])
				assert.True(t, want.Equal(at), "record %d: time %v, want %v", i, at, want)
				assert.Equal(t, "record "+strconv.Itoa(i), e["_msg"], "record %d: message", i)
				assert.Equal(t, levels[i%len(levels)].String(), e[tc.levelKey], "record %d: level", i)
				assert.Equal(t, strconv.Itoa(i), e["i"], "record %d: attribute i", i)
				assert.Equal(t, "u-"+strconv.Itoa(i%3), e["user.id"], "record %d: nested attribute", i)
				assert.Equal(t, strconv.FormatBool(i%2 == 0), e["user.admin"], "record %d: nested boolean", i)
				if tc.format == httpsink.OTLPProtobuf {
					assert.Equal(t, "vltest", e["service.name"], "record %d: the resource's service.name", i)
					assert.Equal(t, strconv.Itoa(9+int(levels[i%len(levels)])), e["severity_number"], "record %d: severity number", i)
				}
			}
			counts := vlQuery(t, client, base, fmt.Sprintf(`run:=%q format:=%q | stats by (%s) count() n`, run, tc.name, tc.levelKey))
			byLevel := map[string]string{}
			for _, c := range counts {
				byLevel[c[tc.levelKey]] = c["n"]
			}
			assert.Equal(t, map[string]string{"DEBUG": "10", "INFO": "10", "WARN": "10", "ERROR": "10"}, byLevel, "counts by level")
		})
	}
}

package asynclog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
)

// The fuzz targets feed the front ends arbitrary messages, keys, values and
// group names (invalid UTF-8, control characters, quotes, U+2028, huge
// strings, NaN) and check that each record comes out as one valid JSON
// object on one line whose message round-trips. The seed corpus is in
// testdata/fuzz; .ci/parts/fuzz.sh runs each target for a short time.

// fuzzQueue returns a queue delivering to a new Recorder, shut down when
// the test ends.
func fuzzQueue(t *testing.T) (*asynclog.Queue, *asynclogtest.Recorder) {
	rec := asynclogtest.NewRecorder()
	q, err := asynclog.NewQueue(rec, asynclog.Options{Size: 16})
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q, rec
}

// onlyRecord flushes q and returns the one record rec has received.
func onlyRecord(t *testing.T, q *asynclog.Queue, rec *asynclogtest.Recorder) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	recs := rec.Records()
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	return recs[0].Encoded
}

// asJSON is how a string reads back from valid JSON: each byte of
// invalid UTF-8 becomes U+FFFD.
func asJSON(s string) string { return string([]rune(s)) }

// jsonTokens checks that b is exactly one JSON object on one line, and
// returns the top-level "msg" value (the first, if a field repeats the
// key) and every string in the object, keys included.
func jsonTokens(t *testing.T, b []byte) (msg string, strs map[string]bool) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %q", b)
	}
	if bytes.ContainsAny(b, "\r\n") {
		t.Fatalf("a line ending inside the record: %q", b)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatalf("not a JSON object: %v: %q", err, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	strs = map[string]bool{}
	depth, expectKey, key, found := 0, false, "", false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("tokenize %q: %v", b, err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			strs[v] = true
			if depth == 1 && dec.More() && expectKey {
				key = v
			} else if depth == 1 && key == "msg" && !found {
				msg, found = v, true
			}
		}
		// At depth 1 inside the object, keys and values alternate.
		if depth == 1 {
			if _, isDelim := tok.(json.Delim); isDelim {
				expectKey = true
			} else {
				if !expectKey {
					key = ""
				}
				expectKey = !expectKey
			}
		}
	}
	if !found {
		t.Fatalf("no top-level msg string in %q", b)
	}
	return msg, strs
}

// firstDiff shows where got and want first differ, with some context.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-40, 0)
	return fmt.Sprintf("at byte %d (lengths %d and %d):\n got ...%q...\nwant ...%q...", i, len(got), len(want), got[from:min(i+40, len(got))], want[from:min(i+40, len(want))])
}

func FuzzSlogHandler(f *testing.F) {
	f.Add("hello", "k", "v", int64(1), 1.5, "g", "h")
	// Huge strings: the record outgrows the pooled and per-slot buffers.
	f.Add(strings.Repeat("huge \x00\xff\u2028 ", 1<<12), strings.Repeat("k", 1<<12), strings.Repeat("\"\\", 1<<14), int64(math.MinInt64), math.Inf(1), "", "")
	f.Fuzz(func(t *testing.T, msg, key, sval string, ival int64, fval float64, group1, group2 string) {
		q, rec := fuzzQueue(t)
		ours := asynclog.NewHandler(q, nil)
		var want bytes.Buffer
		std := slog.Handler(slog.NewJSONHandler(&want, nil))
		build := func(h slog.Handler) slog.Handler { // through a Logger, which ignores empty group names
			return slog.New(h).WithGroup(group1).With(slog.String(key, sval)).WithGroup(group2).Handler()
		}
		// A zero time leaves the time out, so that the two outputs compare.
		r := slog.NewRecord(time.Time{}, slog.LevelWarn, msg, 0)
		r.AddAttrs(slog.Int64(key, ival), slog.Float64("f", fval), slog.Group(group2, slog.String(key, sval)),
			slog.Any("bytes", []byte(sval)), slog.Any("err", errors.New(sval)))
		if err := build(ours).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if err := build(std).Handle(context.Background(), r); err != nil {
			t.Fatalf("slog.JSONHandler: %v", err)
		}
		got := onlyRecord(t, q, rec)
		gotMsg, strs := jsonTokens(t, got)
		if gotMsg != asJSON(msg) {
			t.Errorf("msg %q came back as %q", msg, gotMsg)
		}
		if !strs[asJSON(sval)] {
			t.Errorf("the string value %q is missing from %q", sval, got)
		}
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("differs from slog.JSONHandler: %s", firstDiff(got, w))
		}
	})
}

func FuzzZapCore(f *testing.F) {
	f.Add("hello", "k", "v", int64(1), "ns")
	f.Add(strings.Repeat("huge \x00\xff\u2028 ", 1<<12), strings.Repeat("k", 1<<12), strings.Repeat("\"\\", 1<<14), int64(math.MaxInt64), "")
	f.Fuzz(func(t *testing.T, msg, key, sval string, ival int64, ns string) {
		q, rec := fuzzQueue(t)
		cfg := zap.NewProductionEncoderConfig()
		cfg.MessageKey = "msg"
		logger := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.DebugLevel, q)).
			With(zap.String(key, sval)).With(zap.Namespace(ns))
		logger.Warn(msg, zap.Int64(key, ival), zap.String("s", sval), zap.Binary("bin", []byte(sval)),
			zap.Strings("list", []string{sval, key}), zap.NamedError("err", errors.New(sval)))
		got := onlyRecord(t, q, rec)
		gotMsg, strs := jsonTokens(t, got)
		if gotMsg != asJSON(msg) {
			t.Errorf("msg %q came back as %q", msg, gotMsg)
		}
		if !strs[asJSON(sval)] {
			t.Errorf("the string value %q is missing from %q", sval, got)
		}
	})
}

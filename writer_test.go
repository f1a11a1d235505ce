package asynclog_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// TestWriterRecords: each Write is one record, copied, with its line ending
// trimmed, its level read from the bytes and its message found.
func TestWriterRecords(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantEnc   string
		wantLevel slog.Level
		wantMsg   string
	}{
		{"zerolog JSON", `{"level":"error","message":"no route"}` + "\n", `{"level":"error","message":"no route"}`, slog.LevelError, "no route"},
		{"logrus JSON CRLF", `{"level":"warning","msg":"slow","time":"t"}` + "\r\n", `{"level":"warning","msg":"slow","time":"t"}`, slog.LevelWarn, "slow"},
		{"slog text", `time=t level=DEBUG msg="cache miss" key=a` + "\n", `time=t level=DEBUG msg="cache miss" key=a`, slog.LevelDebug, "cache miss"},
		{"standard log", "2026/01/01 00:00:00 started\n", "2026/01/01 00:00:00 started", slog.LevelInfo, ""},
		{"no line ending", `{"msg":"x"}`, `{"msg":"x"}`, slog.LevelInfo, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newRecSink()
			q := newQueue(t, sink, asynclog.Options{})
			w := asynclog.NewWriter(q)
			p := []byte(tt.in)
			n, err := w.Write(p)
			require.NoError(t, err, "Write")
			assert.Equal(t, len(p), n, "Write reports all of p written")
			for i := range p {
				p[i] = 'X' // the caller reuses its buffer
			}
			require.NoError(t, q.Flush(context.Background()), "Flush")
			recs := sink.all()
			require.Len(t, recs, 1, "one record per Write")
			assert.Equal(t, tt.wantEnc, string(recs[0].Encoded), "Encoded is a copy, line ending trimmed")
			assert.Equal(t, tt.wantLevel, recs[0].Level, "level read from the bytes")
			assert.Equal(t, tt.wantMsg, recs[0].Message, "message")
			assert.False(t, recs[0].Time.IsZero(), "stamped with the time of the Write")
		})
	}
}

// TestWriterSkipsEmptyLines: a Write of only a line ending is no record.
func TestWriterSkipsEmptyLines(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{})
	w := asynclog.NewWriter(q)
	for _, in := range []string{"", "\n", "\r\n"} {
		n, err := w.Write([]byte(in))
		require.NoError(t, err, "Write(%q)", in)
		assert.Equal(t, len(in), n, "Write(%q) reports all written", in)
	}
	require.NoError(t, q.Close(), "Close")
	assert.Empty(t, sink.all(), "no records")
	assert.Zero(t, q.Stats().Enqueued, "nothing enqueued")
}

// TestWriterNeverFailsBecauseOfTheSink: Write returns len(p), nil even when
// every delivery fails, for an ordinary record and for a synchronous one.
func TestWriterNeverFailsBecauseOfTheSink(t *testing.T) {
	boom := errors.New("boom")
	var errs errorLog
	sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return asynclog.Permanent(boom) })
	q := newQueue(t, sink, asynclog.Options{OnError: errs.add})
	w := asynclog.NewWriter(q)
	for _, in := range []string{`{"level":"info","message":"a"}`, `{"level":"fatal","message":"b"}`} {
		n, err := w.Write([]byte(in))
		assert.NoError(t, err, "Write(%s)", in)
		assert.Equal(t, len(in), n, "Write(%s) count", in)
	}
	err := q.Flush(context.Background())
	assert.ErrorIs(t, err, boom, "the failure reaches Flush")
	assert.Positive(t, errs.count(boom), "and OnError")
}

// TestWriterSyncLevel: a record at SyncLevel (a zerolog fatal) is delivered
// before Write returns, with everything written before it.
func TestWriterSyncLevel(t *testing.T) {
	sink := newRecSink()
	q := newQueue(t, sink, asynclog.Options{})
	w := asynclog.NewWriter(q)
	_, _ = w.Write([]byte(`{"level":"info","message":"before"}` + "\n"))
	_, _ = w.Write([]byte(`{"level":"fatal","message":"bye"}` + "\n"))
	assert.Equal(t, []string{"before", "bye"}, sink.messages(), "delivered before Write returned, no Flush")
}

// TestWriterKeepLevel: in DropNewest, a full queue drops a zerolog info,
// and a zerolog error (KeepLevel Error) evicts the queued info record
// rather than being dropped.
func TestWriterKeepLevel(t *testing.T) {
	rec := newRecSink()
	gate := newGateSink(rec, false)
	q := newQueue(t, gate, asynclog.Options{Size: 1, OnFull: asynclog.DropNewest})
	w := asynclog.NewWriter(q)
	_, _ = w.Write([]byte(`{"level":"info","message":"taken"}`))
	gate.waitStarted(t) // the consumer holds "taken"
	_, _ = w.Write([]byte(`{"level":"info","message":"evicted"}`))
	_, _ = w.Write([]byte(`{"level":"info","message":"dropped"}`))
	require.Equal(t, uint64(1), q.Stats().Dropped, "the third info record is dropped")
	_, _ = w.Write([]byte(`{"level":"error","message":"kept"}`))
	require.Equal(t, uint64(2), q.Stats().Dropped, "the queued info record made room for the error")
	gate.open()
	require.ErrorIs(t, q.Flush(context.Background()), asynclog.ErrDropped, "Flush reports the two drops")
	var got []string
	for _, m := range rec.messages() {
		if !strings.HasPrefix(m, "asynclog:") {
			got = append(got, m)
		}
	}
	assert.Equal(t, []string{"taken", "kept"}, got, "the info records dropped, the error kept")
}

func TestNewWriterNilQueuePanics(t *testing.T) {
	assert.PanicsWithValue(t, "asynclog: NewWriter called with a nil *Queue", func() { asynclog.NewWriter(nil) }, "a nil queue is refused at construction")
}

// TestWriterAllocations: a Write allocates nothing, like the Handler's
// hand-off. (Fails while the core's logRaw finds the message on the
// caller: the new core does that on the consumer.)
func TestWriterAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race to count allocations")
	}
	q := newQueue(t, &discardSink{}, asynclog.Options{})
	w := asynclog.NewWriter(q)
	p := []byte(`{"level":"info","time":"2026-01-01T00:00:00Z","method":"GET","status":200,"message":"request served"}` + "\n")
	_, _ = w.Write(p)
	require.NoError(t, q.Flush(context.Background()), "Flush")
	got := testing.AllocsPerRun(1000, func() { _, _ = w.Write(p) })
	assert.Zero(t, got, "allocations per Write")
}

// The standard log package through the queue: each log.Print is one
// record. Without a level field it is Info.
func ExampleNewWriter() {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stdout), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()

	logger := log.New(asynclog.NewWriter(q), "checkout: ", 0)
	logger.Print("order placed")
	logger.Printf("level=warn msg=%q", "stock low")

	_ = q.Close() // drain before the output is checked
	// Output:
	// checkout: order placed
	// checkout: level=warn msg="stock low"
}

// TestWriterJSONAndLogfmtLinesAllocateNothing: once warm, a Write of a JSON
// line and of a logfmt line each allocate nothing, even under -race.
func TestWriterJSONAndLogfmtLinesAllocateNothing(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil }), asynclog.Options{OnFull: asynclog.DropNewest, OnError: func(error) {}})
	require.NoError(t, err, "NewQueue")
	defer q.Close()
	w := asynclog.NewWriter(q)
	line := []byte(`{"level":"warn","msg":"hello \"x\"","k":1}` + "\n")
	lf := []byte("time=now level=ERROR msg=\"boom\" k=v\n")
	w.Write(line)
	// AllocsPerRun counts every goroutine's allocations, and an earlier
	// test's queue may still be winding down: an allocation of the Write
	// itself shows in every run, so the fewest of a few runs is the count.
	best := testing.AllocsPerRun(200, func() { w.Write(line); w.Write(lf) })
	for range 4 {
		best = min(best, testing.AllocsPerRun(200, func() { w.Write(line); w.Write(lf) }))
	}
	assert.Zero(t, best, "allocations per pair of Writes")
}

package asynclog_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// TestFloodIsWrittenInBatches: under a flood to a WriterSink with the
// default Options, the consumer wakes once per batch, not once per record:
// Delivered/Writes, the mean batch, is at least 64 records, and every
// record arrives once, in each producer's order.
func TestFloodIsWrittenInBatches(t *testing.T) {
	const producers, each = 4, 20000
	var out lockedBuffer
	q, err := asynclog.NewQueue(asynclog.WriterSink(&out), asynclog.Options{})
	require.NoError(t, err)
	w := asynclog.NewWriter(q)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			line := []byte("level=INFO msg=flood p=" + strconv.Itoa(p) + " i=")
			for i := range each {
				_, _ = w.Write(strconv.AppendInt(line[:len(line):len(line)], int64(i), 10))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close())
	st := q.Stats()
	require.Equal(t, uint64(producers*each), st.Delivered)
	mean := float64(st.Delivered) / float64(st.Writes)
	t.Logf("%d records in %d writes: %.1f a write", st.Delivered, st.Writes, mean)
	assert.GreaterOrEqual(t, mean, 64.0, "mean batch")

	next := make([]int, producers)
	for _, line := range bytes.Split(bytes.TrimSuffix([]byte(out.String()), []byte("\n")), []byte("\n")) {
		var p, i int
		f := bytes.Fields(line)
		require.Len(t, f, 4, "line %q", line)
		p, _ = strconv.Atoi(string(bytes.TrimPrefix(f[2], []byte("p="))))
		i, _ = strconv.Atoi(string(bytes.TrimPrefix(f[3], []byte("i="))))
		require.Equal(t, next[p], i, "producer %d out of order", p)
		next[p]++
	}
	for p := range producers {
		assert.Equal(t, each, next[p], "records of producer %d", p)
	}
}

// TestWriterSinkWritesTheSameBytesWithOrWithoutTheBlockPath: a WriterSink
// writes a batch's segment as it lies (the block path) when it can; the
// bytes it writes are those it writes record by record, whatever the lines
// end in (a newline, several, \r\n, \r, nothing), in 200 orders.
func TestWriterSinkWritesTheSameBytesWithOrWithoutTheBlockPath(t *testing.T) {
	lines := []string{"a\n\n", "b\r\n", "c", "d\n\r\n", "\n\n", "e\r", "f\r\r\n", `{"level":"ERROR","msg":"g"}` + "\n", "h\n\n\n", " ", "i"}
	run := func(block bool, order []int) string {
		var out lockedBuffer
		ws := asynclog.WriterSink(&out)
		sink := ws
		if !block { // not a WriterSink to the queue: it gets the records
			sink = asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error { return ws.Write(ctx, b) })
		}
		q, err := asynclog.NewQueue(sink, asynclog.Options{BatchSize: 4})
		require.NoError(t, err)
		w := asynclog.NewWriter(q)
		for _, k := range order {
			_, _ = w.Write([]byte(lines[k]))
		}
		require.NoError(t, q.Close())
		return out.String()
	}
	for r := range 200 {
		order := make([]int, 1+r%13)
		for i := range order {
			order[i] = (r*7 + i*5) % len(lines)
		}
		require.Equal(t, run(false, order), run(true, order), "lines %v: the block path writes what the Write path writes", order)
	}
}

// heldWriter holds its first Write until released, then keeps what it is
// given.
type heldWriter struct {
	entered, release chan struct{}
	once             sync.Once
	out              lockedBuffer
}

func (w *heldWriter) Write(p []byte) (int, error) {
	first := false
	w.once.Do(func() { first = true })
	if first {
		close(w.entered)
		<-w.release
	}
	return w.out.Write(p)
}

// TestACompactedSegmentKeepsItsRecordsOwnNewlines: records that end in a
// newline of their own (WriterSink adds none after them) sit in segments
// that an eviction copies down to their live records; the block WriterSink
// then writes still has no blank line.
func TestACompactedSegmentKeepsItsRecordsOwnNewlines(t *testing.T) {
	w := &heldWriter{entered: make(chan struct{}), release: make(chan struct{})}
	q, err := asynclog.NewQueue(asynclog.WriterSink(w), asynclog.Options{Size: 8, BatchSize: 4, OnFull: asynclog.DropOldest})
	require.NoError(t, err)
	lw := asynclog.NewWriter(q)
	write := func(s string) {
		_, err := lw.Write([]byte(s))
		require.NoError(t, err)
	}
	write(`{"level":"ERROR","msg":"held"}` + "\n")
	<-w.entered // the consumer holds the first batch: what follows stays queued
	for i := range 5 {
		write(`{"level":"ERROR","msg":"own newline ` + strconv.Itoa(i) + `"}` + "\n\n")
	}
	write(`{"level":"INFO","msg":"big","pad":"` + strings.Repeat("x", 2000) + `"}`)
	for i := range 3 { // the last fills the queue: "big" is evicted, its neighbours copied down
		write(`{"level":"INFO","msg":"after ` + strconv.Itoa(i) + `"}`)
	}
	close(w.release)
	require.ErrorIs(t, q.Close(), asynclog.ErrDropped, "the evicted record is reported")
	require.Equal(t, uint64(1), q.Stats().Dropped)
	out := w.out.String()
	assert.NotContains(t, out, "\n\n", "no blank line:\n%s", out)
	assert.Equal(t, 5, strings.Count(out, "own newline"), "every kept record once")
}

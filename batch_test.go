package asynclog_test

import (
	"bytes"
	"context"
	"strconv"
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

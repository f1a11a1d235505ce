package asynclog_test

// Records arrive intact: byte for byte, once, in each producer's order,
// whatever the segments they cross are doing (sealed, taken, reused,
// trimmed). The producers' lines and the checker here serve the eviction
// tests too (eviction_test.go).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

var prodLevels = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

// prodLine is the line producer p writes as its i-th record, and its
// level: a pad whose length and bytes depend on both, so that a record
// whose bytes were overwritten by another's is caught; now and then a
// large one.
func prodLine(p, i int) (string, slog.Level) {
	lv := (p*7 + i*13) % 4
	n := (p*31 + i*17) % 300
	if i%97 == 0 {
		n = 900 + i%500
	}
	pad := strings.Repeat(string(rune('a'+(p+i)%26)), n)
	return fmt.Sprintf(`{"level":%q,"msg":"p%02d-%07d-%s"}`, prodLevels[lv], p, i, pad), slog.Level(lv*4 - 4)
}

// relevel gives a producer's line another level.
func relevel(line string, l slog.Level) string {
	k := strings.Index(line, `,"msg":`)
	return `{"level":"` + l.String() + `"` + line[k:]
}

// parseProdLine checks a delivered line byte for byte against prodLine
// (whatever its level) and returns its producer and index; p < 0 for a
// notice of the queue's own.
func parseProdLine(line []byte) (p, i int, err error) {
	s := string(line)
	k := strings.Index(s, `"msg":"p`)
	if k < 0 {
		if strings.Contains(s, "asynclog") {
			return -1, -1, nil
		}
		return 0, 0, fmt.Errorf("no producer's msg in %.120q", s)
	}
	rest := s[k+len(`"msg":"p`):]
	if len(rest) < 11 {
		return 0, 0, fmt.Errorf("short %q", s)
	}
	if p, err = strconv.Atoi(rest[:2]); err != nil {
		return 0, 0, fmt.Errorf("bad producer in %.120q", s)
	}
	if i, err = strconv.Atoi(rest[3:10]); err != nil {
		return 0, 0, fmt.Errorf("bad index in %.120q", s)
	}
	okLevel := false
	for _, l := range prodLevels {
		okLevel = okLevel || s[:k] == `{"level":"`+l+`",`
	}
	want, _ := prodLine(p, i)
	if wk := strings.Index(want, `"msg":"p`); !okLevel || want[wk:] != s[k:] {
		return 0, 0, fmt.Errorf("record p%d-%d corrupted:\n got %.120q\nwant %.120q", p, i, s, want)
	}
	return p, i, nil
}

// prodChecker takes delivered lines and checks each byte for byte, once,
// in its producer's order.
type prodChecker struct {
	mu   sync.Mutex
	last map[int]int
	seen map[[2]int]bool
	n    int // producers' records seen
	errs []string
}

func newProdChecker() *prodChecker {
	return &prodChecker{last: map[int]int{}, seen: map[[2]int]bool{}}
}

func (c *prodChecker) line(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, i, err := parseProdLine(b)
	switch {
	case err != nil:
		c.errs = append(c.errs, err.Error())
		return
	case p < 0:
		return
	}
	k := [2]int{p, i}
	if c.seen[k] {
		c.errs = append(c.errs, fmt.Sprintf("p%d-%d delivered twice", p, i))
	}
	c.seen[k] = true
	if l, ok := c.last[p]; ok && l >= i {
		c.errs = append(c.errs, fmt.Sprintf("producer %d: %d after %d", p, i, l))
	}
	c.last[p] = i
	c.n++
}

func (c *prodChecker) sink() asynclog.Sink {
	return asynclog.SinkFunc(func(_ context.Context, b []asynclog.Record) error {
		for _, r := range b {
			c.line(r.Encoded)
		}
		return nil
	})
}

func (c *prodChecker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// check fails t with the first errors seen.
func (c *prodChecker) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Empty(t, c.errs[:min(len(c.errs), 10)], "every record intact, once, in its producer's order (%d errors)", len(c.errs))
}

// lineWriter is an io.Writer for WriterSink that hands each line to the
// checker; with fail set, every fail-th Write writes nothing and fails.
type lineWriter struct {
	c    *prodChecker
	fail int64
	cnt  atomic.Int64
}

func (w *lineWriter) Write(b []byte) (int, error) {
	if w.fail > 0 && w.cnt.Add(1)%w.fail == 0 {
		return 0, io.ErrShortWrite // nothing written: the retry writes it all
	}
	for l := range bytes.Lines(b) {
		if l[len(l)-1] != '\n' {
			w.c.mu.Lock()
			w.c.errs = append(w.c.errs, fmt.Sprintf("a line without its newline: %.80q", l))
			w.c.mu.Unlock()
			continue
		}
		w.c.line(l[:len(l)-1])
	}
	return len(b), nil
}

// TestBlockDeliversEveryRecordOnceByteForByteInOrder: 32 producers of
// records from 20 B to 1.4 KB, with Flushes among them, through segments
// of 16 records sealed, taken, reset and reused all the time: in Block
// mode every record is delivered once, byte for byte, in its producer's
// order, to a SinkFunc, to WriterSink's block path, to a WriterSink
// whose Writes fail now and then and are retried, and through a spool of
// 16 KiB (whose records the log calls commit outside the lock) to a
// SinkFunc and to a WriterSink.
func TestBlockDeliversEveryRecordOnceByteForByteInOrder(t *testing.T) {
	for _, kind := range []string{"SinkFunc", "WriterSink", "WriterSink retried", "spool", "spool WriterSink"} {
		t.Run(kind, func(t *testing.T) {
			c := newProdChecker()
			sink := c.sink()
			switch kind {
			case "WriterSink":
				sink = asynclog.WriterSink(&lineWriter{c: c})
			case "WriterSink retried":
				sink = asynclog.WriterSink(&lineWriter{c: c, fail: 3})
			case "spool WriterSink":
				sink = asynclog.WriterSink(&lineWriter{c: c})
			}
			opts := asynclog.Options{
				Size: 64, MaxBytes: 8 << 10, BatchSize: 16, BlockTimeout: time.Minute,
				MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond, OnError: func(error) {},
			}
			if strings.HasPrefix(kind, "spool") {
				opts.Size, opts.MaxBytes, opts.Spool, opts.SpoolBytes = 0, 0, t.TempDir(), 16<<10
			}
			q := newQueue(t, sink, opts)
			w := asynclog.NewWriter(q)
			const producers, each = 32, 600
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					for i := range each {
						l, _ := prodLine(p, i)
						_, _ = w.Write([]byte(l + "\n"))
						if i%50 == 0 {
							assert.NoError(t, q.Flush(context.Background()), "Flush: nothing lost")
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, q.Flush(context.Background()), "Flush: nothing lost")
			assert.Equal(t, producers*each, c.count(), "every record delivered by the last Flush")
			require.NoError(t, q.Close())
			c.check(t)
			s := q.Stats()
			checkIdentity(t, s)
			assert.EqualValues(t, producers*each, s.Delivered, "%+v", s)
		})
	}
}

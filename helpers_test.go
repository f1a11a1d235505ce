package asynclog_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// recSink keeps copies of what it receives and lets a test wait for a count.
type recSink struct {
	mu      sync.Mutex
	cond    *sync.Cond
	recs    []asynclog.Record
	batches []int
	closed  int
}

func newRecSink() *recSink {
	s := &recSink{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *recSink) Write(_ context.Context, batch []asynclog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range batch {
		r.Encoded = append([]byte(nil), r.Encoded...)
		s.recs = append(s.recs, r)
	}
	s.batches = append(s.batches, len(batch))
	s.cond.Broadcast()
	return nil
}

func (s *recSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return nil
}

func (s *recSink) all() []asynclog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]asynclog.Record(nil), s.recs...)
}

func (s *recSink) closeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// messages returns the delivered messages, notices included.
func (s *recSink) messages() []string {
	var out []string
	for _, r := range s.all() {
		out = append(out, r.Message)
	}
	return out
}

// gateSink blocks every Write until released; started says a Write began.
// With honourCtx it returns at ctx's end, like a hung server; without, it
// ignores ctx, like a broken sink.
type gateSink struct {
	next      asynclog.Sink
	honourCtx bool
	started   chan struct{} // one value per Write that begins
	release   chan struct{}
	once      sync.Once
}

func newGateSink(next asynclog.Sink, honourCtx bool) *gateSink {
	return &gateSink{next: next, honourCtx: honourCtx, started: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gateSink) Write(ctx context.Context, batch []asynclog.Record) error {
	g.started <- struct{}{}
	if g.honourCtx {
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		<-g.release
	}
	if g.next == nil {
		return nil
	}
	return g.next.Write(ctx, batch)
}

func (g *gateSink) open() { g.once.Do(func() { close(g.release) }) }

// waitStarted waits for a Write to begin.
func (g *gateSink) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		require.Fail(t, "no Write began within 10s")
	}
}

func newQueue(t *testing.T, sink asynclog.Sink, opts asynclog.Options) *asynclog.Queue {
	t.Helper()
	q, err := asynclog.NewQueue(sink, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// errorLog collects what OnError receives.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func (l *errorLog) count(target error) int {
	n := 0
	for _, e := range l.all() {
		if errors.Is(e, target) {
			n++
		}
	}
	return n
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "encoded record is not JSON: %q", b)
	return m
}

// checkIdentity checks the accounting after Shutdown has returned.
func checkIdentity(t *testing.T, s asynclog.Stats) {
	t.Helper()
	require.Zero(t, s.Queued, "nothing left queued after Shutdown: %+v", s)
	require.Equal(t, s.Enqueued, s.Delivered+s.Dropped+s.Failed+uint64(s.Queued), "Enqueued = Delivered + Dropped + Failed + Queued: %+v", s)
}

// addsUp says whether a snapshot keeps Enqueued = Delivered + Dropped +
// Failed + Queued, for checks taken while records are still moving.
func addsUp(s asynclog.Stats) bool {
	return s.Enqueued == s.Delivered+s.Dropped+s.Failed+uint64(s.Queued)
}

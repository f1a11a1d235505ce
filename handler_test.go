package asynclog_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"testing/slogtest"

	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
)

// memSink keeps copies of what it receives.
type memSink struct {
	mu   sync.Mutex
	recs []asynclog.Record
}

func (s *memSink) Write(_ context.Context, batch []asynclog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range batch {
		r.Encoded = append([]byte(nil), r.Encoded...)
		s.recs = append(s.recs, r)
	}
	return nil
}

func (s *memSink) all() []asynclog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]asynclog.Record(nil), s.recs...)
}

func TestSlogtest(t *testing.T) {
	var sink *memSink
	var q *asynclog.Queue
	newHandler := func(t *testing.T) slog.Handler {
		sink = &memSink{}
		var err error
		q, err = asynclog.NewQueue(sink, asynclog.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { q.Close() })
		return asynclog.NewHandler(q, nil)
	}
	result := func(t *testing.T) map[string]any {
		require.NoError(t, q.Flush(context.Background()))
		recs := sink.all()
		require.Len(t, recs, 1)
		var m map[string]any
		require.NoError(t, json.Unmarshal(recs[0].Encoded, &m), "%s", recs[0].Encoded)
		return m
	}
	slogtest.Run(t, newHandler, result)
}

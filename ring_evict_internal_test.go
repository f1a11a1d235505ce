package asynclog

// The in-memory store's eviction cursor: a search for a record to evict
// starts past the kept records in front, whatever the segments do.

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fillKept pushes size-1 kept (Error) records and one Info into m.
func fillKept(m *memStore, size int) (put func(slog.Level)) {
	enc := []byte(`{"time":"2025-01-01T00:00:00Z","level":"ERROR","msg":"kept"}`)
	var seq uint64
	put = func(l slog.Level) {
		rec := Record{Level: l, Encoded: enc}
		m.push(seq, rec, false).write(&rec)
		seq++
	}
	for range size - 1 {
		put(slog.LevelError)
	}
	put(slog.LevelInfo)
	return put
}

// TestEvictionCursorStaysPastKeptRecords: with the store full of kept
// records but the last, each eviction takes the Info record the last push
// left, in the open segment; that segment fills with evicted records and
// is let go once a batch. The cursor must stay past the kept records
// meanwhile: sent back to the front, the next search passes all of them,
// an O(Size) log call once a batch (BenchmarkMemStoreEvictBehindKept).
func TestEvictionCursorStaysPastKeptRecords(t *testing.T) {
	const size, batch = 1024, 16
	m := newMemStore(size, 1<<20, batch)
	put := fillKept(m, size)
	for i := range 10 * batch {
		l, ok := m.evictBelow(slog.LevelError)
		require.True(t, ok && l == slog.LevelInfo, "step %d: the Info record is evicted", i)
		put(slog.LevelInfo)
		require.NotNil(t, m.curSeg, "step %d: the cursor went back to the front, before %d kept records", i, size-1)
		require.Equal(t, size, m.n, "step %d: the store stays full", i)
	}
}

// BenchmarkMemStoreEvictBehindKept: an eviction and a push, under no lock,
// in a store of 16,384 records all kept but the last (the case of
// TestEvictionCursorStaysPastKeptRecords, at the default Size and
// BatchSize). Reports p50, p99, p99.9 and the longest.
func BenchmarkMemStoreEvictBehindKept(b *testing.B) {
	m := newMemStore(16384, 16<<20, 256)
	put := fillKept(m, 16384)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, ok := m.evictBelow(slog.LevelError); !ok {
			b.Fatal("nothing to evict")
		}
		put(slog.LevelInfo)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds()), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
}

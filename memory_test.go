package asynclog_test

// Memory stays bounded: in bytes by MaxBytes as well as in records by
// Size, and under a million records into a sink that takes nothing.

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
)

// floodRecords is the number of records TestMemoryBoundedUnderBlockedSink
// logs into a queue whose sink never takes anything.
const floodRecords = 1_000_000

// heapInUse collects garbage and returns the bytes in in-use heap spans.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's cleanups let go
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestMemoryBoundedUnderBlockedSink floods a drop-mode queue whose sink is
// blocked with a million records and checks that the heap in use after
// the flood is bounded by the queue's Size, not by the number of records:
// the records dropped must leave nothing behind, and the log calls must
// not wait.
func TestMemoryBoundedUnderBlockedSink(t *testing.T) {
	for _, policy := range []asynclog.Overflow{asynclog.DropNewest, asynclog.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			const size, batch = 4096, 256
			// Per record held: the slot (Record, buffer headers, its
			// 256-byte buffer) and the record's bytes, about 500 bytes
			// together; 2 KiB is a generous margin. Plus a fixed 8 MiB for
			// the runtime and the test's own allocations.
			const perRecord, fixed = 2 << 10, 8 << 20
			bound := uint64((size+batch)*perRecord + fixed)

			before := heapInUse()
			rec := asynclogtest.NewRecorder()
			blocked := asynclogtest.NewBlocked(rec)
			q, err := asynclog.NewQueue(blocked, asynclog.Options{Size: size, BatchSize: batch, OnFull: policy, OnError: func(error) {}})
			require.NoError(t, err, "NewQueue")
			logger := slog.New(asynclog.NewHandler(q, nil))
			logger.Info("first")
			<-blocked.Entered() // the consumer is stuck in Write from now on

			// One producer: two contend for the queue's lock and are slower.
			for i := range floodRecords {
				logger.Info("flood", "i", i)
			}
			after := heapInUse()
			st := q.Stats()

			growth := int64(after) - int64(before)
			t.Logf("heap in use: %d KiB before, %d KiB after %d records (growth %d KiB, bound %d KiB); %+v",
				before>>10, after>>10, floodRecords, growth>>10, bound>>10, st)
			assert.LessOrEqual(t, growth, int64(bound), "heap growth after the flood is bounded by Size, not by the %d records", floodRecords)
			assert.Equal(t, uint64(floodRecords+1), st.Enqueued, "every record was handed to the queue: %+v", st)
			assert.Equal(t, size+1, st.Queued, "Size records wait, one is stuck in the sink: %+v", st)
			assert.Equal(t, st.Enqueued, st.Delivered+st.Dropped+st.Failed+uint64(st.Queued), "Enqueued = Delivered + Dropped + Failed + Queued: %+v", st)

			blocked.Release()
			err = q.Flush(context.Background())
			require.ErrorIs(t, err, asynclog.ErrDropped, "Flush once the sink is released reports the drops")
			assert.Contains(t, err.Error(), strconv.FormatUint(st.Dropped, 10), "with their count")
			require.NoError(t, q.Close(), "Close")
			st = q.Stats()
			assert.Equal(t, uint64(size+1), st.Delivered, "the first record and the Size queued ones are delivered: %+v", st)
			assert.Equal(t, st.Enqueued, st.Delivered+st.Dropped+st.Failed, "the identity after Close: %+v", st)
			msgs := rec.Messages()
			require.NotEmpty(t, msgs, "records arrived")
			last := string(rec.Records()[len(msgs)-1].Encoded)
			if policy == asynclog.DropOldest {
				assert.Contains(t, last, `"i":999999}`, "DropOldest keeps the newest record")
			} else {
				assert.Contains(t, last, `"i":4095}`, "DropNewest keeps the first Size records")
			}
		})
	}
}

// TestMaxBytesBoundsTheQueue: records are counted in bytes too; a record
// larger than MaxBytes is dropped and counted, never held whole.
func TestMaxBytesBoundsTheQueue(t *testing.T) {
	sink := newRecSink()
	gate := newGateSink(sink, true)
	q := newQueue(t, gate, asynclog.Options{Size: 1000, MaxBytes: 10 << 10, OnFull: asynclog.DropNewest})
	l := slog.New(asynclog.NewHandler(q, nil))
	l.Info("first")
	gate.waitStarted(t)
	pad := strings.Repeat("x", 900)
	for i := range 50 {
		l.Info("big", "i", i, "pad", pad) // about 950 bytes each: ten fit in 10 KiB
	}
	l.Info("huge", "pad", strings.Repeat("y", 20<<10)) // larger than MaxBytes
	st := q.Stats()
	assert.LessOrEqual(t, st.Queued, 1+11, "MaxBytes, not Size, bounds the queue: %+v", st)
	assert.GreaterOrEqual(t, st.Dropped, uint64(40), "%+v", st)
	gate.open()
	err := q.Close()
	require.ErrorIs(t, err, asynclog.ErrDropped)
	for _, m := range sink.messages() {
		assert.NotEqual(t, "huge", m, "a record larger than MaxBytes is not delivered")
	}
	checkIdentity(t, q.Stats())
}

// TestMemoryBoundedInBytes: 60 records of 1 MiB into a stuck sink hold
// about MaxBytes (16 MiB), not 60 MiB.
func TestMemoryBoundedInBytes(t *testing.T) {
	gate := newGateSink(nil, true)
	q := newQueue(t, gate, asynclog.Options{OnFull: asynclog.DropNewest})
	l := slog.New(asynclog.NewHandler(q, nil))
	big := strings.Repeat("z", 1<<20)
	l.Info("first", "pad", big)
	gate.waitStarted(t)
	before := heapInUse()
	for range 60 {
		l.Info("big", "pad", big)
	}
	after := heapInUse()
	growth := int64(after) - int64(before)
	bound := int64(q.Options().MaxBytes) + 4<<20
	t.Logf("heap in use %d KiB before, %d KiB after; %+v", before>>10, after>>10, q.Stats())
	assert.LessOrEqual(t, growth, bound, "heap growth bounded by MaxBytes")
	gate.open()
	require.ErrorIs(t, q.Close(), asynclog.ErrDropped)
}

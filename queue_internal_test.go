package asynclog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRec is a record of n bytes whose content identifies it.
func testRec(id, n int, level slog.Level) Record {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(id*31 + i*7)
	}
	return Record{Time: time.Unix(int64(id), 0), Level: level, Message: fmt.Sprint(id), Encoded: b}
}

// ptr is rec's address, for the log call's internals, which take the
// caller's record by pointer.
func ptr(rec Record) *Record { return &rec }

// TestBlockKeptWaitersWhoseWaitRunsOutEachEvictALowerRecord: Block mode, a
// stalled sink, the queue full of Info records, two Error records waiting
// for room one behind the other. When their BlockTimeout runs out, each
// evicts an Info record rather than being dropped (Options.KeepLevel: "In
// Block mode, a kept record whose wait ran out evicts a lower one rather
// than being dropped"), the second as well as the first. On synctest's
// clock: the waiters' order is known once both are blocked, and their
// BlockTimeout runs out exactly.
func TestBlockKeptWaitersWhoseWaitRunsOutEachEvictALowerRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{}, 16)
		var mu sync.Mutex
		var got []string
		sink := SinkFunc(func(ctx context.Context, b []Record) error {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			for _, r := range b {
				got = append(got, r.Message)
			}
			mu.Unlock()
			return nil
		})
		pub, err := NewQueue(sink, Options{Size: 3, BlockTimeout: 200 * time.Millisecond, OnError: func(error) {}})
		require.NoError(t, err, "NewQueue")
		q := pub.q
		defer pub.Close()
		info := func(m string) Record {
			return Record{Time: time.Now(), Level: slog.LevelInfo, Message: m, Encoded: []byte(m)}
		}
		q.log(ptr(info("in-flight")), false)
		<-started // the sink holds one batch: the queue itself is empty
		for i := range 3 {
			q.log(ptr(info(fmt.Sprint("info", i))), false)
		}
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := fmt.Sprint("error", i)
				q.log(ptr(Record{Time: time.Now(), Level: slog.LevelError, Message: m, Encoded: []byte(m)}), false)
			}()
			synctest.Wait() // error0 is waiting before error1 starts
			q.mu.Lock()
			n := len(q.waiters)
			q.mu.Unlock()
			require.Equal(t, i+1, n, "log calls waiting for room")
		}
		wg.Wait()
		s := pub.Stats()
		close(release)
		if err := pub.Flush(context.Background()); err != nil {
			require.ErrorIs(t, err, ErrDropped, "Flush")
		}
		mu.Lock()
		defer mu.Unlock()
		assert.Contains(t, got, "error0", "the first kept record is delivered (stats before release %+v)", s)
		assert.Contains(t, got, "error1", "the second kept record is delivered, not dropped while Info records were queued (stats before release %+v)", s)
	})
}

// TestShutdownAbandoningAsTheSinkReturnsCountsTheBatchOnce: Shutdown gives
// the drain up (a tenth of its time before its deadline) at the very
// instant the sink returns the batch in flight, or a microsecond either
// side; the batch is counted once, as Failed or as Delivered, never both,
// so Stats add up after every Shutdown. On synctest's clock the two events
// fall on exactly the same instant; which goroutine runs first is left to
// the scheduler, so the test repeats.
func TestShutdownAbandoningAsTheSinkReturnsCountsTheBatchOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range 50 {
			for _, skew := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
				start := time.Now()
				// Shutdown abandons at deadline - (deadline-start)/10.
				abandonAt := start.Add(90 * time.Millisecond)
				sink := SinkFunc(func(ctx context.Context, b []Record) error {
					time.Sleep(time.Until(abandonAt.Add(skew))) // returns as the drain is given up
					return nil
				})
				pub, err := NewQueue(sink, Options{OnError: func(error) {}})
				require.NoError(t, err, "NewQueue")
				for i := range 50 {
					pub.q.log(ptr(testRec(i, 10, slog.LevelInfo)), false)
				}
				ctx, cancel := context.WithDeadline(context.Background(), start.Add(100*time.Millisecond))
				_ = pub.Shutdown(ctx)
				cancel()
				<-pub.q.done
				s := pub.Stats()
				require.Zero(t, s.Queued, "round %d, skew %v: nothing left queued: %+v", round, skew, s)
				require.Equal(t, s.Enqueued, s.Delivered+s.Dropped+s.Failed+uint64(s.Queued), "round %d, skew %v: Stats add up: %+v", round, skew, s)
			}
		}
	})
}

package asynclog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// atkRec is a record of n bytes whose content identifies it.
func atkRec(id, n int, level slog.Level) Record {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(id*31 + i*7)
	}
	return Record{Time: time.Unix(int64(id), 0), Level: level, Message: fmt.Sprint(id), Encoded: b}
}

// TestAttackBlockKeptWaiterBehindStallIsDropped: Block mode, dead sink,
// queue full of Info records. Two Error records wait for room. When the
// first one's BlockTimeout runs out, it evicts an Info record (documented),
// but the second Error record, waiting behind it, is dropped outright
// although Info records are still queued that it could have evicted.
// Options.KeepLevel: "In Block mode, a kept record whose wait ran out
// evicts a lower one rather than being dropped."
func TestAttackBlockKeptWaiterBehindStallIsDropped(t *testing.T) {
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
	if err != nil {
		t.Fatal(err)
	}
	q := pub.q
	defer pub.Close()
	info := func(m string) Record {
		return Record{Time: time.Now(), Level: slog.LevelInfo, Message: m, Encoded: []byte(m)}
	}
	q.log(info("in-flight"), false)
	<-started // the sink holds one batch: the queue itself is empty
	for i := range 3 {
		q.log(info(fmt.Sprint("info", i)), false)
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := fmt.Sprint("error", i)
			q.log(Record{Time: time.Now(), Level: slog.LevelError, Message: m, Encoded: []byte(m)}, false)
		}()
		// Wait until it is queued as a waiter, so that error0 waits first.
		for {
			q.mu.Lock()
			n := len(q.waiters)
			q.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	s := pub.Stats()
	close(release)
	if err := pub.Flush(context.Background()); err != nil && !errors.Is(err, ErrDropped) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	have := map[string]bool{}
	for _, m := range got {
		have[m] = true
	}
	if !have["error0"] || !have["error1"] {
		t.Fatalf("kept record dropped while Info records were queued: delivered %q, stats %+v", got, s)
	}
}

// TestAttackAbandonVsSettleDoubleCount races Shutdown's deadline against
// a Write that returns at about the same moment: abandon() counts the
// in-flight batch as Failed and unlocks before cancelling abortCtx
// (queue.go abandon: q.mu.Unlock(); q.abort()), so the consumer's
// settleLocked can still see abortCtx.Err() == nil and count the same
// records again as Delivered. Checks the identity after each Shutdown.
func TestAttackAbandonVsSettleDoubleCount(t *testing.T) {
	deadline := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	var bad atomic.Pointer[Stats]
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && bad.Load() == nil {
				at := time.Now().Add(20 * time.Millisecond)
				sink := SinkFunc(func(ctx context.Context, b []Record) error {
					time.Sleep(time.Until(at) + time.Duration(rand.IntN(200))*time.Microsecond)
					return nil
				})
				pub, err := NewQueue(sink, Options{OnError: func(error) {}})
				if err != nil {
					t.Error(err)
					return
				}
				for i := range 50 {
					pub.q.log(atkRec(i, 10, slog.LevelInfo), false)
				}
				// Shutdown abandons at deadline - remaining/10: make that
				// coincide with the sink's return.
				ctx, cancel := context.WithDeadline(context.Background(), at.Add(time.Until(at)/9))
				_ = pub.Shutdown(ctx)
				cancel()
				<-pub.q.done
				s := pub.Stats()
				if s.Enqueued != s.Delivered+s.Dropped+s.Failed+uint64(s.Queued) || s.Queued != 0 {
					bad.Store(&s)
				}
			}
		}()
	}
	wg.Wait()
	if s := bad.Load(); s != nil {
		t.Fatalf("identity broken after Shutdown: %+v", *s)
	}
}

// atkLeaveInSpool logs recs into a spool behind a sink that never answers
// and shuts down at a short deadline, so they stay in the spool.
func atkLeaveInSpool(t *testing.T, dir string, spoolBytes int64, recs []Record) {
	t.Helper()
	sink := SinkFunc(func(ctx context.Context, b []Record) error { <-ctx.Done(); return ctx.Err() })
	pub, err := NewQueue(sink, Options{Spool: dir, SpoolBytes: spoolBytes, OnError: func(error) {}, OnFull: DropNewest})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		pub.q.log(r, false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = pub.Shutdown(ctx)
	<-pub.q.done
}

// TestAttackCrashRecordEvictsUncounted: a full spool left by a crashed run
// (with a crash report) is reopened with CrashReport. openSpool
// (spool.go makeRoomFor) evicts replayed records to fit the crash record,
// but they were already counted in Enqueued and are never counted as
// Dropped: after Close, Enqueued != Delivered+Dropped+Failed+Queued.
func TestAttackCrashRecordEvictsUncounted(t *testing.T) {
	dir := t.TempDir()
	var recs []Record
	for i := range 3 {
		recs = append(recs, atkRec(i, 1200, slog.LevelInfo))
	}
	atkLeaveInSpool(t, dir, 4096, recs)
	// What the runtime would have written at a crash.
	if err := os.WriteFile(filepath.Join(dir, "crash"), bytes.Repeat([]byte("panic: boom\n"), 150), 0o600); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	sink := SinkFunc(func(ctx context.Context, b []Record) error { n.Add(int64(len(b))); return nil })
	pub, err := NewQueue(sink, Options{Spool: dir, SpoolBytes: 4096, CrashReport: true, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	closeErr := pub.Close()
	s := pub.Stats()
	if s.Enqueued != s.Delivered+s.Dropped+s.Failed+uint64(s.Queued) {
		t.Fatalf("identity broken: %+v (delivered to sink %d, Close: %v)", s, n.Load(), closeErr)
	}
}

// TestAttackFlushGiveUpRaceDeadlocks: a Flush whose ctx ends while the
// consumer answers it at the same moment locks q.mu twice (queue.go
// flush: the ctx.Done branch takes the lock with a deferred Unlock, finds
// w.ready closed, falls out of the select and calls q.mu.Lock() again):
// the queue's mutex is never released and every log call, Stats, Flush and
// Shutdown hangs for ever. Seen first in TestAttackStatsIdentityUnderChaos.
func TestAttackFlushGiveUpRaceDeadlocks(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	sink := SinkFunc(func(ctx context.Context, b []Record) error {
		started <- struct{}{}
		<-release
		return nil
	})
	pub, err := NewQueue(sink, Options{OnError: func(error) {}, CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	q := pub.q
	defer close(release)
	q.log(atkRec(0, 10, slog.LevelInfo), false)
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = pub.Flush(ctx) }()
	for {
		q.mu.Lock()
		n := len(q.flushes)
		q.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The consumer's answer and ctx's end coincide: Flush sees ctx.Done
	// first and waits for the lock while the barrier is passed.
	q.mu.Lock()
	cancel()
	time.Sleep(50 * time.Millisecond) // Flush is now blocked on q.mu in its ctx.Done branch
	q.settled = q.seq
	q.answerFlushesLocked()
	q.mu.Unlock()
	time.Sleep(50 * time.Millisecond) // let Flush take the lock first

	done := make(chan struct{})
	go func() { _ = pub.Stats(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("queue deadlocked: Stats did not return within 1s after a Flush gave up as it was answered")
	}
}

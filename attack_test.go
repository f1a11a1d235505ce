package asynclog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynclog/asynclog"
)

func atkIdentity(s asynclog.Stats) bool {
	return s.Enqueued == s.Delivered+s.Dropped+s.Failed+uint64(s.Queued)
}

// chaosSink fails, panics, refuses part or delivers part at random.
type chaosSink struct {
	n atomic.Int64
}

func (c *chaosSink) Write(ctx context.Context, b []asynclog.Record) error {
	switch rand.IntN(8) {
	case 0:
		return errors.New("flaky")
	case 1:
		panic("chaos")
	case 2:
		return asynclog.Partial(errors.New("part"), rand.IntN(len(b)+2)-1)
	case 3:
		return asynclog.Delivered(errors.New("some"), rand.IntN(len(b)+2)-1)
	case 4:
		return asynclog.Permanent(errors.New("perm"))
	case 5:
		return asynclog.RetryAfter(errors.New("later"), time.Microsecond)
	}
	c.n.Add(int64(len(b)))
	return nil
}

// TestAttackStatsIdentityUnderChaos floods each overflow policy with
// many producers through a chaotic sink and a chaotic fallback, takes
// snapshots concurrently, flushes concurrently, then shuts down while
// producers are still logging.
func TestAttackStatsIdentityUnderChaos(t *testing.T) {
	for _, mode := range []asynclog.Overflow{asynclog.Block, asynclog.DropNewest, asynclog.DropOldest} {
		t.Run(mode.String(), func(t *testing.T) {
			q, err := asynclog.NewQueue(&chaosSink{}, asynclog.Options{
				Size: 16, MaxBytes: 2000, OnFull: mode, BatchSize: 5,
				MinBackoff: time.Microsecond, MaxBackoff: 10 * time.Microsecond, MaxAttempts: 3,
				BlockTimeout: 20 * time.Millisecond, Fallback: &chaosSink{},
				OnError: func(error) {},
			})
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(asynclog.NewHandler(q, nil))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var bad atomic.Pointer[asynclog.Stats]
			for p := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						lvl := slog.LevelInfo
						if i%5 == 0 {
							lvl = slog.LevelError
						}
						log.Log(context.Background(), lvl, "m", "p", p, "i", i, "pad", strings.Repeat("x", rand.IntN(300)))
					}
				}()
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if s := q.Stats(); !atkIdentity(s) {
						bad.Store(&s)
					}
				}
			}()
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					// No timeout here: a Flush giving up as it is answered
					// deadlocks the queue (TestAttackFlushGiveUpRaceDeadlocks).
					_ = q.Flush(context.Background())
				}
			}()
			time.Sleep(300 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_ = q.Shutdown(ctx)
			cancel()
			close(stop)
			waited := make(chan struct{})
			go func() { wg.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(3 * time.Second):
				t.Fatal("producers, Stats or Flush still blocked 3s after Shutdown returned")
			}
			if s := bad.Load(); s != nil {
				t.Fatalf("identity broken in a snapshot: %+v", *s)
			}
			s := q.Stats()
			if !atkIdentity(s) || s.Queued != 0 {
				t.Fatalf("after Shutdown: %+v", s)
			}
		})
	}
}

// TestAttackShutdownBoundedAndSameResult: a sink that ignores ctx and
// never returns; Shutdown, Close, Flush and log calls from many goroutines.
func TestAttackShutdownBoundedAndSameResult(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	started := make(chan struct{}, 100)
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		started <- struct{}{}
		<-block
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(error) {}, CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(asynclog.NewHandler(q, nil))
	log.Info("first")
	<-started
	for i := range 10 {
		log.Info("queued", "i", i)
	}
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				errs[i] = q.Shutdown(ctx)
			} else {
				errs[i] = q.Close()
			}
			log.Info("late")
			if err := q.Flush(context.Background()); !errors.Is(err, asynclog.ErrClosed) {
				t.Errorf("Flush after Shutdown: %v", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(begin); d > 600*time.Millisecond {
		t.Fatalf("Shutdown took %v with a 300ms bound", d)
	}
	s := q.Stats()
	if !atkIdentity(s) || s.Queued != 0 {
		t.Fatalf("after Shutdown: %+v", s)
	}
	t.Logf("results: %v", errs)
}

// TestAttackFlushAfterReplayWaits: a Flush right after NewQueue on a
// spool with replayed records waits for them.
func TestAttackFlushAfterReplayWaits(t *testing.T) {
	dir := t.TempDir()
	{
		sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error { <-ctx.Done(); return ctx.Err() })
		q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir, OnError: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		w := asynclog.NewWriter(q)
		for i := range 20 {
			fmt.Fprintf(w, `{"level":"INFO","msg":"r%d"}`+"\n", i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_ = q.Shutdown(ctx)
		cancel()
	}
	gate := make(chan struct{})
	var mu sync.Mutex
	var got []string
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		<-gate
		mu.Lock()
		for _, r := range b {
			got = append(got, r.Message)
		}
		mu.Unlock()
		return nil
	})
	var q *asynclog.Queue
	var err error
	for range 100 { // the first queue's consumer may still hold the lock briefly
		q, err = asynclog.NewQueue(sink, asynclog.Options{Spool: dir, OnError: func(error) {}})
		if !errors.Is(err, asynclog.ErrSpoolInUse) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if s := q.Stats(); s.Replayed != 20 || !atkIdentity(s) {
		t.Fatalf("after replay: %+v", s)
	}
	if _, err := asynclog.NewQueue(sink, asynclog.Options{Spool: dir}); !errors.Is(err, asynclog.ErrSpoolInUse) {
		t.Fatalf("second queue: %v", err)
	}
	done := make(chan error)
	go func() { done <- q.Flush(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Flush returned %v before the replayed records were delivered", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 20 {
		t.Fatalf("got %d records: %q", len(got), got)
	}
	for i, m := range got {
		if m != fmt.Sprintf("r%d", i) {
			t.Fatalf("order: %q", got)
		}
	}
}

// TestAttackSpoolBadDirs: a Spool that is a file, or an unwritable dir;
// SpoolBytes smaller than one record.
func TestAttackSpoolBadDirs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil })
	if q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: f}); err == nil {
		q.Close()
		t.Fatal("spool on a file: no error")
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: ro}); err == nil {
			q.Close()
			t.Fatal("unwritable spool: no error")
		}
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: filepath.Join(dir, "small"), SpoolBytes: 4096, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	w := asynclog.NewWriter(q)
	fmt.Fprintf(w, `{"level":"ERROR","msg":"%s"}`+"\n", strings.Repeat("y", 5000))
	fmt.Fprintln(w, `{"level":"INFO","msg":"ok"}`)
	err = q.Flush(context.Background())
	if !errors.Is(err, asynclog.ErrDropped) {
		t.Fatalf("oversized record: Flush = %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Dropped != 1 || s.Delivered != 1 || !atkIdentity(s) {
		t.Fatalf("%+v", s)
	}
}

// TestAttackMaxBytesEdges: records of exactly MaxBytes, MaxBytes+1 and
// 0 bytes (after trimming), delivered byte for byte.
func TestAttackMaxBytesEdges(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		mu.Lock()
		for _, r := range b {
			got = append(got, append([]byte(nil), r.Encoded...))
		}
		mu.Unlock()
		return nil
	})
	const mb = 1000
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 4, MaxBytes: mb, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	w := asynclog.NewWriter(q)
	exact := strings.Repeat("a", mb)
	over := strings.Repeat("b", mb+1)
	w.Write([]byte(exact))
	w.Write([]byte(over))
	w.Write([]byte("\n")) // empty after trimming: not a record
	w.Write([]byte("c"))
	err = q.Flush(context.Background())
	if !errors.Is(err, asynclog.ErrDropped) || !strings.Contains(err.Error(), ": 1") {
		t.Fatalf("Flush: %v", err)
	}
	if err := q.Flush(context.Background()); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	q.Close()
	mu.Lock()
	defer mu.Unlock()
	var texts []string
	for _, b := range got {
		if !strings.HasPrefix(string(b), "{") {
			texts = append(texts, string(b))
		}
	}
	if len(texts) != 2 || texts[0] != exact || texts[1] != "c" {
		t.Fatalf("got %d records", len(texts))
	}
}

// TestAttackBlockFIFO: with a slow sink, waiters are served in arrival
// order and nothing is lost.
func TestAttackBlockFIFO(t *testing.T) {
	var mu sync.Mutex
	var got []string
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		for _, r := range b {
			got = append(got, r.Message)
		}
		mu.Unlock()
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 4, BatchSize: 2, BlockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(asynclog.NewHandler(q, nil))
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				log.Info(fmt.Sprintf("p%d-%04d", p, i))
			}
		}()
	}
	wg.Wait()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	s := q.Stats()
	if s.Dropped != 0 || s.Delivered != 1600 {
		t.Fatalf("%+v", s)
	}
	last := map[string]string{}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range got {
		p := m[:2]
		if m <= last[p] {
			t.Fatalf("per-producer order broken: %s after %s", m, last[p])
		}
		last[p] = m
	}
}

// TestAttackReentrant: Flush and Close from a Sink and from OnError.
func TestAttackReentrant(t *testing.T) {
	var q *asynclog.Queue
	var fromSink, fromOnErr atomic.Pointer[error]
	ready := make(chan struct{})
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		<-ready
		e1 := q.Flush(ctx)
		e2 := q.Close()
		e := errors.Join(e1, e2)
		if !errors.Is(e1, asynclog.ErrReentrant) || !errors.Is(e2, asynclog.ErrReentrant) {
			fromSink.Store(&e)
		}
		return errors.New("fail once")
	})
	var err error
	q, err = asynclog.NewQueue(sink, asynclog.Options{MaxAttempts: 1, OnError: func(error) {
		e := q.Flush(context.Background())
		if !errors.Is(e, asynclog.ErrReentrant) {
			fromOnErr.Store(&e)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	slog.New(asynclog.NewHandler(q, nil)).Info("x")
	if err := q.Flush(context.Background()); err == nil {
		t.Fatal("Flush did not report the failure")
	}
	q.Close()
	if e := fromSink.Load(); e != nil {
		t.Fatalf("from Sink: %v", *e)
	}
	if e := fromOnErr.Load(); e != nil {
		t.Fatalf("from OnError: %v", *e)
	}
}

// TestAttackKeepLevelWhilePacing: DropOldest and DropNewest with a long
// MinInterval: Error records evict Info ones while the consumer waits out
// the interval, and are all delivered.
func TestAttackKeepLevelWhilePacing(t *testing.T) {
	for _, mode := range []asynclog.Overflow{asynclog.DropNewest, asynclog.DropOldest} {
		t.Run(mode.String(), func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
				mu.Lock()
				for _, r := range b {
					got = append(got, r.Message)
				}
				mu.Unlock()
				return nil
			})
			q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 8, MaxBytes: 1500, OnFull: mode, MinInterval: time.Hour, OnError: func(error) {}})
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(asynclog.NewHandler(q, nil))
			log.Info("first") // starts the interval
			if err := q.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := 0
			for i := range 200 {
				if i%3 == 0 {
					log.Error(fmt.Sprintf("E%03d", i), "pad", strings.Repeat("p", rand.IntN(100)))
					want++
				} else {
					log.Info(fmt.Sprintf("I%03d", i), "pad", strings.Repeat("p", rand.IntN(100)))
				}
				if i%6 == 5 {
					_ = q.Flush(context.Background()) // Flush does not wait out MinInterval
				}
			}
			err = q.Flush(context.Background())
			q.Close()
			mu.Lock()
			defer mu.Unlock()
			n := 0
			last := ""
			for _, m := range got {
				if strings.HasPrefix(m, "E") {
					if m <= last {
						t.Fatalf("order: %s after %s", m, last)
					}
					last = m
					n++
				}
			}
			if n != want {
				t.Fatalf("delivered %d of %d Error records (Flush: %v, stats %+v)", n, want, err, q.Stats())
			}
		})
	}
}

// TestAttackSpoolDropOldestKeep: a spool behind a stopped sink, mixed
// levels under DropOldest: every Error record survives, in order, and
// the stats add up.
func TestAttackSpoolDropOldestKeep(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	var mu sync.Mutex
	var got []string
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
		mu.Lock()
		for _, r := range b {
			got = append(got, r.Message)
		}
		mu.Unlock()
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Spool: t.TempDir(), SpoolBytes: 8192, OnFull: asynclog.DropOldest, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	w := asynclog.NewWriter(q)
	fmt.Fprintln(w, `{"level":"INFO","msg":"held"}`)
	<-started
	want := 0
	for i := range 300 {
		lvl := "INFO"
		if i%10 == 0 {
			lvl = "ERROR"
			want++
		}
		fmt.Fprintf(w, `{"level":%q,"msg":"%s%03d","pad":%q}`+"\n", lvl, lvl[:1], i, strings.Repeat("z", rand.IntN(150)))
		if s := q.Stats(); !atkIdentity(s) {
			t.Fatalf("identity: %+v", s)
		}
	}
	close(gate)
	_ = q.Flush(context.Background())
	if err := q.Close(); err != nil {
		t.Log(err)
	}
	s := q.Stats()
	if !atkIdentity(s) || s.Queued != 0 {
		t.Fatalf("stats %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	n, last := 0, ""
	for _, m := range got {
		if strings.HasPrefix(m, "E") {
			if m <= last {
				t.Fatalf("order: %s after %s", m, last)
			}
			last = m
			n++
		}
	}
	if n != want {
		t.Fatalf("delivered %d of %d Error records; stats %+v", n, want, s)
	}
}

// TestAttackBlockSlowSinkNoDrop: each record takes 60% of BlockTimeout
// to leave a one-slot queue, so waits exceed BlockTimeout in total but
// never pass a whole BlockTimeout without progress: nothing is dropped.
func TestAttackBlockSlowSinkNoDrop(t *testing.T) {
	const bt = 100 * time.Millisecond
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		time.Sleep(bt * 6 / 10)
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 1, BatchSize: 1, BlockTimeout: bt, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(asynclog.NewHandler(q, nil))
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				log.Info("slow", "p", p, "i", i)
			}
		}()
	}
	wg.Wait()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Dropped != 0 || s.Delivered != 12 {
		t.Fatalf("%+v", s)
	}
}

// TestAttackWriterAllocs: a warm io.Writer log call allocates nothing.
func TestAttackWriterAllocs(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil }), asynclog.Options{OnFull: asynclog.DropNewest, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	w := asynclog.NewWriter(q)
	line := []byte(`{"level":"warn","msg":"hello \"x\"","k":1}` + "\n")
	lf := []byte("time=now level=ERROR msg=\"boom\" k=v\n")
	w.Write(line)
	if a := testing.AllocsPerRun(200, func() { w.Write(line); w.Write(lf) }); a != 0 {
		t.Fatalf("%v allocs per call", a)
	}
}

// TestAttackKeptWaitUnboundedWhilePacing: drop mode, MinInterval long,
// queue full of kept (Error) records: the next Error log call should wait
// "bounded like Block" (Options.KeepLevel), i.e. about BlockTimeout with
// no progress. waitRoomLocked (queue.go, "if q.released != mark ||
// q.pacing") restarts the bound for as long as the consumer is pacing, so
// the call blocks for the whole MinInterval instead (here 3s against a
// 50ms BlockTimeout; with "one email a minute", a minute).
func TestAttackKeptWaitUnboundedWhilePacing(t *testing.T) {
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error { return nil })
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 4, OnFull: asynclog.DropNewest, MinInterval: 3 * time.Second, BlockTimeout: 50 * time.Millisecond, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	log := slog.New(asynclog.NewHandler(q, nil))
	log.Info("first")
	if err := q.Flush(context.Background()); err != nil { // starts the interval
		t.Fatal(err)
	}
	for range 4 {
		log.Error("kept")
	}
	done := make(chan struct{})
	begin := time.Now()
	go func() { log.Error("one more"); close(done) }()
	select {
	case <-done:
	case <-time.After(500 * time.Millisecond):
		t.Errorf("an Error log call still blocked after %v with BlockTimeout 50ms", time.Since(begin))
		<-done
	}
}

// TestAttackConcurrentBytesIntact: many producers, random sizes from 1 B
// to MaxBytes+1, DropOldest with a small MaxBytes so that the buffer grows,
// wraps and evicts across its end; every delivered record must be exactly a
// line that was logged (each line carries its own length and a pattern).
func TestAttackConcurrentBytesIntact(t *testing.T) {
	const mb = 4096
	var bad atomic.Pointer[string]
	var n atomic.Int64
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		for _, r := range b {
			e := string(r.Encoded)
			if strings.HasPrefix(e, "{") { // drop notice
				continue
			}
			var p, i, l int
			if _, err := fmt.Sscanf(e, "level=%s", new(string)); err != nil {
				bad.Store(&e)
				continue
			}
			idx := strings.Index(e, " id=")
			if idx < 0 {
				bad.Store(&e)
				continue
			}
			if _, err := fmt.Sscanf(e[idx:], " id=%d/%d len=%d ", &p, &i, &l); err != nil || l != len(e) || e != atkLine(r.Level >= slog.LevelError, p, i, l) {
				bad.Store(&e)
			}
			n.Add(1)
		}
		if rand.IntN(4) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: 64, MaxBytes: mb, OnFull: asynclog.DropOldest, BatchSize: 7, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	w := asynclog.NewWriter(q)
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				l := 40 + rand.IntN(mb/3)
				if rand.IntN(50) == 0 {
					l = mb + rand.IntN(2) // exactly MaxBytes, or one more
				}
				w.Write([]byte(atkLine(i%4 == 0, p, i, l)))
			}
		}()
	}
	wg.Wait()
	_ = q.Flush(context.Background())
	q.Close()
	if e := bad.Load(); e != nil {
		t.Fatalf("corrupted record delivered (%d B): %.120q", len(*e), *e)
	}
	s := q.Stats()
	if !atkIdentity(s) || s.Queued != 0 || int64(s.Delivered) != n.Load() {
		t.Fatalf("stats %+v, sink counted %d", s, n.Load())
	}
}

// atkLine is a logfmt line of exactly l bytes (l >= 40).
func atkLine(kept bool, p, i, l int) string {
	lvl := "INFO "
	if kept {
		lvl = "ERROR"
	}
	head := fmt.Sprintf("level=%s id=%d/%d len=%d ", lvl, p, i, l)
	var b strings.Builder
	b.WriteString(head)
	for j := b.Len(); j < l; j++ {
		b.WriteByte(byte('a' + (p*7+i+j)%26))
	}
	return b.String()
}

// TestAttackShutdownSameResultForAll: a sink that honours ctx; several
// concurrent Shutdown/Close calls with equal bounds must return the same
// result.
func TestAttackShutdownSameResultForAll(t *testing.T) {
	started := make(chan struct{}, 100)
	sink := asynclog.SinkFunc(func(ctx context.Context, b []asynclog.Record) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(error) {}, CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(asynclog.NewHandler(q, nil))
	log.Info("first")
	<-started
	for i := range 10 {
		log.Info("queued", "i", i)
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = q.Close()
		}()
	}
	wg.Wait()
	for i := range errs {
		if fmt.Sprint(errs[i]) != fmt.Sprint(errs[0]) {
			t.Fatalf("results differ: %d: %v; 0: %v", i, errs[i], errs[0])
		}
	}
	if s := q.Stats(); !atkIdentity(s) || s.Queued != 0 {
		t.Fatalf("%+v", s)
	}
}

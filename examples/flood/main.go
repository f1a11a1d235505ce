// Command flood floods a deliberately slow in-process sink through zap and
// slog at once, shows live progress (queue depth, delivered per second,
// dropped), then closes the queue and prints a summary. It needs no outside
// service. In Block mode (the default) it exits 0 only if every record was
// delivered.
//
//	go run ./examples/flood
//	go run ./examples/flood -policy drop-newest -delay 20ms
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

func main() {
	records := flag.Int("records", 200_000, "records to log in all")
	goroutines := flag.Int("goroutines", 8, "goroutines logging at once (half zap, half slog)")
	delay := flag.Duration("delay", 2*time.Millisecond, "what each Sink.Write costs, whatever its size (an HTTP round trip)")
	policy := flag.String("policy", "block", "when the queue is full: block, drop-newest or drop-oldest")
	size := flag.Int("size", 4096, "queue size in records")
	flag.Parse()
	if err := run(*records, *goroutines, *delay, *policy, *size); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

// slowSink counts what it receives, paying delay for every batch.
type slowSink struct {
	delay     time.Duration
	delivered atomic.Int64
	notices   atomic.Int64
}

func (s *slowSink) Write(ctx context.Context, batch []asynclog.Record) error {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, r := range batch {
		if r.Message == "work done" {
			s.delivered.Add(1)
		} else {
			s.notices.Add(1) // the in-band report of dropped records
		}
	}
	return nil
}

func run(records, goroutines int, delay time.Duration, policy string, size int) error {
	var onFull asynclog.Overflow
	switch policy {
	case "block":
		onFull = asynclog.Block
	case "drop-newest":
		onFull = asynclog.DropNewest
	case "drop-oldest":
		onFull = asynclog.DropOldest
	default:
		return fmt.Errorf("unknown -policy %q (want block, drop-newest or drop-oldest)", policy)
	}
	if goroutines < 1 || records < goroutines {
		return fmt.Errorf("need at least one goroutine and one record per goroutine")
	}

	sink := &slowSink{delay: delay}
	q, err := asynclog.NewQueue(sink, asynclog.Options{Size: size, OnFull: onFull, ExitHook: true})
	if err != nil {
		return err
	}
	defer q.Close()

	zl := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.InfoLevel, q))
	sl := slog.New(asynclog.NewHandler(q, nil))

	fmt.Printf("flooding %d records from %d goroutines into a sink that costs %v a batch (policy %s, size %d)\n",
		records, goroutines, delay, policy, size)
	start := time.Now()
	var callers sync.WaitGroup
	var worst atomic.Int64 // the slowest single log call, ns
	per := records / goroutines
	for g := range goroutines {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for i := range per {
				t0 := time.Now()
				if g%2 == 0 {
					zl.Info("work done", zap.Int("g", g), zap.Int("i", i), zap.String("path", "/api/orders"), zap.Duration("took", 3*time.Millisecond))
				} else {
					sl.Info("work done", "g", g, "i", i, "path", "/api/orders", "took", 3*time.Millisecond)
				}
				if d := int64(time.Since(t0)); d > worst.Load() {
					worst.Store(d) // racy max, good enough for a display
				}
			}
		}()
	}

	done := make(chan struct{})
	go func() { callers.Wait(); close(done) }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := int64(0), start
	for running := true; running; {
		select {
		case <-done:
			running = false
		case now := <-tick.C:
			s := q.Stats()
			d := sink.delivered.Load()
			rate := float64(d-last) / now.Sub(lastAt).Seconds()
			last, lastAt = d, now
			fmt.Printf("\r  queued %5d   delivered %8d (%7.0f/s)   dropped %7d   ", s.Queued, d, rate, s.Dropped)
		}
	}
	logged := time.Since(start)

	closeStart := time.Now()
	if err := q.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	s := q.Stats()
	fmt.Printf("\r  queued %5d   delivered %8d   dropped %7d   %20s\n", s.Queued, sink.delivered.Load(), s.Dropped, "")
	fmt.Printf("logged %d records in %v (slowest log call %v); Close drained the rest in %v\n",
		per*goroutines, logged.Round(time.Millisecond), time.Duration(worst.Load()).Round(time.Microsecond), time.Since(closeStart).Round(time.Millisecond))
	fmt.Printf("stats: enqueued %d = delivered %d + dropped %d + failed %d; drop notices in the stream: %d\n",
		s.Enqueued, s.Delivered, s.Dropped, s.Failed, sink.notices.Load())

	if s.Enqueued != s.Delivered+s.Dropped+s.Failed {
		return fmt.Errorf("accounting broken: %+v", s)
	}
	if onFull == asynclog.Block && (s.Dropped != 0 || s.Failed != 0 || sink.delivered.Load() != int64(per*goroutines)) {
		return fmt.Errorf("lost records in Block mode: %+v", s)
	}
	if s.Dropped+s.Failed == 0 {
		fmt.Println("nothing lost")
	} else {
		fmt.Printf("%d records dropped by the %s policy, every one counted and announced in the stream\n", s.Dropped+s.Failed, policy)
	}
	return nil
}

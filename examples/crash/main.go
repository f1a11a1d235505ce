// Command crash shows the spool: a program that panics on purpose loses
// none of its last lines, and the next start delivers them together with
// the runtime's own crash report.
//
//	go run ./examples/crash
//
// It runs itself twice. The first run (a child process) logs a few lines
// into a queue kept in a spool directory, in front of a sink too slow to
// have written them, and then panics in another goroutine: Go runs nothing
// of ours at that exit. The second run opens the same spool and delivers
// what the first left, and the crash report, to standard output.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/asynclog/asynclog"
)

const childEnv = "ASYNCLOG_CRASH_CHILD"

func main() {
	dir := os.Getenv("ASYNCLOG_CRASH_SPOOL")
	if dir == "" {
		d, err := os.MkdirTemp("", "asynclog-crash-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(d)
		dir = filepath.Join(d, "spool")
	}
	if os.Getenv(childEnv) != "" {
		crash(dir)
		return
	}

	fmt.Println("first run: logs 5 lines, then panics")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", "ASYNCLOG_CRASH_SPOOL="+dir)
	cmd.Stdout = os.Stdout
	err := cmd.Run()
	fmt.Printf("first run ended: %v (its panic report went to the spool)\n\n", err)

	fmt.Println("second run: the same spool delivers what the first could not")
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stdout), asynclog.Options{Spool: dir, CrashReport: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := q.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st := q.Stats()
	fmt.Printf("\nreplayed %d records from the first run; delivered %d in all\n", st.Replayed, st.Delivered)
}

// crash is the first run: it logs into the spool and dies of a panic.
func crash(dir string) {
	stuck := asynclog.SinkFunc(func(ctx context.Context, _ []asynclog.Record) error {
		<-ctx.Done() // a collector that never answers
		return ctx.Err()
	})
	q, err := asynclog.NewQueue(stuck, asynclog.Options{Spool: dir, CrashReport: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer q.Close() // never runs: the panic below is in another goroutine
	logger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	for i := range 4 {
		logger.Info("working", "step", i)
	}
	logger.Error("about to fail", "why", "a nil map")
	done := make(chan struct{})
	go func() {
		var m map[string]int
		m["boom"]++ // panics: assignment to entry in nil map
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
}

// dropTime keeps the output the same from run to run.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
)

func main() {
	os.Exit(run())
}

func run() int {
	smoke := flag.Bool("smoke", false, "a short pass with a few thousand records, for CI; writes to a temporary directory unless -out is given")
	out := flag.String("out", "", `directory for results.md and latency.svg (default "results", or a temporary directory with -smoke)`)
	only := flag.String("scenarios", "1,2,3,4,5,6", "comma-separated scenarios to run")
	flag.Parse()

	sz := fullSizes()
	cmd := "cd bench && go run ."
	if *smoke {
		sz = smokeSizes()
		cmd = "cd bench && go run . -smoke"
	}
	dir := *out
	if dir == "" {
		dir = "results"
		if *smoke {
			tmp, err := os.MkdirTemp("", "asynclog-bench-")
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				return 1
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
	}

	drops := &otelDropCounter{}
	otel.SetLogger(logr.New(drops))
	b := &bench{
		sz:        sz,
		env:       &env{otelDrops: drops},
		samples:   map[string]string{},
		loadStart: loadAvg(),
		progress: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		},
	}
	t0 := time.Now()
	run := map[string]func(){"1": b.scenario1, "2": b.scenario2, "3": b.scenario3, "4": b.scenario4, "5": b.scenario5, "6": b.scenario6}
	for _, s := range strings.Split(*only, ",") {
		f, ok := run[strings.TrimSpace(s)]
		if !ok {
			fmt.Fprintf(os.Stderr, "bench: no scenario %q\n", s)
			return 2
		}
		f()
	}
	took := time.Since(t0)

	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	chart := ""
	if len(b.s2) > 0 {
		chart = "latency.svg"
		if err := os.WriteFile(filepath.Join(dir, chart), []byte(latencyChart(b.s2)), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: write chart: %v\n", err)
			return 1
		}
	}
	md := b.markdown(cmd, took, chart)
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: write results: %v\n", err)
		return 1
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "bench: wrote %s in %s\n", dir, took.Round(time.Millisecond))
	if len(b.failures) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d verifications failed\n", len(b.failures))
		return 1
	}
	return 0
}

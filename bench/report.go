package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3g s", d.Seconds())
}

func fmtBytes(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%s%d B", sign, n)
	case n < 1<<20:
		return fmt.Sprintf("%s%.1f KiB", sign, float64(n)/(1<<10))
	}
	return fmt.Sprintf("%s%.1f MiB", sign, float64(n)/(1<<20))
}

// count writes n with thin separators: 1,000,000.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// table is a markdown table.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(strings.ReplaceAll(c, "|", `\|`))
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for range t.head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

func lostCell(lost, logged int64) string {
	if lost == 0 {
		return "0"
	}
	return fmt.Sprintf("**%s** (%.1f%%)", count(lost), 100*float64(lost)/float64(max(logged, 1)))
}

func dropsCell(n uint64, has bool) string {
	if !has {
		return "n/a"
	}
	return count(int64(n))
}

func closeCell(c closeResult) string {
	switch {
	case c.timeout:
		return fmt.Sprintf("**did not return** in %s", fmtDur(c.took))
	case c.err != nil:
		return fmtDur(c.took) + " (error)"
	}
	return fmtDur(c.took)
}

// machine describes the host for the report.
func machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	mem := "unknown"
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "MemTotal" {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
				break
			}
		}
		_ = f.Close()
	}
	return fmt.Sprintf("%s; %d CPUs (GOMAXPROCS %d); %s RAM; %s %s/%s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// loadAvg is the first three fields of /proc/loadavg, or "unknown".
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// callerCostTable is the table of scenarios 1 and 6: a pair of columns
// for each goroutine count the rows were measured with.
func callerCostTable(rows []s1Row) *table {
	t := &table{head: []string{"subject"}}
	if len(rows) > 0 {
		for _, g := range rows[0].gs {
			t.head = append(t.head, fmt.Sprintf("ns/record, %s", goroutines(g)), "allocs/record")
		}
	}
	t.head = append(t.head, "lost")
	for _, r := range rows {
		cells := []string{r.sub.name}
		for k := range r.gs {
			cells = append(cells, fmt.Sprintf("%.0f", r.ns[k]), fmt.Sprintf("%.2f", r.alloc[k]))
		}
		t.add(append(cells, lostCell(r.lost, r.logged))...)
	}
	return t
}

// goroutines is "1 goroutine" or "n goroutines".
func goroutines(n int) string {
	if n == 1 {
		return "1 goroutine"
	}
	return fmt.Sprintf("%d goroutines", n)
}

func isOurs(s subject) bool { return strings.HasPrefix(s.name, "asynclog") }

// markdown renders the whole report.
func (b *bench) markdown(cmd string, took time.Duration, chart string) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("# asynclog against the alternatives\n\n")
	p("Machine: %s.  \nCommand: `%s` (whole run: %s).  \n", machine(), cmd, fmtDur(took.Round(time.Millisecond)))
	p("Load average (1, 5, 15 min) at the start: %s; at the end: %s (other work on the machine shows here).  \n", b.loadStart, loadAvg())
	p("Record: message %q with method=%q, path=%q, status=%d, elapsed=%v, remote=%q, at Info, through every subject. ", benchMsg, fMethod, fPath, fStatus, fElapsed, fRemote)
	p("Sinks: fast (discards), slow (%v per Write, whatever its size), dead (every Write blocks until released), file (a real file, scenario 6). ", slowWrite)
	p("Delivered = records counted at the sink (by their message); lost = logged − delivered.\n\n")

	p("## Subjects\n\n")
	t := table{head: []string{"subject", "configuration (documented defaults unless stated)"}}
	for _, s := range allSubjects() {
		t.add(s.name, s.config)
	}
	p("%s\n", t.String())
	if len(b.samples) > 0 {
		p("The record as each subject wrote it (first record at the sink):\n\n```\n")
		for _, s := range allSubjects() {
			if line, ok := b.samples[s.name]; ok {
				p("%-32s %s\n", s.name+":", line)
			}
		}
		p("```\n\n")
	}

	if len(b.s1) > 0 {
		p("## 1. Caller cost, fast sink\n\n")
		p("%s records per goroutine, after a warm-up from the same goroutines, median of %d rounds, the rounds interleaved (each round measures every subject in turn, a goal's two subjects one right after the other, every other round in reverse order; a goal's ratio is the median of the rounds' ratios); ns per record is wall time over records logged (with two goroutines: both together, as b.RunParallel reports it); allocations are the whole process's heap allocations per record, consumer goroutines included. The \"With\" rows are zap with the five fields given once by Logger.With, each call logging the message only. The rows ending in + naive ring are a naive baseline: the synchronous peer writing through the simplest asynchronous writer (see scenario 5), a hand-off to another goroutine with none of a queue's guarantees; a better hand-off can cost less.\n\n", count(int64(b.sz.s1Records)), s1Rounds)
		p("%s\n", callerCostTable(b.s1).String())
	}

	if len(b.s2) > 0 {
		p("## 2. Caller latency, slow sink\n\n")
		p("%s records from one goroutine, as fast as possible and at a steady rate; latency of every call, timed around the call. A subject that has not finished after %v stops there (\"capped\": its latency is already flat). Delivered is counted after Close. The last rows, \"the floor\", are zap's and slog's synchronous loggers at the same steady rate into the fast sink: a call that costs its encoding alone, which no logger's caller can go under on this machine.\n\n", count(int64(b.sz.s2Records)), b.sz.s2Budget)
		if chart != "" {
			p("![caller latency with the slow sink](%s)\n\n", chart)
		}
		t := table{head: []string{"subject", "load", "logged", "p50", "p99", "p99.9", "max", "delivered after Close", "lost", "Close took"}}
		for _, r := range b.s2 {
			logged := count(r.logged)
			if r.capped {
				logged += " (capped)"
			}
			t.add(r.sub.name, r.mode, logged, fmtDur(r.p[0]), fmtDur(r.p[1]), fmtDur(r.p[2]), fmtDur(r.p[3]), count(r.delivered), lostCell(r.lost, r.logged), closeCell(r.close))
		}
		p("%s\n", t.String())
	}

	if len(b.s3) > 0 {
		p("## 3. Dead sink\n\n")
		p("%s records from one goroutine into a sink whose every Write blocks. A call still running after %v is reported as blocked and logging stops there. Heap growth is the live heap (after GC) at the end of logging minus before, with the sink still dead. Then the sink is released, the subject closed, and its own drop report and the delivered count read; unaccounted = logged − delivered − drops reported (records lost without a report).\n\n", count(int64(b.sz.s3Records)), b.sz.stuck)
		t := table{head: []string{"subject", "logged", "caller blocked?", "longest call", "calls ≥ 1 ms", "heap growth", "drops reported", "delivered after release", "unaccounted", "time logging"}}
		for _, r := range b.s3 {
			blocked := "no"
			switch {
			case r.blocked:
				blocked = fmt.Sprintf("**blocked** (a call ran > %v)", b.sz.stuck)
			case r.maxLat >= 100*time.Millisecond:
				blocked = fmt.Sprintf("yes, %s at most, then went on", fmtDur(r.maxLat))
			}
			longest := fmtDur(r.maxLat)
			if r.blocked {
				longest = "until released"
			}
			unaccounted := r.logged - r.delivered - int64(r.dropped)
			t.add(r.sub.name, count(r.logged), blocked, longest, count(r.slow), fmtBytes(r.heapGrowth), dropsCell(r.dropped, r.hasDrops), count(r.delivered), count(unaccounted), fmtDur(r.took))
		}
		p("%s\n", t.String())
	}

	if len(b.s4) > 0 {
		p("## 4. Shutdown, slow sink\n\n")
		p("%s records as fast as possible from one goroutine, then the subject's Close (bounded at %v by the program). Lost = logged − delivered after Close.\n\n", count(int64(b.sz.s4Records)), b.sz.closeLimit)
		t := table{head: []string{"subject", "logging took", "Close took", "delivered", "lost", "drops reported"}}
		for _, r := range b.s4 {
			t.add(r.sub.name, fmtDur(r.logging), closeCell(r.close), count(r.delivered), lostCell(r.lost, r.logged), dropsCell(r.dropped, r.hasDrops))
		}
		p("%s\n", t.String())
	}

	if len(b.s5) > 0 {
		p("## 5. Drain throughput, fast sink, two producers\n\n")
		p("Two goroutines log %s records each as fast as possible; the clock runs from the first call until Close returns. Throughput counts delivered records only; the row is the median of %d rounds by throughput, the rounds interleaved. %s, zerolog writing to the sink with no queue between, is the peer of asynclog's NewWriter here. The rows ending in + naive ring are a naive baseline: each synchronous peer writing through the simplest asynchronous writer (one mutex, one buffer that the consumer copies out under the lock, one goroutine that writes it whole), so that what a plain hand-off to another goroutine costs on this machine is read beside asynclog's.\n\n", count(int64(b.sz.s5Records)), s5Rounds, zerologSync)
		t := table{head: []string{"subject", "logged", "delivered", "lost", "time to Close", "delivered records/s"}}
		for _, r := range b.s5 {
			t.add(r.sub.name, count(r.logged), count(r.delivered), lostCell(r.logged-r.delivered, r.logged), fmtDur(r.took), count(int64(r.rate)))
		}
		p("%s\n", t.String())
	}

	if len(b.s6) > 0 {
		p("## 6. Caller cost, real file\n\n")
		p("Scenario 1 with a real file for the sink, the most common destination: each round a new file in %s, which every subject writes through its own adapter as in the other scenarios (no subject fsyncs it); the records are counted in the file after Close. %s records per goroutine with one and two goroutines, %s each with eight (the total of two), after a warm-up, median of %d rounds; ns per record is wall time over records logged; allocations are the whole process's.\n\n", b.fileDir, count(int64(b.sz.s1Records)), count(int64(b.sz.perGoroutine(8))), s1Rounds)
		p("%s\n", callerCostTable(b.s6).String())
	}

	if g := b.goals(); g != "" {
		p("## Goals: the hot-path targets of %s (ratios within one run)\n\n", goalsIssue)
		p("Each target is computed from the rows above, with its figures. A ratio is asynclog's figure over its peer's, both measured in this run (never against another run's figures): for caller cost, ns/record, lower is better, the twin being the synchronous peer; for drain, delivered records/s, higher is better. A target not met is marked so; it does not fail the run.\n\n%s\n", g)
	}
	p("## Verification\n\n")
	if len(b.failures) == 0 {
		p("Every check passed: no subject delivered more than it logged, every lossless subject delivered everything, asynclog's Stats agree with the sink, and every subject's record carries the message and all five fields.\n")
	} else {
		p("**%d checks failed:**\n\n", len(b.failures))
		for _, f := range b.failures {
			p("- %s\n", f)
		}
	}
	if len(b.notes) > 0 {
		p("\nNotes:\n\n")
		for _, n := range b.notes {
			p("- %s\n", n)
		}
	}
	return w.String()
}

package main

import (
	"fmt"
	"strings"
)

// flatHeap is the most heap growth over the dead-sink run we call flat: a
// logger that kept every record would grow by hundreds of megabytes.
const flatHeap = 8 << 20

// minDrainRate is the drain throughput asynclog must reach with two
// producers into the fast sink, records/s.
const minDrainRate = 2_000_000

// allocSlack is how far above its goal a process-wide allocation count per
// record may be: the runtime and the consumer allocate now and then.
const allocSlack = 0.05

// Subject names the goals compare.
const (
	ourCore     = "asynclog Core (zap)"
	ourHandler  = "asynclog Handler (slog)"
	zapCore     = "zap NewCore (sync)"
	zapBuffered = "zap BufferedWriteSyncer"
	slogJSON    = "slog JSONHandler (sync)"
)

// costRatio is one caller-cost goal: our subject's ns/record at most limit
// times the twin's.
type costRatio struct {
	ours, twin string
	limit      float64
}

// findRow is the row of the subject named name, or nil.
func findRow(rows []s1Row, name string) *s1Row {
	for i := range rows {
		if rows[i].sub.name == name {
			return &rows[i]
		}
	}
	return nil
}

// goals checks the goals for asynclog against the measured rows and
// says, with the figures, which are met.
func (b *bench) goals() string {
	var w strings.Builder
	item := func(met bool, format string, args ...any) {
		mark := "met"
		if !met {
			mark = "**NOT met**"
		}
		fmt.Fprintf(&w, "- %s: %s\n", mark, fmt.Sprintf(format, args...))
	}

	// Caller cost against the synchronous twins and on a real file, with
	// one goroutine and with two.
	costs := []struct {
		what   string
		rows   []s1Row
		ratios []costRatio
	}{
		{"fast sink, fields inline", b.s1, []costRatio{{ourCore, zapCore, 1.15}, {ourHandler, slogJSON, 1.0}}},
		{"real file, fields inline", b.s6, []costRatio{{ourCore, zapBuffered, 1.0}, {ourHandler, slogJSON, 0.5}}},
	}
	for _, c := range costs {
		for _, cr := range c.ratios {
			ours, twin := findRow(c.rows, cr.ours), findRow(c.rows, cr.twin)
			if ours == nil || twin == nil {
				continue
			}
			for k, g := range []string{"1 goroutine", "2 goroutines"} {
				ratio := ours.ns[k] / twin.ns[k]
				item(ratio <= cr.limit, "caller cost, %s, %s: %s %.0f ns/record = %.2fx %s %.0f ns/record (goal ≤ %.2fx)",
					c.what, g, cr.ours, ours.ns[k], ratio, cr.twin, twin.ns[k], cr.limit)
			}
		}
	}
	// Allocations per log call: the zap front end keeps zap's one (the
	// entry's field slice), slog's none.
	for _, a := range []struct {
		name string
		most float64
	}{{ourCore, 1}, {ourHandler, 0}} {
		if r := findRow(b.s1, a.name); r != nil {
			// The process's count includes the runtime's own now and then:
			// up to allocSlack per record above the goal is the goal.
			item(r.alloc[0] <= a.most+allocSlack, "allocations, fast sink, 1 goroutine: %s %.2f per record, the whole process's (goal %.0f, within %.2f)", a.name, r.alloc[0], a.most, allocSlack)
		}
	}

	// 1. Lowest caller p99 with the slow sink among subjects that lose nothing.
	modes := []string{}
	for _, r := range b.s2 {
		if len(modes) == 0 || modes[len(modes)-1] != r.mode {
			modes = append(modes, r.mode)
		}
	}
	for _, m := range modes {
		var best *s2Row
		for i := range b.s2 {
			r := &b.s2[i]
			if r.mode == m && !isOurs(r.sub) && r.lost == 0 && (best == nil || r.p[1] < best.p[1]) {
				best = r
			}
		}
		for i := range b.s2 {
			r := &b.s2[i]
			if r.mode != m || !isOurs(r.sub) {
				continue
			}
			if best == nil {
				item(r.lost == 0, "slow sink, %s: %s p99 %s, lost %d; no peer lost nothing", m, r.sub.name, fmtDur(r.p[1]), r.lost)
				continue
			}
			item(r.lost == 0 && r.p[1] <= best.p[1], "slow sink, %s: %s p99 %s (lost %s) vs the best peer that loses nothing, %s, p99 %s",
				m, r.sub.name, fmtDur(r.p[1]), count(r.lost), best.sub.name, fmtDur(best.p[1]))
		}
	}

	// 2. Zero loss at Close where peers lose records.
	var losers []string
	for _, r := range b.s4 {
		if !isOurs(r.sub) && r.lost > 0 {
			losers = append(losers, fmt.Sprintf("%s lost %s", r.sub.name, count(r.lost)))
		}
	}
	peers := "no peer lost records"
	if len(losers) > 0 {
		peers = strings.Join(losers, ", ")
	}
	for _, r := range b.s4 {
		if isOurs(r.sub) {
			item(r.lost == 0, "shutdown: %s lost %s of %s at Close (Close took %s); %s", r.sub.name, count(r.lost), count(r.logged), fmtDur(r.close.took), peers)
		}
	}

	// 3. Flat memory with a dead sink.
	for _, r := range b.s3 {
		if isOurs(r.sub) {
			extra := ""
			if r.blocked || r.maxLat >= b.sz.stuck/10 {
				extra = fmt.Sprintf("; the caller waited %s once (BlockTimeout) before records were dropped", fmtDur(r.maxLat))
				if r.blocked {
					extra = "; the caller blocked"
				}
			}
			item(r.heapGrowth < flatHeap, "dead sink: %s heap growth %s over %s records (flat: < %s)%s", r.sub.name, fmtBytes(r.heapGrowth), count(r.logged), fmtBytes(flatHeap), extra)
		}
	}

	// 4. Drain throughput at least minDrainRate and that of the fastest peer.
	var fastest, fastestAsync *s5Row
	for i := range b.s5 {
		r := &b.s5[i]
		if isOurs(r.sub) {
			continue
		}
		if fastest == nil || r.rate > fastest.rate {
			fastest = r
		}
		if r.sub.async && (fastestAsync == nil || r.rate > fastestAsync.rate) {
			fastestAsync = r
		}
	}
	for _, r := range b.s5 {
		if isOurs(r.sub) && fastest != nil {
			also := ""
			if fastestAsync != nil && fastestAsync != fastest {
				also = fmt.Sprintf(" (fastest asynchronous peer: %s, %s records/s)", fastestAsync.sub.name, count(int64(fastestAsync.rate)))
			}
			item(r.rate >= minDrainRate && r.rate >= fastest.rate, "drain throughput, 2 producers, fast sink: %s %s records/s (goal ≥ %s and above every peer) vs the fastest peer, %s, %s records/s%s",
				r.sub.name, count(int64(r.rate)), count(minDrainRate), fastest.sub.name, count(int64(fastest.rate)), also)
		}
	}
	return w.String()
}

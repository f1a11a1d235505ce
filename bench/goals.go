package main

import (
	"fmt"
	"strings"
)

// flatHeap is the most heap growth over the dead-sink run we call flat: a
// logger that kept every record would grow by hundreds of megabytes.
const flatHeap = 8 << 20

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

	// 4. Drain throughput at least that of the fastest peer.
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
			item(r.rate >= fastest.rate, "drain throughput: %s %s records/s vs the fastest peer, %s, %s records/s%s", r.sub.name, count(int64(r.rate)), fastest.sub.name, count(int64(fastest.rate)), also)
		}
	}
	return w.String()
}

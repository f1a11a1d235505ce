package main

// Scenarios 1 and 6: the caller's cost per record, to the fast sink and
// to a real file, every subject measured in each round in turn.

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// s1Row: scenario 1, caller cost with the fast sink; scenario 6, with a
// real file. The figures are per record, one for each goroutine count in gs.
type s1Row struct {
	sub       subject
	gs        []int       // goroutines logging at once, per column
	ns, alloc []float64   // per record, with gs[k] goroutines: the medians of the rounds
	rounds    [][]float64 // ns per record in each round, by column: a goal's ratio is taken round by round
	logged    int64
	lost      int64
}

// at is the row's ns and allocations per record with g goroutines, and
// false if the row has no such column.
func (r *s1Row) at(g int) (ns, alloc float64, ok bool) {
	k := slices.Index(r.gs, g)
	if k < 0 {
		return 0, 0, false
	}
	return r.ns[k], r.alloc[k], true
}

// s1Goroutines and s6Goroutines are the goroutine counts scenarios 1 and 6
// measure with.
var (
	s1Goroutines = []int{1, 2}
	s6Goroutines = []int{1, 2, 8}
)

// perGoroutine is how many records each of g goroutines logs in scenarios
// 1 and 6: s1Records with one or two; with more, the total of two, shared
// out, so that the run takes no longer than the two-goroutine one.
func (sz sizes) perGoroutine(g int) int {
	if g <= 2 {
		return sz.s1Records
	}
	return 2 * sz.s1Records / g
}

func (b *bench) scenario1() {
	subs := append(subjects(), preparedSubjects()...)
	subs = append(subs, ringSubjects()...)
	subs = append(subs, ringWithSubject())
	b.s1 = b.callerCost("scenario 1", subs, s1Pairs, s1Goroutines, func() *sink { return newSink(fast) }, func(*sink) {})
}

// scenario6 is scenario 1 with a real file for the sink, and with eight
// goroutines besides one and two: one new file per round in a temporary
// directory, removed after the round.
func (b *bench) scenario6() {
	dir, err := os.MkdirTemp("", "asynclog-bench-file-")
	if err != nil {
		b.fail("scenario 6: %v", err)
		return
	}
	defer os.RemoveAll(dir)
	b.fileDir = dir
	b.s6 = b.callerCost("scenario 6", subjects(), s6Pairs, s6Goroutines, func() *sink {
		s, err := newFileSink(dir)
		if err != nil {
			panic(fmt.Sprintf("bench: scenario 6: %v", err)) // the directory was just made
		}
		return s
	}, func(s *sink) {
		if err := s.Remove(); err != nil {
			b.fail("scenario 6: %v", err)
		}
	})
}

// callerCost measures the cost per record of every subject in subs, with
// each goroutine count in gs, each round on a fresh sink from newS, which
// done disposes of. Each round measures every subject in turn (the rounds
// interleaved, every other one in reverse order, each of pairs side by
// side), and a row is the median of the rounds: the machine's speed
// drifts, and a ratio between two rows must not read the drift. Many
// short rounds read less of it than a few long ones, and a goal's ratio
// is taken round by round (roundRatio).
func (b *bench) callerCost(scenario string, subs []subject, pairs [][2]string, gs []int, newS func() *sink, done func(*sink)) []s1Row {
	rows := make([]s1Row, len(subs))
	ns := make([][][]float64, len(subs)) // by subject, goroutine count, round
	allocs := make([][][]float64, len(subs))
	for i, sub := range subs {
		rows[i] = s1Row{sub: sub, gs: gs, ns: make([]float64, len(gs)), alloc: make([]float64, len(gs))}
		ns[i], allocs[i] = make([][]float64, len(gs)), make([][]float64, len(gs))
	}
	order := pairedOrder(subs, pairs)
	for k, g := range gs {
		for r := range s1Rounds {
			for j := range order {
				i := order[j]
				if r%2 == 1 {
					i = order[len(order)-1-j] // every other round backwards: a drift in the machine's speed falls on every subject alike
				}
				n, a := b.callerCostRound(scenario, subs[i], g, newS, done, &rows[i])
				ns[i][k] = append(ns[i][k], n)
				allocs[i][k] = append(allocs[i][k], a)
			}
		}
	}
	for i := range rows {
		row := &rows[i]
		row.rounds = ns[i]
		var line strings.Builder
		for k, g := range gs {
			row.ns[k], row.alloc[k] = median(ns[i][k]), median(allocs[i][k])
			fmt.Fprintf(&line, "  %8.0f ns/rec %5.2f allocs/rec (%d)", row.ns[k], row.alloc[k], g)
		}
		b.progress("%s: %-32s%s", scenario, row.sub.name, line.String())
	}
	return rows
}

// s1Pairs and s6Pairs are the subjects the goals compare in scenarios 1
// and 6, ours first: callerCost measures each pair one right after the
// other, so that a goal's ratio, taken round by round, compares two runs
// on the same machine.
var (
	s1Pairs = [][2]string{{ourCore, zapCore}, {ourHandler, slogJSON}, {ourCoreWith, zapCoreWith}}
	s6Pairs = [][2]string{{ourCore, zapBuffered}, {ourHandler, slogJSON}}
)

// pairedOrder is the order in which callerCost measures subs in a round,
// as indexes into subs: each of pairs side by side (with the naive
// baseline of the twin after it), the other subjects after them in their
// order.
func pairedOrder(subs []subject, pairs [][2]string) []int {
	var order []int
	placed := make([]bool, len(subs))
	place := func(name string) {
		for i, s := range subs {
			if s.name == name && !placed[i] {
				placed[i] = true
				order = append(order, i)
			}
		}
	}
	naive := map[string]string{zapCore: zapRing, slogJSON: slogRing, zapCoreWith: zapRingWith}
	for _, p := range pairs {
		place(p[0])
		place(p[1])
		place(naive[p[1]])
	}
	for i := range subs {
		if !placed[i] {
			order = append(order, i)
		}
	}
	return order
}

// roundRatio is the median over the rounds of ours' ns/record over the
// twin's in the same round, with g goroutines; false if the two rows do
// not have the same rounds (measured in different scenarios).
func roundRatio(ours, twin *s1Row, g int) (float64, bool) {
	ko, kt := slices.Index(ours.gs, g), slices.Index(twin.gs, g)
	if ko < 0 || kt < 0 || len(ours.rounds) <= ko || len(twin.rounds) <= kt {
		return 0, false
	}
	o, t := ours.rounds[ko], twin.rounds[kt]
	if len(o) != len(t) || len(o) == 0 {
		return 0, false
	}
	r := make([]float64, len(o))
	for i := range o {
		if t[i] == 0 {
			return 0, false
		}
		r[i] = o[i] / t[i]
	}
	return median(r), true
}

// callerCostRound is one round of callerCost for one subject with g
// goroutines, on a fresh instance: it returns ns and allocations per
// record, and adds what was logged and lost to row.
func (b *bench) callerCostRound(scenario string, sub subject, g int, newS func() *sink, done func(*sink), row *s1Row) (ns, allocs float64) {
	s := newS()
	in := sub.open(s, b.env)
	warm := drive(in.log, load{producers: g, records: max(b.sz.perGoroutine(g)/10, 100)}) // the same goroutines: a queue reaches the depth their flood keeps
	runtime.GC()
	res := drive(in.log, load{producers: g, records: b.sz.perGoroutine(g)})
	c := closeWithin(in, b.sz.closeLimit)
	b.closeNote(scenario, sub, c)
	logged := warm.logged + res.logged
	n := float64(res.logged)
	row.logged += logged
	row.lost += logged - s.Delivered()
	b.verify(scenario, sub, in, s, logged, false)
	done(s)
	return float64(res.elapsed.Nanoseconds()) / n, float64(res.mallocs) / n
}

// s1Rounds is how many times scenarios 1 and 6 measure each case.
const s1Rounds = 9

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

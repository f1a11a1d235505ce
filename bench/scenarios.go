package main

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// sizes are a run's record counts and limits.
type sizes struct {
	s1Records  int           // scenario 1, per goroutine
	s2Records  int           // scenario 2
	s2Rate     float64       // scenario 2's steady rate, records/s
	s2Budget   time.Duration // scenario 2: most time one subject may log
	s3Records  int           // scenario 3
	stuck      time.Duration // scenario 3's watchdog
	s4Records  int           // scenario 4
	s5Records  int           // scenario 5, per producer
	closeLimit time.Duration // the longest we wait for any subject's close
	release    time.Duration // the longest we wait for stuck callers after release
}

func fullSizes() sizes {
	return sizes{
		s1Records: 100_000, s2Records: 200_000, s2Rate: 50_000, s2Budget: 5 * time.Second,
		s3Records: 1_000_000, stuck: 3 * time.Second, s4Records: 10_000, s5Records: 500_000,
		closeLimit: 10 * time.Second, release: 30 * time.Second,
	}
}

func smokeSizes() sizes {
	return sizes{
		s1Records: 3000, s2Records: 3000, s2Rate: 50_000, s2Budget: time.Second,
		s3Records: 6000, stuck: 2500 * time.Millisecond, s4Records: 1000, s5Records: 3000,
		closeLimit: 10 * time.Second, release: 30 * time.Second,
	}
}

// bench holds a run's settings and everything it has measured so far.
type bench struct {
	sz        sizes
	env       *env
	progress  func(format string, args ...any)
	failures  []string
	loadStart string
	notes     []string

	s1 []s1Row
	s2 []s2Row
	s3 []s3Row
	s4 []s4Row
	s5 []s5Row
	s6 []s1Row
	// fileDir is where scenario 6 wrote its files.
	fileDir string
	// samples: the first record each subject delivered, by subject name.
	samples map[string]string
}

func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.failures = append(b.failures, msg)
	b.progress("VERIFICATION FAILED: %s", msg)
}

// verify checks one run of sub against its sink: counts that cannot be,
// the subject's own counters, losses by a lossless subject, and the record's
// fields.
func (b *bench) verify(scenario string, sub subject, in *instance, s *sink, logged int64, mayLose bool) {
	delivered := s.Delivered()
	where := fmt.Sprintf("%s, %s", scenario, sub.name)
	if delivered > logged {
		b.fail("%s: sink received %d records, only %d were logged", where, delivered, logged)
	}
	if sub.lossless && !mayLose && delivered != logged {
		b.fail("%s: lossless subject delivered %d of %d records", where, delivered, logged)
	}
	if in.check != nil {
		if msg := in.check(logged, delivered); msg != "" {
			b.fail("%s: own counters disagree: %s", where, msg)
		}
	}
	if delivered > 0 {
		line := s.Sample()
		for _, m := range fieldMarkers() {
			if !strings.Contains(line, m) {
				b.fail("%s: record lacks %q: %s", where, m, line)
			}
		}
		if _, ok := b.samples[sub.name]; !ok {
			b.samples[sub.name] = line
		}
	}
}

// closeNote records a close that erred or did not return.
func (b *bench) closeNote(scenario string, sub subject, c closeResult) {
	switch {
	case c.timeout:
		b.notes = append(b.notes, fmt.Sprintf("%s, %s: close had not returned after %v", scenario, sub.name, c.took.Round(time.Millisecond)))
	case c.err != nil:
		b.notes = append(b.notes, fmt.Sprintf("%s, %s: close returned: %v", scenario, sub.name, c.err))
	}
}

func drops(in *instance) (uint64, bool) {
	if in.drops == nil {
		return 0, false
	}
	return in.drops()
}

// s2Row: scenario 2, caller latency with the slow sink.
type s2Row struct {
	sub       subject
	mode      string
	rate      float64 // records/s the caller was paced at; 0: as fast as possible
	logged    int64
	capped    bool
	p         [4]time.Duration // p50, p99, p99.9, max
	delivered int64
	lost      int64
	close     closeResult
	dropped   uint64
	hasDrops  bool
	floor     bool // a synchronous twin into the fast sink: encoding alone
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (b *bench) scenario2() {
	modes := []struct {
		name string
		rate float64
	}{
		{"as fast as possible", 0},
		{fmt.Sprintf("steady %s/s", count(int64(b.sz.s2Rate))), b.sz.s2Rate},
	}
	for _, m := range modes {
		for _, sub := range subjects() {
			b.s2 = append(b.s2, b.s2Run(sub, newSink(slow), m.name, m.rate))
		}
	}
	// The floor: the synchronous twins at the steady rate into the fast
	// sink, where a call costs its encoding alone. No logger's caller p99
	// on this machine can be lower than its encoder's.
	for _, sub := range subjects() {
		if sub.name == zapCore || sub.name == slogJSON {
			row := b.s2Run(sub, newSink(fast), fmt.Sprintf("steady %s/s, fast sink: the floor", count(int64(b.sz.s2Rate))), b.sz.s2Rate)
			row.floor = true
			b.s2 = append(b.s2, row)
		}
	}
}

// s2Run drives one subject for scenario 2 into s, at rate (0: as fast as
// possible), and returns its row.
func (b *bench) s2Run(sub subject, s *sink, mode string, rate float64) s2Row {
	in := sub.open(s, b.env)
	res := drive(in.log, load{producers: 1, records: b.sz.s2Records, rate: rate, samples: true, budget: b.sz.s2Budget, stuck: b.sz.closeLimit})
	if res.blocked {
		s.Release()
		res.settle()
	}
	c := closeWithin(in, b.sz.closeLimit)
	b.closeNote("scenario 2", sub, c)
	lat := slices.Clone(res.lat)
	slices.Sort(lat)
	row := s2Row{sub: sub, mode: mode, rate: rate, logged: res.logged, capped: res.capped, close: c,
		p: [4]time.Duration{percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 0.999), percentile(lat, 1)}}
	row.delivered = s.Delivered()
	row.lost = res.logged - row.delivered
	row.dropped, row.hasDrops = drops(in)
	b.verify("scenario 2", sub, in, s, res.logged, false)
	b.progress("scenario 2: %-32s %-20s p50 %9s p99 %9s p99.9 %9s max %9s lost %d of %d", sub.name, mode, fmtDur(row.p[0]), fmtDur(row.p[1]), fmtDur(row.p[2]), fmtDur(row.p[3]), row.lost, row.logged)
	return row
}

// s3Row: scenario 3, a dead sink.
type s3Row struct {
	sub        subject
	logged     int64
	blocked    bool
	maxLat     time.Duration
	slow       int64
	heapGrowth int64
	dropped    uint64
	hasDrops   bool
	delivered  int64
	took       time.Duration
}

func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func (b *bench) scenario3() {
	for _, sub := range append(subjects(), dropNewestSubjects()...) {
		s := newSink(dead)
		in := sub.open(s, b.env)
		h0 := heapAlloc()
		res := drive(in.log, load{producers: 1, records: b.sz.s3Records, stuck: b.sz.stuck})
		h1 := heapAlloc()
		row := s3Row{sub: sub, logged: res.logged, blocked: res.blocked, heapGrowth: h1 - h0, took: res.elapsed}
		s.Release()
		select {
		case <-res.finished:
		case <-time.After(b.sz.release):
			b.fail("scenario 3, %s: callers still stuck %v after the sink was released", sub.name, b.sz.release)
			continue
		}
		if res.blocked {
			res.settle()
			// The stuck call returned after the release: it was logged.
			res.logged = 0
			for _, p := range res.ps {
				res.logged += p.done.Load()
			}
		}
		row.logged = res.logged
		row.maxLat, row.slow = res.maxLat, res.slow
		c := closeWithin(in, b.sz.closeLimit)
		b.closeNote("scenario 3", sub, c)
		row.dropped, row.hasDrops = drops(in)
		row.delivered = s.Delivered()
		b.verify("scenario 3", sub, in, s, res.logged, true)
		b.progress("scenario 3: %-32s blocked %-5v longest call %9s heap %+8s dropped %d delivered %d of %d", sub.name, row.blocked, fmtDur(row.maxLat), fmtBytes(row.heapGrowth), row.dropped, row.delivered, row.logged)
		b.s3 = append(b.s3, row)
	}
}

// s4Row: scenario 4, shutdown into the slow sink.
type s4Row struct {
	sub       subject
	logged    int64
	logging   time.Duration
	close     closeResult
	delivered int64
	lost      int64
	dropped   uint64
	hasDrops  bool
}

func (b *bench) scenario4() {
	for _, sub := range subjects() {
		s := newSink(slow)
		in := sub.open(s, b.env)
		res := drive(in.log, load{producers: 1, records: b.sz.s4Records, stuck: b.sz.closeLimit})
		if res.blocked {
			s.Release()
			res.settle()
		}
		c := closeWithin(in, b.sz.closeLimit)
		b.closeNote("scenario 4", sub, c)
		row := s4Row{sub: sub, logged: res.logged, logging: res.elapsed, close: c, delivered: s.Delivered()}
		row.lost = row.logged - row.delivered
		row.dropped, row.hasDrops = drops(in)
		b.verify("scenario 4", sub, in, s, res.logged, false)
		b.progress("scenario 4: %-32s logging %9s close %9s lost %d of %d", sub.name, fmtDur(row.logging), fmtDur(c.took), row.lost, row.logged)
		b.s4 = append(b.s4, row)
	}
}

// s5Row: scenario 5, drain throughput into the fast sink.
type s5Row struct {
	sub       subject
	logged    int64
	delivered int64
	took      time.Duration
	rate      float64 // delivered records per second
}

// scenario5 runs every subject, zerolog writing to the sink directly (the
// peer of asynclog's NewWriter under zerolog), and each synchronous peer
// through the naive asynchronous writer: a naive baseline.
func (b *bench) scenario5() {
	subs := append(append(subjects(), zerologSyncSubject()), ringSubjects()...)
	// The median of three rounds by throughput, each on a fresh instance,
	// every subject in turn in each round: the machine's speed drifts.
	rounds := make([][]s5Row, len(subs))
	for range s5Rounds {
		for i, sub := range subs {
			s := newSink(fast)
			in := sub.open(s, b.env)
			t0 := time.Now()
			res := drive(in.log, load{producers: 2, records: b.sz.s5Records})
			c := closeWithin(in, b.sz.closeLimit)
			took := time.Since(t0)
			b.closeNote("scenario 5", sub, c)
			row := s5Row{sub: sub, logged: res.logged, delivered: s.Delivered(), took: took}
			row.rate = float64(row.delivered) / took.Seconds()
			b.verify("scenario 5", sub, in, s, res.logged, false)
			rounds[i] = append(rounds[i], row)
		}
	}
	for i := range subs {
		slices.SortFunc(rounds[i], func(x, y s5Row) int { return cmp.Compare(x.rate, y.rate) })
		row := rounds[i][len(rounds[i])/2]
		b.progress("scenario 5: %-32s %s records/s delivered (%d of %d) in %s", row.sub.name, count(int64(row.rate)), row.delivered, row.logged, fmtDur(row.took))
		b.s5 = append(b.s5, row)
	}
}

// s5Rounds is how many times scenario 5 measures each subject.
const s5Rounds = 3

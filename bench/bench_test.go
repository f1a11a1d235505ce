package main

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSinkCountsRecordsByMessage(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		want   int64
		sample string
	}{
		{"one record", `{"msg":"request served"}` + "\n", 1, `{"msg":"request served"}`},
		{"a batch of three", strings.Repeat(`{"msg":"request served"}`+"\n", 3), 3, `{"msg":"request served"}`},
		{"a drop notice is not a record", `{"msg":"asynclog: dropped 5 records"}` + "\n", 0, ""},
		{"a drop notice ahead of the records", `{"msg":"asynclog: dropped 5 records"}` + "\n" + `{"msg":"request served","n":1}` + "\n", 1, `{"msg":"request served","n":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []sinkMode{fast, slow} {
				s := newSink(mode)
				n, err := s.Write([]byte(tt.input))
				require.NoError(t, err, "Write")
				assert.Equal(t, len(tt.input), n, "Write's count, %s sink", mode)
				assert.Equal(t, tt.want, s.Delivered(), "records counted, %s sink", mode)
				assert.Equal(t, tt.sample, s.Sample(), "sample is the first record, %s sink", mode)
			}
		})
	}
}

func TestFileSinkCountsRecordsInTheFile(t *testing.T) {
	s, err := newFileSink(t.TempDir())
	require.NoError(t, err, "newFileSink")
	in := `{"msg":"request served"}` + "\n" + `{"msg":"asynclog: dropped 5 records"}` + "\n"
	for range 3 {
		n, err := s.Write([]byte(in))
		require.NoError(t, err, "Write")
		assert.Equal(t, len(in), n, "Write's count")
	}
	assert.Equal(t, int64(3), s.Delivered(), "the records in the file, drop notices left out")
	assert.Equal(t, `{"msg":"request served"}`, s.Sample(), "sample is the first record")
	name := s.f.Name()
	require.NoError(t, s.Remove(), "Remove")
	_, err = os.Stat(name)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the file is gone after Remove: %v", err)
}

func TestDeadSinkBlocksUntilReleased(t *testing.T) {
	s := newSink(dead)
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		close(started)
		_, _ = s.Write([]byte(benchMsg + "\n"))
		close(done)
	}()
	<-started
	select {
	case <-done:
		t.Fatal("a Write to the dead sink returned before Release")
	case <-time.After(50 * time.Millisecond):
	}
	assert.Zero(t, s.Delivered(), "nothing is delivered while the sink is dead")
	s.Release()
	s.Release() // twice is fine
	<-done
	assert.Equal(t, int64(1), s.Delivered(), "the blocked record is delivered after Release")
}

func TestPercentile(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p50", 0.5, 500},
		{"p99", 0.99, 990},
		{"p99.9", 0.999, 999},
		{"max", 1, 1000},
		{"min", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, percentile(lat, tt.q), "percentile %v of 1..1000", tt.q)
		})
	}
	assert.Zero(t, percentile(nil, 0.5), "no samples")
}

func TestCount(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-4096, "-4,096"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, count(tt.in), "count(%d)", tt.in)
		})
	}
}

func TestDriveReportsAStuckCall(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	log := func() {
		if calls.Add(1) == 3 {
			<-release
		}
	}
	res := drive(log, load{producers: 1, records: 10, stuck: 50 * time.Millisecond})
	assert.True(t, res.blocked, "the third call never returns: blocked")
	assert.Equal(t, int64(2), res.logged, "two calls returned before the stuck one")
	close(release)
	res.settle()
	assert.GreaterOrEqual(t, res.maxLat, 50*time.Millisecond, "the stuck call's latency is known once it returned")
	assert.Equal(t, int64(3), res.ps[0].done.Load(), "the producer stops after the stuck call returns")
}

func TestDriveSamplesEveryCall(t *testing.T) {
	var calls atomic.Int64
	res := drive(func() { calls.Add(1) }, load{producers: 2, records: 500, samples: true, stuck: time.Second})
	require.False(t, res.blocked, "no call blocks")
	assert.Equal(t, int64(1000), calls.Load(), "both producers log all their records")
	assert.Equal(t, int64(1000), res.logged, "logged counts every call")
	assert.Len(t, res.lat, 1000, "one latency sample per call")
}

func TestDriveKeepsTheRate(t *testing.T) {
	const rate, n = 20_000, 200 // 10 ms
	t0 := time.Now()
	res := drive(func() {}, load{producers: 1, records: n, rate: rate})
	assert.Equal(t, int64(n), res.logged, "every record logged")
	assert.GreaterOrEqual(t, time.Since(t0), (n-1)*time.Second/rate, "the last record waits for its slot")
}

// TestSubjectsLogTheSameRecord opens every subject on a fast sink, logs a
// few records and closes it: each delivers them all, with every field.
func TestSubjectsLogTheSameRecord(t *testing.T) {
	e := &env{otelDrops: &otelDropCounter{}}
	for _, sub := range allSubjects() {
		t.Run(sub.name, func(t *testing.T) {
			s := newSink(fast)
			in := sub.open(s, e)
			for range 10 {
				in.log()
			}
			c := closeWithin(in, 10*time.Second)
			require.False(t, c.timeout, "close returns")
			require.NoError(t, c.err, "close")
			assert.Equal(t, int64(10), s.Delivered(), "all ten records reach the sink")
			for _, m := range fieldMarkers() {
				assert.Contains(t, s.Sample(), m, "the record carries %q", m)
			}
			if in.check != nil {
				assert.Empty(t, in.check(10, s.Delivered()), "own counters agree")
			}
		})
	}
}

func TestLatencyChartIsWellFormedSVG(t *testing.T) {
	subs := subjects()
	rows := []s2Row{
		{sub: subs[0], mode: "as fast as possible", p: [4]time.Duration{500, 4000, 1e6, 1e7}},
		{sub: subs[2], mode: "as fast as possible", p: [4]time.Duration{1e6, 2e6, 5e6, 3e7}, capped: true},
		{sub: subs[5], mode: "steady 50,000/s", p: [4]time.Duration{400, 3000, 5e4, 2e6}, logged: 10, lost: 9},
	}
	svg := latencyChart(rows)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the chart parses as XML")
	}
	for _, want := range []string{"<svg", subs[0].name, subs[2].name + " (capped)", "(lost 90.0%)", "steady 50,000/s", "1 µs", "100 ms"} {
		assert.Contains(t, svg, want, "the chart shows %q", want)
	}
}

func TestGoals(t *testing.T) {
	subs := subjects() // 0: asynclog Core, 6: OTel
	tests := []struct {
		name string
		ours int64 // records asynclog lost at Close
		want string
	}{
		{"nothing lost", 0, "- met: shutdown: asynclog Core (zap) lost 0 of 100"},
		{"records lost", 3, "- **NOT met**: shutdown: asynclog Core (zap) lost 3 of 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &bench{sz: smokeSizes(), s4: []s4Row{
				{sub: subs[0], logged: 100, lost: tt.ours},
				{sub: subs[6], logged: 100, lost: 7},
			}}
			g := b.goals()
			assert.Contains(t, g, tt.want, "the shutdown goal")
			assert.Contains(t, g, "OTel BatchProcessor (otelslog) lost 7", "the peer's loss is named")
		})
	}
}

// costRow is a scenario 1 or 6 row of the subject named name, with ns per
// record for each goroutine count in gs.
func costRow(t *testing.T, name string, gs []int, ns ...float64) s1Row {
	t.Helper()
	for _, s := range allSubjects() {
		if s.name == name {
			return s1Row{sub: s, gs: gs, ns: ns, alloc: make([]float64, len(gs))}
		}
	}
	t.Fatalf("no subject %q", name)
	return s1Row{}
}

// rateRow is a scenario 5 row of the subject named name.
func rateRow(t *testing.T, name string, rate float64, logged, delivered int64) s5Row {
	t.Helper()
	r := costRow(t, name, nil)
	return s5Row{sub: r.sub, rate: rate, logged: logged, delivered: delivered}
}

func TestGoalsAreTheHotPathTargets(t *testing.T) {
	b := &bench{sz: smokeSizes(),
		s1: []s1Row{
			costRow(t, ourCoreWith, s1Goroutines, 110, 130),
			costRow(t, zapCoreWith, s1Goroutines, 100, 100),
			costRow(t, zapRingWith, s1Goroutines, 105, 125),
			costRow(t, ourCore, s1Goroutines, 1040, 600),
			costRow(t, zapCore, s1Goroutines, 1000, 500),
			costRow(t, ourHandler, s1Goroutines, 900, 700),
			costRow(t, slogJSON, s1Goroutines, 1000, 600),
			costRow(t, ourWriter, s1Goroutines, 500, 400),
		},
		s6: []s1Row{
			costRow(t, ourCore, s6Goroutines, 900, 800, 500),
			costRow(t, zapBuffered, s6Goroutines, 1000, 700, 500),
			costRow(t, ourHandler, s6Goroutines, 950, 650, 400),
			costRow(t, slogJSON, s6Goroutines, 3000, 3000, 3000),
		},
		s5: []s5Row{
			rateRow(t, ourCore, 960, 100, 100),
			rateRow(t, zapCore, 1000, 100, 100),
			rateRow(t, ourHandler, 2000, 100, 99),
			rateRow(t, slogJSON, 1000, 100, 100),
			rateRow(t, ourWriter, 700, 100, 100),
			rateRow(t, zerologSync, 1000, 100, 100),
			rateRow(t, zerologRing, 750, 100, 100),
		},
		s2: []s2Row{
			{sub: costRow(t, ourCore, nil).sub, mode: "as fast as possible", p: [4]time.Duration{100, 9000}},
			{sub: costRow(t, ourCore, nil).sub, mode: "steady 50,000/s", rate: 50_000, p: [4]time.Duration{500, 1900}},
			{sub: costRow(t, ourHandler, nil).sub, mode: "steady 50,000/s", rate: 50_000, p: [4]time.Duration{500, 2000}},
		},
	}
	g := b.goals()
	for _, want := range []string{
		"- met: caller cost, fast sink, fields prepared with With (message only), 1 goroutine: asynclog Core (zap), With 110 ns/record / zap NewCore (sync), With 100 ns/record = 1.10x (target ≤ 1.15x; the naive baseline, zap NewCore + naive ring, With: 105 ns/record = 1.05x)",
		"- **NOT met**: caller cost, fast sink, fields prepared with With (message only), 2 goroutines: asynclog Core (zap), With 130 ns/record / zap NewCore (sync), With 100 ns/record = 1.30x (target ≤ 1.15x; the naive baseline, zap NewCore + naive ring, With: 125 ns/record = 1.25x)",
		"- met: caller cost, fast sink, 5 fields inline, 1 goroutine: asynclog Core (zap) 1040 ns/record / zap NewCore (sync) 1000 ns/record = 1.04x (target ≤ 1.05x)",
		"- **NOT met**: caller cost, fast sink, 5 fields inline, 2 goroutines: asynclog Core (zap) 600 ns/record / zap NewCore (sync) 500 ns/record = 1.20x",
		"- met: caller cost, fast sink, 5 fields inline, 1 goroutine: asynclog Handler (slog) 900 ns/record / slog JSONHandler (sync) 1000 ns/record = 0.90x (target ≤ 1.00x)",
		"- **NOT met**: caller cost, fast sink, 5 fields inline, 2 goroutines: asynclog Handler (slog) 700 ns/record",
		"- met: caller cost, real file, 1 goroutine: asynclog Core (zap) 900 ns/record / zap BufferedWriteSyncer 1000 ns/record = 0.90x (target ≤ 1.00x)",
		"- **NOT met**: caller cost, real file, 2 goroutines: asynclog Core (zap) 800 ns/record / zap BufferedWriteSyncer 700 ns/record = 1.14x",
		"- met: caller cost, real file, 1 goroutine: asynclog Handler (slog) 950 ns/record / slog JSONHandler (sync) on the fast sink (scenario 1) 1000 ns/record = 0.95x (target ≤ 1.00x)",
		"- **NOT met**: caller cost, real file, 2 goroutines: asynclog Handler (slog) 650 ns/record / slog JSONHandler (sync) on the fast sink (scenario 1) 600 ns/record = 1.08x",
		"- **NOT met**: caller cost, real file, 8 goroutines: asynclog Core (zap) 500 ns/record / zap BufferedWriteSyncer 500 ns/record = 1.00x (target ≤ 0.90x)",
		"- met: drain, 2 producers, fast sink: asynclog Core (zap) 960 records/s (delivered 100 of 100) / zap NewCore (sync) 1,000 records/s = 0.96x (target ≥ 0.95x",
		"- **NOT met**: drain, 2 producers, fast sink: asynclog Handler (slog) 2,000 records/s (delivered 99 of 100)",
		"- **NOT met**: drain, 2 producers, fast sink: asynclog NewWriter (zerolog) 700 records/s (delivered 100 of 100) / zerolog (sync) 1,000 records/s = 0.70x (target ≥ 0.80x, every record delivered; the naive baseline, zerolog + naive ring: 750 records/s = 0.75x)",
		"- met: slow sink, steady 50,000/s: asynclog Core (zap) caller p99 1.9 µs (target < 2 µs",
		"- **NOT met**: slow sink, steady 50,000/s: asynclog Handler (slog) caller p99 2 µs",
		"- met: allocations, fast sink, 1 goroutine: asynclog NewWriter (zerolog) 0.00 per record",
	} {
		assert.Contains(t, g, want, "the goals say")
	}
	for _, gone := range []string{"as fast as possible", "2,000,000", "0.50x", "above every peer"} {
		assert.NotContains(t, g, gone, "the old goals are gone")
	}
}

func TestCallerCostTableHasAColumnPairPerGoroutineCount(t *testing.T) {
	tb := callerCostTable([]s1Row{costRow(t, ourCore, s6Goroutines, 900, 800, 500)})
	assert.Equal(t, []string{"subject", "ns/record, 1 goroutine", "allocs/record", "ns/record, 2 goroutines", "allocs/record", "ns/record, 8 goroutines", "allocs/record", "lost"}, tb.head)
	require.Len(t, tb.rows, 1)
	assert.Equal(t, []string{ourCore, "900", "0.00", "800", "0.00", "500", "0.00", "0"}, tb.rows[0])
}

func TestPerGoroutineKeepsTheTotalOfTwo(t *testing.T) {
	sz := sizes{s1Records: 3000}
	assert.Equal(t, 3000, sz.perGoroutine(1))
	assert.Equal(t, 3000, sz.perGoroutine(2))
	assert.Equal(t, 750, sz.perGoroutine(8), "eight goroutines share the records of two")
}

func TestReportNamesTheTargetsIssue(t *testing.T) {
	b := &bench{sz: smokeSizes(), samples: map[string]string{}, s4: []s4Row{{sub: costRow(t, ourCore, nil).sub, logged: 10}}}
	md := b.markdown("cmd", time.Second, "")
	assert.Contains(t, md, "## Goals: the hot-path targets of issue 17 (ratios within one run)", "the goals' header")
	assert.Contains(t, md, "- met: shutdown: asynclog Core (zap) lost 0 of 10", "the goals follow it")
}

func TestPairedOrderMeasuresEachPairSideBySide(t *testing.T) {
	names := []string{ourCore, ourHandler, zapCore, zapBuffered, slogJSON, "other", zapRing, slogRing}
	subs := make([]subject, len(names))
	for i, n := range names {
		subs[i] = subject{name: n}
	}
	var got []string
	for _, i := range pairedOrder(subs, s1Pairs) {
		got = append(got, subs[i].name)
	}
	want := []string{ourCore, zapCore, zapRing, ourHandler, slogJSON, slogRing, zapBuffered, "other"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestRoundRatioIsTheMedianOfEachRoundsRatio(t *testing.T) {
	// The machine ran at half speed in the second round, for both: each
	// round's ratio is 1.2, 1.2 and 1.0, so the median is 1.2, where the
	// medians of the rows (130 and 130) would say 1.0.
	ours := &s1Row{gs: []int{1, 2}, rounds: [][]float64{{120, 240, 130}, {5, 5, 5}}}
	twin := &s1Row{gs: []int{1, 2}, rounds: [][]float64{{100, 200, 130}, {5, 5, 5}}}
	if r, ok := roundRatio(ours, twin, 1); !ok || math.Abs(r-1.2) > 1e-9 {
		t.Fatalf("roundRatio = %v, %v; want 1.2", r, ok)
	}
	twin.rounds[0] = twin.rounds[0][:2]
	if _, ok := roundRatio(ours, twin, 1); ok {
		t.Fatal("rows with different rounds gave a ratio")
	}
	if _, ok := roundRatio(ours, &s1Row{gs: []int{1}}, 1); ok {
		t.Fatal("a row without rounds gave a ratio")
	}
}

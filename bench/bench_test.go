package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
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
	for _, sub := range append(subjects(), dropNewestSubjects()...) {
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

func TestGoalsRatiosAndDrainRate(t *testing.T) {
	byName := map[string]subject{}
	for _, s := range subjects() {
		byName[s.name] = s
	}
	b := &bench{sz: smokeSizes(),
		s6: []s1Row{
			{sub: byName[ourCore], ns: [2]float64{900, 800}},
			{sub: byName[zapBuffered], ns: [2]float64{1000, 700}},
			{sub: byName[ourHandler], ns: [2]float64{400, 500}},
			{sub: byName[slogJSON], ns: [2]float64{1000, 900}},
		},
		s5: []s5Row{
			{sub: byName[ourCore], rate: 1_900_000},
			{sub: byName[ourHandler], rate: 2_100_000},
			{sub: byName[slogJSON], rate: 1_800_000},
		},
	}
	g := b.goals()
	for _, want := range []string{
		"- met: caller cost, real file, fields inline, 1 goroutine: asynclog Core (zap) 900 ns/record = 0.90x zap BufferedWriteSyncer",
		"- **NOT met**: caller cost, real file, fields inline, 2 goroutines: asynclog Core (zap) 800 ns/record = 1.14x",
		"- met: caller cost, real file, fields inline, 1 goroutine: asynclog Handler (slog) 400 ns/record = 0.40x",
		"- **NOT met**: caller cost, real file, fields inline, 2 goroutines: asynclog Handler (slog) 500 ns/record = 0.56x",
		"- **NOT met**: drain throughput, 2 producers, fast sink: asynclog Core (zap) 1,900,000 records/s",
		"- met: drain throughput, 2 producers, fast sink: asynclog Handler (slog) 2,100,000 records/s",
	} {
		assert.Contains(t, g, want, "the goals say")
	}
}

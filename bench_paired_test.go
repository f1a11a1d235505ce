package asynclog_test

// BenchmarkPaired: each front end and its synchronous twin (and the spool
// and the memory queue), measured in alternate short runs on the same two
// instances, each run's ratio taken against the twin's run beside it.
//
// This machine's speed drifts by a quarter from one second to the next,
// so two sub-benchmarks run a second apart, or two rounds of the bench
// program, compare the drift as much as the loggers. Here a run is
// pairedChunk records (tens of milliseconds): a subject's run and its
// twin's see the same machine, and the median of the runs' ratios reads
// the loggers alone. Each asynclog run is followed by a Flush, outside the
// clock, so that the consumer's work on one run does not fall on the
// twin's; the consumer's work during a run (it runs beside the caller
// under a flood) is counted, as the caller pays for it on a machine with
// fewer processors than busy goroutines.

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// pairedChunk is how many records one run logs, over all its goroutines.
const pairedChunk = 20_000

// pairedSide is one of the two loggers a paired benchmark compares: log
// logs record i; settle, if set, runs after each run, off the clock.
type pairedSide struct {
	log    func(i int)
	settle func()
}

// benchPaired logs b.N records through each side, in alternate runs of
// pairedChunk records from g goroutines each, and reports the median of
// the runs' ratios (ours over twin's) as "ratio", and each side's ns per
// record.
func benchPaired(b *testing.B, g int, ours, twin pairedSide) {
	chunk := max(g, min(b.N, pairedChunk)/g*g)
	runs := max(1, b.N/chunk)
	run := func(s pairedSide) time.Duration {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range chunk / g {
					s.log(k*chunk + i)
				}
			}()
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		d := time.Since(t0)
		if s.settle != nil {
			s.settle()
		}
		return d
	}
	run(ours) // a first run of each: pools filled, segments allocated
	run(twin)
	ratios := make([]float64, 0, runs)
	var oursT, twinT time.Duration
	b.ResetTimer()
	for r := range runs {
		var o, t time.Duration
		if r%2 == 0 {
			o, t = run(ours), run(twin)
		} else {
			t, o = run(twin), run(ours)
		}
		oursT += o
		twinT += t
		ratios = append(ratios, float64(o)/float64(t))
	}
	slices.Sort(ratios)
	n := float64(runs * chunk)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(float64(oursT.Nanoseconds())/n, "ours-ns/rec")
	b.ReportMetric(float64(twinT.Nanoseconds())/n, "twin-ns/rec")
}

// flushed is a settle that waits until q has delivered everything.
func flushed(b *testing.B, q *asynclog.Queue) func() {
	return func() {
		if err := q.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPaired(b *testing.B) {
	enc := func() zapcore.Encoder { return zapcore.NewJSONEncoder(benchEncoderConfig()) }
	zapSides := func(b *testing.B, opts asynclog.Options, sink asynclog.Sink, twin zapcore.Core, with bool) (ours, tw pairedSide) {
		q := newBenchQueue(b, sink, opts)
		ol, tl := zap.New(asynclog.NewCore(enc(), zapcore.InfoLevel, q)), zap.New(twin)
		if with {
			ol, tl = zapWith(ol), zapWith(tl)
			return pairedSide{func(int) { zapPrepared(ol) }, flushed(b, q)}, pairedSide{log: func(int) { zapPrepared(tl) }}
		}
		return pairedSide{func(i int) { zapInline(ol, i) }, flushed(b, q)}, pairedSide{log: func(i int) { zapInline(tl, i) }}
	}
	discard := func() zapcore.Core { return zapcore.NewCore(enc(), zapcore.AddSync(io.Discard), zapcore.InfoLevel) }
	for _, g := range []int{1, 2} {
		b.Run("zap/inline/"+goroutines(g), func(b *testing.B) {
			o, t := zapSides(b, asynclog.Options{}, &discardSink{}, discard(), false)
			benchPaired(b, g, o, t)
		})
		b.Run("zap/With/"+goroutines(g), func(b *testing.B) {
			o, t := zapSides(b, asynclog.Options{}, &discardSink{}, discard(), true)
			benchPaired(b, g, o, t)
		})
		b.Run("slog/"+goroutines(g), func(b *testing.B) {
			q := newBenchQueue(b, &discardSink{}, asynclog.Options{})
			ol, tl := slog.New(asynclog.NewHandler(q, nil)), slog.New(slog.NewJSONHandler(io.Discard, nil))
			benchPaired(b, g, pairedSide{func(i int) { slogInline(ol, i) }, flushed(b, q)}, pairedSide{log: func(i int) { slogInline(tl, i) }})
		})
	}
	// A real file: our Core through WriterSink against zap's
	// BufferedWriteSyncer, each writing a file of its own.
	for _, g := range []int{1, 2, 8} {
		b.Run("file/zap/"+goroutines(g), func(b *testing.B) {
			ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(benchFile(b))}
			b.Cleanup(func() { _ = ws.Stop() })
			o, t := zapSides(b, asynclog.Options{}, asynclog.WriterSink(benchFile(b)), zapcore.NewCore(enc(), ws, zapcore.InfoLevel), false)
			benchPaired(b, g, o, t)
		})
	}
	// The spool against the memory queue, zap inline: on the default temp
	// dir (a disk file system here) and on /dev/shm (tmpfs).
	for _, st := range []struct {
		name string
		dir  func(b *testing.B) string
	}{{"spool", func(b *testing.B) string { return b.TempDir() }}, {"spool-shm", shmDir}} {
		b.Run("zap/"+st.name+"/"+goroutines(1), func(b *testing.B) {
			sq := newBenchQueue(b, &discardSink{}, asynclog.Options{Spool: st.dir(b)})
			mq := newBenchQueue(b, &discardSink{}, asynclog.Options{})
			sl := zap.New(asynclog.NewCore(enc(), zapcore.InfoLevel, sq))
			ml := zap.New(asynclog.NewCore(enc(), zapcore.InfoLevel, mq))
			benchPaired(b, 1, pairedSide{func(i int) { zapInline(sl, i) }, flushed(b, sq)}, pairedSide{func(i int) { zapInline(ml, i) }, flushed(b, mq)})
		})
	}
}

// goroutines names a sub-benchmark by how many goroutines log.
func goroutines(g int) string {
	if g == 1 {
		return "1goroutine"
	}
	return strconv.Itoa(g) + "goroutines"
}

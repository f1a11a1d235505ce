package asynclogtest

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/asynclog/asynclog"
)

// TestSink checks that the sinks newSink makes keep the rules of the
// [asynclog.Sink] contract. Like testing/slogtest, it runs one subtest per
// rule, each with a fresh sink from newSink (called with the subtest's t,
// so newSink may use t.Cleanup and t.TempDir), and reports a broken rule as
// an ordinary failure whose message names the rule:
//
//   - CancelledContext, CancelDuringWrite, DeadlinePasses: Write returns
//     promptly (within a second) once its ctx is done, whether it was done
//     before the call, cancelled during it or ran past its deadline. A sink
//     that finishes at once passes.
//   - NoRetention: the sink keeps neither the batch nor any Encoded slice
//     after Write returns. The suite scribbles over them and reuses them for
//     the next batch, as the queue does, and checks with the garbage
//     collector that the sink holds no reference to them.
//   - NoChange: Write leaves every Encoded byte as it was given: with a
//     spool they are the spool's own copy of the record, which the next
//     start delivers again if this process dies before the batch settles.
//   - NoPanic: odd but legal batches (empty messages, zero times, empty or
//     non-JSON Encoded bytes, invalid UTF-8, a 1 MiB record, a thousand
//     records) get an error or nil, never a panic.
//   - CloseTwice, CloseCancelled: a sink with a Close(ctx) method may be
//     closed twice without panic or hang, and Close returns promptly when
//     its ctx is already done.
//
// A sink may return an error from any Write or Close: the rules are about
// how it behaves, not whether its destination took the records. TestSink
// calls the sink on goroutines of its own with deadlines, and recovers
// their panics, so a broken sink fails the test rather than hanging it or
// crashing the binary. A Write that ignores its ctx is given up on and
// its goroutine left running, which a goleak check in TestMain will then
// also report. Each sink is closed, if it has Close, at the end of its
// subtest.
func TestSink(t *testing.T, newSink func(t *testing.T) asynclog.Sink) {
	t.Helper()
	for _, r := range defaultSuite().rules() {
		t.Run(r.name, func(t *testing.T) {
			r.check(t, func() asynclog.Sink {
				s := newSink(t)
				if s == nil {
					t.Fatalf("TestSink: newSink returned a nil Sink")
				}
				return s
			})
		})
	}
}

// reporter is the part of *testing.T the rules use, so that the suite can
// itself be tested against sinks that break the rules.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// suite holds the suite's time limits.
type suite struct {
	grace   time.Duration // how long a call may take once its ctx is done
	timeout time.Duration // the ctx deadline of Writes that have nothing to prove about ctx
	cancel  time.Duration // how long into a Write its ctx is cancelled or runs out
}

func defaultSuite() suite {
	return suite{grace: time.Second, timeout: 2 * time.Second, cancel: 20 * time.Millisecond}
}

// rule is one case of the suite.
type rule struct {
	name  string
	check func(r reporter, newSink func() asynclog.Sink)
}

func (s suite) rules() []rule {
	return []rule{
		{"CancelledContext", s.cancelledContext},
		{"CancelDuringWrite", s.cancelDuringWrite},
		{"DeadlinePasses", s.deadlinePasses},
		{"NoRetention", s.noRetention},
		{"NoChange", s.noChange},
		{"NoPanic", s.noPanic},
		{"CloseTwice", s.closeTwice},
		{"CloseCancelled", s.closeCancelled},
	}
}

// outcome is how a guarded call ended.
type outcome struct {
	err      error
	returned bool // the call returned, normally or by panic, within the wait
	panicked bool
	value    any // the panic's value
	goexit   bool
}

// guard runs f on a goroutine of its own and waits up to wait for it,
// recovering a panic. A call still running after wait is left running.
func guard(wait time.Duration, f func() error) outcome {
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		finished := false
		defer func() {
			if v := recover(); v != nil {
				o.panicked, o.value = true, v
			} else if !finished {
				o.goexit = true
			}
			o.returned = true
			done <- o
		}()
		o.err = f()
		finished = true
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case o := <-done:
		return o
	case <-t.C:
		return outcome{}
	}
}

// badEnd reports a call that panicked, called runtime.Goexit, or did not
// return within its time, and says whether it did.
func badEnd(r reporter, rule, what string, o outcome, limit string) bool {
	r.Helper()
	switch {
	case !o.returned:
		r.Errorf("%s: %s did not return %s; a Sink must return promptly once its ctx is done", rule, what, limit)
	case o.panicked:
		r.Errorf("%s: %s panicked (%v); a Sink must return an error instead (the queue turns a panic into an error, but a panic can leave the sink's state broken)", rule, what, o.value)
	case o.goexit:
		r.Errorf("%s: %s called runtime.Goexit (t.FailNow?) instead of returning", rule, what)
	default:
		return false
	}
	return true
}

// closeAtEnd closes the sink, if it can be closed, without waiting on it
// for longer than the suite's limits and without letting it panic.
func (s suite) closeAtEnd(sink asynclog.Sink) {
	c, ok := sink.(interface{ Close(context.Context) error })
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	guard(s.timeout+s.grace, func() error { return c.Close(ctx) })
}

// testBatch returns n ordinary records of about size bytes each, with
// their Encoded bytes in buffers of their own, as the queue hands them.
func testBatch(n, size int, tag string) []asynclog.Record {
	now := time.Now()
	batch := make([]asynclog.Record, n)
	for i := range batch {
		msg := fmt.Sprintf("asynclogtest %s record %d", tag, i)
		b := make([]byte, 0, max(size, 128))
		b = fmt.Appendf(b, `{"time":%q,"level":"INFO","msg":%q,"pad":"`, now.Format(time.RFC3339Nano), msg)
		for len(b) < size-2 {
			b = append(b, 'x')
		}
		b = append(b, `"}`...)
		batch[i] = asynclog.Record{Time: now, Level: slog.LevelInfo, Message: msg, Encoded: b}
	}
	return batch
}

func (s suite) cancelledContext(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	batch := testBatch(3, 200, "cancelled")
	o := guard(s.grace, func() error { return sink.Write(ctx, batch) })
	if !badEnd(r, "CancelledContext", "Write with an already-cancelled ctx", o, fmt.Sprintf("within %v", s.grace)) {
		r.Logf("CancelledContext: Write returned %v", o.err)
	}
}

func (s suite) cancelDuringWrite(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(s.cancel, cancel)
	defer stop.Stop()
	batch := testBatch(3, 200, "cancel-during")
	o := guard(s.cancel+s.grace, func() error { return sink.Write(ctx, batch) })
	if !badEnd(r, "CancelDuringWrite", "Write whose ctx was cancelled during the call", o, fmt.Sprintf("within %v of the cancellation", s.grace)) {
		r.Logf("CancelDuringWrite: Write returned %v", o.err)
	}
}

func (s suite) deadlinePasses(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	ctx, cancel := context.WithTimeout(context.Background(), s.cancel)
	defer cancel()
	batch := testBatch(3, 200, "deadline")
	o := guard(s.cancel+s.grace, func() error { return sink.Write(ctx, batch) })
	if !badEnd(r, "DeadlinePasses", "Write whose ctx deadline passed during the call", o, fmt.Sprintf("within %v of the deadline", s.grace)) {
		r.Logf("DeadlinePasses: Write returned %v", o.err)
	}
}

// retention tracks the memory of batches handed to a sink, weakly.
type retention struct {
	batches []weak.Pointer[asynclog.Record]
	encoded []weak.Pointer[byte]
}

func (w *retention) track(batch []asynclog.Record) {
	w.batches = append(w.batches, weak.Make(&batch[0]))
	for i := range batch {
		w.encoded = append(w.encoded, weak.Make(&batch[i].Encoded[0]))
	}
}

// held collects garbage and counts the tracked batches and Encoded
// buffers that are still reachable.
func (w *retention) held() (batches, encoded int) {
	for range 3 {
		runtime.GC()
		batches, encoded = 0, 0
		for _, p := range w.batches {
			if p.Value() != nil {
				batches++
			}
		}
		for _, p := range w.encoded {
			if p.Value() != nil {
				encoded++
			}
		}
		if batches+encoded == 0 {
			return 0, 0
		}
	}
	return batches, encoded
}

// writeTracked hands the sink two batches, scribbling over the first and
// reusing its buffers for the second once the first Write has returned, as
// the queue does, and tracks both weakly. It keeps no strong reference to
// either batch when it returns.
func (s suite) writeTracked(r reporter, sink asynclog.Sink, w *retention) bool {
	r.Helper()
	batch := testBatch(8, 256, "first")
	w.track(batch)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	if badEnd(r, "NoRetention", "Write", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return false
	}
	// Scribble, then reuse each buffer for a different record.
	second := testBatch(8, 256, "second")
	for i := range batch {
		b := batch[i].Encoded[:cap(batch[i].Encoded)]
		for j := range b {
			b[j] = '#'
		}
		batch[i].Encoded = append(b[:0], second[i].Encoded...)
		batch[i].Message = second[i].Message
	}
	o = guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	clear(batch)
	return !badEnd(r, "NoRetention", "second Write", o, fmt.Sprintf("within %v of its deadline", s.grace))
}

func (s suite) noChange(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	batch := testBatch(8, 256, "unchanged")
	want := make([]string, len(batch))
	for i := range batch {
		want[i] = string(batch[i].Encoded)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	if badEnd(r, "NoChange", "Write", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return
	}
	for i := range batch {
		if string(batch[i].Encoded) != want[i] {
			r.Errorf("NoChange: Write changed record %d's Encoded bytes; a Sink must not: with a spool they are the record as the next start would deliver it again", i)
			return
		}
	}
}

func (s suite) noRetention(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	var w retention
	if !s.writeTracked(r, sink, &w) {
		return
	}
	if batches, encoded := w.held(); batches+encoded > 0 {
		r.Errorf("NoRetention: after Write returned the sink still holds %d of 1 batch slices and %d of 8 Encoded buffers; a Sink must copy what it keeps, the queue reuses both", batches, encoded)
	}
	runtime.KeepAlive(sink)
}

// oddBatches are legal batches that a careless sink may choke on.
func oddBatches() []struct {
	name  string
	batch []asynclog.Record
} {
	huge := testBatch(1, 1<<20, "huge")
	return []struct {
		name  string
		batch []asynclog.Record
	}{
		{"odd records (zero time, empty message, empty and non-JSON Encoded, invalid UTF-8)", []asynclog.Record{
			{},
			{Level: slog.LevelDebug - 8, Encoded: []byte{}},
			{Time: time.Now(), Level: slog.LevelInfo, Message: "console", Encoded: []byte("2026-01-02T03:04:05Z\tINFO\tconsole encoder output, not JSON")},
			{Time: time.Now(), Level: slog.LevelError + 40, Message: "bad \xff\xfe utf-8 \x00\x1b[31m", Encoded: []byte("{\"msg\":\"bad \xff\xfe utf-8 \\u0000\"}")},
			{Time: time.Unix(0, 0), Level: slog.LevelWarn, Message: strings.Repeat("é", 1000), Encoded: []byte(`{"msg":"` + strings.Repeat("é", 1000) + `"}`)},
			{Time: time.Now(), Level: slog.LevelInfo, Message: "unterminated", Encoded: []byte(`{"msg":"unterminated`)},
		}},
		{"a 1 MiB record", huge},
		{"1000 records", testBatch(1000, 100, "many")},
	}
}

func (s suite) noPanic(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	for _, c := range oddBatches() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, c.batch) })
		cancel()
		if badEnd(r, "NoPanic", "Write of "+c.name, o, fmt.Sprintf("within %v of its deadline", s.grace)) {
			if !o.returned {
				return // the sink is stuck in a Write: no further call is allowed
			}
			continue
		}
		r.Logf("NoPanic: Write of %s returned %v", c.name, o.err)
	}
}

type closer interface {
	Close(ctx context.Context) error
}

func (s suite) closeTwice(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	c, ok := sink.(closer)
	if !ok {
		r.Logf("CloseTwice: %T has no Close(ctx) method; nothing to check", sink)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	batch := testBatch(3, 200, "close")
	o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	if badEnd(r, "CloseTwice", "Write before Close", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return
	}
	for i, what := range []string{"first Close", "second Close"} {
		o := guard(s.timeout+s.grace, func() error { return c.Close(ctx) })
		if badEnd(r, "CloseTwice", what, o, fmt.Sprintf("within %v of its deadline", s.grace)) {
			return
		}
		if i == 1 {
			r.Logf("CloseTwice: the second Close returned %v", o.err)
		}
	}
}

func (s suite) closeCancelled(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	c, ok := sink.(closer)
	if !ok {
		r.Logf("CloseCancelled: %T has no Close(ctx) method; nothing to check", sink)
		return
	}
	wctx, wcancel := context.WithTimeout(context.Background(), s.timeout)
	defer wcancel()
	batch := testBatch(3, 200, "close-cancelled")
	o := guard(s.timeout+s.grace, func() error { return sink.Write(wctx, batch) })
	if badEnd(r, "CloseCancelled", "Write before Close", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o = guard(s.grace, func() error { return c.Close(ctx) })
	if !badEnd(r, "CloseCancelled", "Close with an already-cancelled ctx", o, fmt.Sprintf("within %v", s.grace)) {
		r.Logf("CloseCancelled: Close returned %v", o.err)
	}
	s.closeAtEnd(sink) // a sink may need a second, unhurried Close to let go of its resources
}

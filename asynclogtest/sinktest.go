package asynclogtest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

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

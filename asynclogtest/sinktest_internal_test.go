package asynclogtest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/asynclog/asynclog"
)

// failures is a reporter that keeps what the rules report.
type failures struct {
	mu   sync.Mutex
	errs []string
}

func (f *failures) Helper()             {}
func (f *failures) Logf(string, ...any) {}
func (f *failures) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *failures) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errs)
}

// quickSuite is the suite with short limits, so that sinks that hang until
// their ctx is done cost little.
func quickSuite() suite {
	// Bounds loose enough for a good sink on a loaded machine, tight enough
	// that the bad sinks, which run into them, keep the test short.
	return suite{grace: 300 * time.Millisecond, timeout: 450 * time.Millisecond, cancel: 5 * time.Millisecond}
}

// ignoresCtx blocks in Write until the test ends, whatever its ctx says.
type ignoresCtx struct{ release <-chan struct{} }

func (s ignoresCtx) Write(context.Context, []asynclog.Record) error { <-s.release; return nil }

// keepsEncoded keeps the Encoded slices it is given, and writes them out
// when closed: the bug NoRetention exists for.
type keepsEncoded struct{ kept [][]byte }

func (s *keepsEncoded) Write(_ context.Context, batch []asynclog.Record) error {
	for _, r := range batch {
		s.kept = append(s.kept, r.Encoded)
	}
	return nil
}

func (s *keepsEncoded) Close(context.Context) error {
	for _, b := range s.kept {
		_, _ = io.Discard.Write(b)
	}
	return nil
}

// keepsBatch keeps the last batch slice itself.
type keepsBatch struct{ last []asynclog.Record }

func (s *keepsBatch) Write(_ context.Context, batch []asynclog.Record) error {
	s.last = batch
	return nil
}

// redactsInPlace masks digits in the Encoded bytes it is given, in place:
// the bug NoChange exists for.
type redactsInPlace struct{}

func (redactsInPlace) Write(_ context.Context, batch []asynclog.Record) error {
	for _, r := range batch {
		for i, c := range r.Encoded {
			if c >= '0' && c <= '9' {
				r.Encoded[i] = '*'
			}
		}
	}
	return nil
}

// closesOnce panics on its second Close, as closing a closed channel does.
type closesOnce struct{ done chan struct{} }

func (s *closesOnce) Write(context.Context, []asynclog.Record) error { return nil }
func (s *closesOnce) Close(context.Context) error                    { close(s.done); return nil }

// closeIgnoresCtx blocks in Close until the test ends.
type closeIgnoresCtx struct{ release <-chan struct{} }

func (s closeIgnoresCtx) Write(context.Context, []asynclog.Record) error { return nil }
func (s closeIgnoresCtx) Close(context.Context) error                    { <-s.release; return nil }

// goexits calls runtime.Goexit in Write, as t.FailNow in a sink would.
type goexits struct{}

func (goexits) Write(context.Context, []asynclog.Record) error { runtime.Goexit(); return nil }

// TestSuiteCatchesBadSinks runs each rule against sinks that break it and
// sinks that keep it, and checks which rules report a failure.
func TestSuiteCatchesBadSinks(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // lets the abandoned Writes and Closes return before goleak looks
	writeRules := []string{"CancelledContext", "CancelDuringWrite", "DeadlinePasses", "NoRetention", "NoChange", "NoPanic"}
	tests := []struct {
		name    string
		newSink func() asynclog.Sink
		broken  []string // the rules expected to report a failure
	}{
		{"ignores ctx", func() asynclog.Sink { return ignoresCtx{release} }, writeRules},
		{"keeps Encoded", func() asynclog.Sink { return &keepsEncoded{} }, []string{"NoRetention"}},
		{"keeps batch", func() asynclog.Sink { return &keepsBatch{} }, []string{"NoRetention"}},
		{"redacts in place", func() asynclog.Sink { return redactsInPlace{} }, []string{"NoChange"}},
		{"panics", func() asynclog.Sink { return Panicking(nil) }, append(writeRules, "CloseTwice", "CloseCancelled")}, // its Write before Close panics too
		{"panics on second Close", func() asynclog.Sink { return &closesOnce{done: make(chan struct{})} }, []string{"CloseTwice"}},
		{"Close ignores ctx", func() asynclog.Sink { return closeIgnoresCtx{release} }, []string{"CloseTwice", "CloseCancelled"}},
		{"calls Goexit", func() asynclog.Sink { return goexits{} }, writeRules},
		{"Recorder", func() asynclog.Sink { return NewRecorder() }, nil},
		{"WriterSink", func() asynclog.Sink { return asynclog.WriterSink(io.Discard) }, nil},
		{"Hanging", func() asynclog.Sink { return Hanging() }, nil},
		{"Blocked, never released", func() asynclog.Sink { return NewBlocked(NewRecorder()) }, nil},
		{"Slow", func() asynclog.Sink { return Slow(NewRecorder(), time.Millisecond) }, nil},
		{"Flaky", func() asynclog.Sink { return Flaky(NewRecorder(), 1, 0.5, 7) }, nil},
		{"all faults but panics", func() asynclog.Sink {
			return Inject(NewRecorder(), Faults{Seed: 3, Delay: time.Millisecond, FailRate: 0.2, PartialRate: 0.2, HangRate: 0.2})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var broken []string
			for _, r := range quickSuite().rules() {
				f := &failures{}
				r.check(f, tt.newSink)
				errs := f.all()
				if len(errs) > 0 {
					broken = append(broken, r.name)
				}
				for _, e := range errs {
					assert.True(t, strings.HasPrefix(e, r.name+": "), "a failure of rule %s must name it: %q", r.name, e)
				}
				t.Logf("%s: %q", r.name, errs)
			}
			assert.Equal(t, tt.broken, broken, "the rules a %s sink breaks", tt.name)
		})
	}
}

// TestGuardSurvivesPanicAndHang checks the harness itself: a panic is
// recovered and a call past its wait is given up on.
func TestGuardSurvivesPanicAndHang(t *testing.T) {
	o := guard(time.Second, func() error { panic("boom") })
	assert.True(t, o.returned && o.panicked, "a panicking call is recovered: %+v", o)
	assert.Equal(t, "boom", o.value, "the panic's value is kept")

	release := make(chan struct{})
	defer close(release)
	o = guard(10*time.Millisecond, func() error { <-release; return nil })
	assert.False(t, o.returned, "a call past its wait is given up on")

	o = guard(time.Second, func() error { return io.EOF })
	assert.True(t, o.returned && !o.panicked && !o.goexit, "an ordinary call returns: %+v", o)
	assert.ErrorIs(t, o.err, io.EOF, "the call's error is kept")
}

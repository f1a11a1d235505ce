package asynclogtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/asynclog/asynclog"
)

// ErrInjected is the error that an injected failure wraps, unless
// Faults.Err says otherwise. Match it with errors.Is.
var ErrInjected = errors.New("asynclogtest: injected failure")

// PanicValue is the value an injected panic panics with.
const PanicValue = "asynclogtest: injected panic"

// Faults says which faults a [FaultSink] injects. The zero value injects
// none: the FaultSink passes every batch on.
//
// Each Write first waits Delay (all Writes, or a fraction SlowRate of
// them), then picks one outcome: the first
// FailFirst Writes fail; after that, a draw from a generator seeded with
// Seed picks panic with probability PanicRate, hang with HangRate, failure
// with FailRate, partial refusal with PartialRate, and otherwise success.
// The rates are taken in that order and their sum should be at most 1. A
// given Seed gives the same sequence of outcomes for the same sequence of
// Writes, so a failing run can be repeated.
type Faults struct {
	// Seed seeds the draws. Runs with the same Seed repeat.
	Seed uint64
	// Delay is how long a Write waits before anything else. The wait
	// honours ctx: if ctx is done first, Write returns ctx's error and
	// passes nothing on. 0: no delay.
	Delay time.Duration
	// SlowRate is the fraction of Writes that wait Delay; 0 means all of
	// them.
	SlowRate float64
	// FailFirst is the number of first Writes that fail.
	FailFirst int
	// FailRate is the fraction of the later Writes that fail: nothing is
	// passed on and Write returns Err.
	FailRate float64
	// Permanent wraps each failure with [asynclog.Permanent], so that the
	// queue does not retry.
	Permanent bool
	// PartialRate is the fraction of Writes that pass on all but the last
	// k records of the batch (k drawn from 1 to the batch's length) and
	// return [asynclog.Partial](Err, k).
	PartialRate float64
	// PanicRate is the fraction of Writes that panic with [PanicValue],
	// passing nothing on.
	PanicRate float64
	// HangRate is the fraction of Writes that block until ctx is done and
	// return ctx's error, passing nothing on.
	HangRate float64
	// Err is the error of a failure. nil: [ErrInjected].
	Err error
}

// FaultCounts counts what a [FaultSink] did, by outcome.
type FaultCounts struct {
	Writes    int // calls to Write
	Passed    int // Writes that passed the whole batch on
	Partial   int // Writes that passed part of the batch on
	Failed    int // Writes that failed, FailFirst and FailRate together
	Panicked  int // Writes that panicked
	Hung      int // Writes that hung until their ctx was done
	Cancelled int // Writes whose ctx was done during Delay
}

// FaultSink wraps a Sink and injects the faults its [Faults] describe. Make
// one with [Inject] or with [Slow], [Flaky], [Panicking] or [Hanging].
//
// Records reach the wrapped sink only on success, or in part on a partial
// refusal: a failed, panicking, hanging or cancelled Write passes nothing
// on, so every record the wrapped sink sees was accepted exactly once.
// Write may be called from any goroutine, one call at a time or not; Close
// closes the wrapped sink if it has a Close(ctx) method.
type FaultSink struct {
	next asynclog.Sink
	f    Faults

	mu     sync.Mutex
	rng    *rand.Rand
	counts FaultCounts
}

var _ asynclog.Sink = (*FaultSink)(nil)

// Inject returns a FaultSink that injects f's faults in front of next. A
// nil next discards what it is passed.
func Inject(next asynclog.Sink, f Faults) *FaultSink {
	if next == nil {
		next = asynclog.WriterSink(nil)
	}
	if f.Err == nil {
		f.Err = ErrInjected
	}
	return &FaultSink{next: next, f: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))}
}

// Slow returns a FaultSink that waits d (or until ctx is done) before each
// Write to next.
func Slow(next asynclog.Sink, d time.Duration) *FaultSink {
	return Inject(next, Faults{Delay: d})
}

// Flaky returns a FaultSink whose first failFirst Writes fail, and after
// them a fraction rate of Writes, drawn with seed. Failures are retryable
// and wrap [ErrInjected].
func Flaky(next asynclog.Sink, failFirst int, rate float64, seed uint64) *FaultSink {
	return Inject(next, Faults{FailFirst: failFirst, FailRate: rate, Seed: seed})
}

// Panicking returns a FaultSink whose every Write panics with
// [PanicValue]. It fails [TestSink] by design.
func Panicking(next asynclog.Sink) *FaultSink {
	return Inject(next, Faults{PanicRate: 1})
}

// Hanging returns a FaultSink whose every Write blocks until its ctx is
// done and returns ctx's error: a dead endpoint that still honours ctx.
func Hanging() *FaultSink {
	return Inject(nil, Faults{HangRate: 1})
}

type outcomeKind int

const (
	pass outcomeKind = iota
	fail
	partial
	panicking
	hang
)

// draw picks the outcome of one Write, the records refused if partial,
// and whether the Write waits Delay first.
func (s *FaultSink) draw(n int) (kind outcomeKind, refused int, slow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.Writes++
	// Every draw is made on every call, so that the sequence of outcomes
	// depends on the seed and the batch lengths alone.
	u := s.rng.Float64()
	k := 1 + s.rng.IntN(max(n, 1))
	f := s.f
	slow = f.Delay > 0 && (f.SlowRate == 0 || s.rng.Float64() < f.SlowRate)
	switch {
	case s.counts.Writes <= f.FailFirst:
		return fail, 0, slow
	case u < f.PanicRate:
		return panicking, 0, slow
	case u < f.PanicRate+f.HangRate:
		return hang, 0, slow
	case u < f.PanicRate+f.HangRate+f.FailRate:
		return fail, 0, slow
	case u < f.PanicRate+f.HangRate+f.FailRate+f.PartialRate && n > 0:
		return partial, k, slow
	}
	return pass, 0, slow
}

func (s *FaultSink) count(c *int) {
	s.mu.Lock()
	*c++
	s.mu.Unlock()
}

// Write injects the outcome drawn for this call; see [Faults].
func (s *FaultSink) Write(ctx context.Context, batch []asynclog.Record) error {
	kind, k, slow := s.draw(len(batch))
	if slow {
		t := time.NewTimer(s.f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.count(&s.counts.Cancelled)
			return fmt.Errorf("asynclogtest: slow write: %w", ctx.Err())
		}
	}
	switch kind {
	case panicking:
		s.count(&s.counts.Panicked)
		panic(PanicValue)
	case hang:
		s.count(&s.counts.Hung)
		<-ctx.Done()
		return fmt.Errorf("asynclogtest: hanging write: %w", ctx.Err())
	case fail:
		s.count(&s.counts.Failed)
		if s.f.Permanent {
			return asynclog.Permanent(s.f.Err)
		}
		return s.f.Err
	case partial:
		s.count(&s.counts.Partial)
		if err := s.next.Write(ctx, batch[:len(batch)-k]); err != nil {
			return err
		}
		return asynclog.Partial(s.f.Err, k)
	}
	s.count(&s.counts.Passed)
	return s.next.Write(ctx, batch)
}

// Close closes the wrapped sink if it has a Close(ctx) method.
func (s *FaultSink) Close(ctx context.Context) error {
	return closeSink(ctx, s.next)
}

// Counts returns what the FaultSink has done so far.
func (s *FaultSink) Counts() FaultCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// Blocked is a Sink whose Writes block until [Blocked.Release] is called,
// then pass their batch on; a Write whose ctx is done first returns ctx's
// error and passes nothing on. It stands for a sink stuck on a dead
// endpoint that a test later revives. Make one with [NewBlocked]; all
// methods are safe for concurrent use.
type Blocked struct {
	next       asynclog.Sink
	entered    chan struct{}
	enterOnce  sync.Once
	released   chan struct{}
	releaseOne sync.Once
}

var _ asynclog.Sink = (*Blocked)(nil)

// NewBlocked returns a Blocked sink in front of next; a nil next discards
// what it is passed.
func NewBlocked(next asynclog.Sink) *Blocked {
	if next == nil {
		next = asynclog.WriterSink(nil)
	}
	return &Blocked{next: next, entered: make(chan struct{}), released: make(chan struct{})}
}

// Write blocks until Release or until ctx is done; see [Blocked].
func (b *Blocked) Write(ctx context.Context, batch []asynclog.Record) error {
	b.enterOnce.Do(func() { close(b.entered) })
	select {
	case <-b.released:
		return b.next.Write(ctx, batch)
	case <-ctx.Done():
		return fmt.Errorf("asynclogtest: blocked write: %w", ctx.Err())
	}
}

// Entered returns a channel that is closed once the first Write has
// begun: the queue's consumer is then stuck in it.
func (b *Blocked) Entered() <-chan struct{} { return b.entered }

// Release lets every Write, present and future, through. It is
// idempotent.
func (b *Blocked) Release() { b.releaseOne.Do(func() { close(b.released) }) }

// Close closes the wrapped sink if it has a Close(ctx) method. It does not
// release blocked Writes.
func (b *Blocked) Close(ctx context.Context) error {
	return closeSink(ctx, b.next)
}

// closeSink closes s if it has a Close(ctx) method.
func closeSink(ctx context.Context, s asynclog.Sink) error {
	if c, ok := s.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}

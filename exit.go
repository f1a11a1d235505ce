package asynclog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// The exit-hook registry: the one piece of package-level mutable state.
// It holds the queues whose Options.ExitHook is set, and owns the signal
// goroutine, which runs while at least one queue is registered.
var exitHooks struct {
	mu     sync.Mutex
	queues map[*queue]struct{}
	sigs   chan os.Signal
	stop   chan struct{}
	done   chan struct{}
}

// registerExit adds q to the registry, starting the signal goroutine for
// the first queue.
func registerExit(q *queue) {
	h := &exitHooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.queues == nil {
		h.queues = make(map[*queue]struct{})
	}
	h.queues[q] = struct{}{}
	if h.sigs == nil {
		h.sigs = make(chan os.Signal, 1)
		h.stop = make(chan struct{})
		h.done = make(chan struct{})
		// A signal the process ignores (SIGINT under nohup, say) stays
		// ignored: hooking it would make it deadly.
		for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM} {
			if !signal.Ignored(sig) {
				signal.Notify(h.sigs, sig)
			}
		}
		go watch(h.sigs, h.stop, h.done, drainAndReraise)
	}
}

// unregisterExit removes q and stops the signal goroutine after the last
// queue has left: signal.Stop first, so that no signal is delivered to a
// channel nobody reads, then the goroutine's own stop.
func unregisterExit(q *queue) {
	h := &exitHooks
	h.mu.Lock()
	delete(h.queues, q)
	var stop, done chan struct{}
	if len(h.queues) == 0 && h.sigs != nil {
		signal.Stop(h.sigs)
		stop, done = h.stop, h.done
		h.sigs, h.stop, h.done = nil, nil, nil
	}
	h.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// watch is the signal goroutine. On SIGINT or SIGTERM it calls handle
// (drainAndReraise: drain every registered queue, then re-raise the signal
// with its default action, so that the process ends as it would have
// without the hook). It returns when stop is closed.
func watch(sigs <-chan os.Signal, stop <-chan struct{}, done chan<- struct{}, handle func(os.Signal)) {
	defer close(done)
	select {
	case sig := <-sigs:
		handle(sig)
	case <-stop:
		// A signal delivered just before signal.Stop may still wait in
		// sigs, and select chose at random: it must not be swallowed.
		select {
		case sig := <-sigs:
			handle(sig)
		default:
		}
	}
}

// drainAndReraise drains the hooked queues, then raises sig again with its
// default action.
func drainAndReraise(sig os.Signal) {
	drainRegistered()
	signal.Reset(sig)
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(os.Getpid(), s)
	}
}

// registered returns the hooked queues.
func registered() []*queue {
	h := &exitHooks
	h.mu.Lock()
	defer h.mu.Unlock()
	qs := make([]*queue, 0, len(h.queues))
	for q := range h.queues {
		qs = append(qs, q)
	}
	return qs
}

// drainRegistered shuts down every registered queue at once, each bounded
// by its CloseTimeout, and waits for them all. A queue that could not
// deliver everything says how many records it lost on stderr (Shutdown's
// abandonment does), whatever OnError is: the process is about to end.
func drainRegistered() {
	eachRegistered(time.Now(), func(ctx context.Context, q *queue) { _ = q.shutdownNoUnregister(ctx) })
}

// flushRegistered flushes every registered queue at once, each bounded by
// its CloseTimeout from start (the Fatal call's start, so that the call has
// one deadline): zap's Fatal calls it before zap exits the process. It
// flushes rather than shuts down because a Fatal hook that does not exit
// (zap.WithFatalHook) leaves the program running. What a queue still held
// at its bound is said on stderr. A queue already shutting down (Close in
// another goroutine, or the cleanup of a Queue no longer reachable, whose
// logger the program no longer uses) refuses the flush: its Shutdown's
// drain is what delivers the rest, so that is waited for instead, within
// the same bound.
func flushRegistered(start time.Time) {
	eachRegistered(start, func(ctx context.Context, q *queue) {
		err := q.flush(ctx, true)
		if errors.Is(err, ErrClosed) {
			err = q.awaitFirstShutdown(ctx)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			q.lock()
			n := q.store.queued() + q.inflight + len(q.waiters)
			q.mu.Unlock()
			fmt.Fprintf(os.Stderr, "asynclog: exit: %d %s still queued at CloseTimeout (%v) and lost\n", n, plural(n, "record", "records"), q.opts.CloseTimeout)
		}
	})
}

// eachRegistered runs f for every registered queue at once, each with a
// ctx whose deadline is that queue's CloseTimeout after start, and waits
// for them all.
func eachRegistered(start time.Time, f func(ctx context.Context, q *queue)) {
	var wg sync.WaitGroup
	for _, q := range registered() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithDeadline(context.Background(), start.Add(q.opts.CloseTimeout))
			defer cancel()
			f(ctx, q)
		}()
	}
	wg.Wait()
}

// Exit drains every queue whose Options.ExitHook is set (each bounded by its
// CloseTimeout), then calls os.Exit(code). Use it instead of os.Exit in a
// program that relies on the exit hook.
//
// What Go cannot do: nothing runs when main returns, and os.Exit, log.Fatal
// and a crash skip every hook. So `defer q.Close()` in main stays the main
// path; the hook covers SIGINT, SIGTERM, zap's Fatal (which flushes every
// hooked queue before zap exits) and Exit. Whatever a queue could not
// deliver within its CloseTimeout is counted and said on stderr.
func Exit(code int) {
	drainRegistered()
	os.Exit(code)
}

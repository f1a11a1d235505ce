package asynclog

// Reporting: sink errors and drops go to Options.OnError, or to a
// rate-limited line on stderr.

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// reporter is the default OnError: a line on stderr, at most one a second,
// with a count of the ones it held back.
type reporter struct {
	mu       sync.Mutex
	lastLine time.Time
	muted    int
}

// report passes err to OnError, or to the default reporter.
func (q *queue) report(err error) {
	if f := q.opts.OnError; f != nil {
		defer func() { _ = recover() }() // a broken OnError must not kill the consumer
		f(err)
		return
	}
	r := &q.reporter
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastLine) < time.Second {
		r.muted++
		return
	}
	r.lastLine = now
	if r.muted > 0 {
		fmt.Fprintf(os.Stderr, "%v (and %d more errors)\n", err, r.muted)
		r.muted = 0
		return
	}
	fmt.Fprintln(os.Stderr, err)
}

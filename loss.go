package asynclog

import (
	"errors"
	"fmt"
)

// maxFailErrs bounds the errors a Flush can report; the rest are counted.
const maxFailErrs = 8

// lossCount counts records lost since the queue began: dropped by the
// overflow policy, or given up on.
type lossCount struct{ dropped, failed uint64 }

// lossLog is what Flush and Shutdown report: the records dropped so far
// that count as a loss (the failed ones are Stats.Failed), the count at
// the last Flush reply, and the last few failure errors, each with the
// failure count it brought the total to. Guarded by queue.mu.
type lossLog struct {
	dropped  uint64 // of Stats.Dropped, those before Shutdown began
	reported lossCount
	errs     [maxFailErrs]lossErr // circular, the newest at next-1
	next     int
}

type lossErr struct {
	failed uint64 // count.failed once this error's records were counted
	err    error
}

// lossNowLocked is the count of losses so far: the drops before Shutdown
// began, and every record given up on.
func (q *queue) lossNowLocked() lossCount {
	return lossCount{dropped: q.loss.dropped, failed: q.stats.Failed}
}

// add records err as the reason for the failures up to at.failed.
func (l *lossLog) add(at lossCount, err error) {
	l.errs[l.next%maxFailErrs] = lossErr{failed: at.failed, err: err}
	l.next++
}

// markReported notes that a Flush has returned the losses up to c.
func (l *lossLog) markReported(c lossCount) {
	l.reported.dropped = max(l.reported.dropped, c.dropped)
	l.reported.failed = max(l.reported.failed, c.failed)
}

// since returns the error that reports the losses between base and now,
// or nil if there were none.
func (l *lossLog) since(base, now lossCount) error {
	var errs []error
	if d := now.dropped - base.dropped; now.dropped > base.dropped {
		errs = append(errs, fmt.Errorf("%w: %d", ErrDropped, d))
	}
	if now.failed > base.failed {
		n := now.failed - base.failed
		var reasons []error
		for i := range min(l.next, maxFailErrs) {
			e := l.errs[(l.next-1-i)%maxFailErrs]
			if e.failed <= base.failed {
				break
			}
			if e.failed <= now.failed {
				reasons = append(reasons, e.err)
			}
		}
		// Oldest first.
		for i, j := 0, len(reasons)-1; i < j; i, j = i+1, j-1 {
			reasons[i], reasons[j] = reasons[j], reasons[i]
		}
		err := fmt.Errorf("asynclog: %d %s failed", n, plural(int(n), "record", "records"))
		if len(reasons) > 0 {
			err = fmt.Errorf("%w: %w", err, errors.Join(reasons...))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

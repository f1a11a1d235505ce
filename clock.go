package asynclog

// The io.Writer front end's clock: it stamps each record itself, since the
// loggers that write to it keep their time inside the line.

import (
	"sync/atomic"
	"time"
)

// clockEpoch is the origin of the monotonic readings: time.Since on it
// reads one clock where time.Now reads two (the wall clock and the
// monotonic one), which on a virtual machine is half of time.Now's cost.
var clockEpoch = time.Now()

// clockRebase is how long a wall-clock reading is extended by the
// monotonic clock before the wall clock is read again: a step of the wall
// clock (a manual set, an NTP step) shows in records within it.
const clockRebase = 100 * time.Millisecond

// clockBase is a wall-clock reading and the monotonic reading (since
// clockEpoch) taken with it.
type clockBase struct {
	mono time.Duration
	wall int64 // Unix nanoseconds
}

var clockNow atomic.Pointer[clockBase]

// wallNow returns the wall-clock time now, as time.Now would, to within a
// wall-clock step in the last clockRebase. It reads the monotonic clock, and
// the wall clock only when the last reading is older than clockRebase (or
// from another clock: a testing/synctest bubble's, whose readings go back).
func wallNow() time.Time {
	m := time.Since(clockEpoch)
	b := clockNow.Load()
	if b == nil || m < b.mono || m-b.mono >= clockRebase {
		t := time.Now()
		m = time.Since(clockEpoch)
		clockNow.Store(&clockBase{mono: m, wall: t.UnixNano()})
		return t
	}
	return time.Unix(0, b.wall+int64(m-b.mono))
}

package asynclog

import (
	"os"
	"testing"
)

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

// TestSignalNotSwallowedByStop: a signal that arrived just before the last
// queue left the registry is still handled, whichever case select picks.
// The handling itself (drain, re-raise) is replaced by a counter here.
func TestSignalNotSwallowedByStop(t *testing.T) {
	for i := range 200 {
		sigs := make(chan os.Signal, 1)
		stop := make(chan struct{})
		done := make(chan struct{})
		sigs <- fakeSignal{} // delivered before signal.Stop
		close(stop)          // the last queue left
		handled := 0
		watch(sigs, stop, done, func(os.Signal) { handled++ })
		<-done
		if handled != 1 {
			t.Fatalf("run %d: the signal was handled %d times, want 1", i, handled)
		}
	}
}

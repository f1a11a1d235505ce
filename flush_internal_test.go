package asynclog

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
)

// TestEveryWaitingFlushSeesAFailure: two Flushes waiting on one refused
// record both return its error; a third, after them, says nil.
func TestEveryWaitingFlushSeesAFailure(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	sink := SinkFunc(func(context.Context, []Record) error {
		started <- struct{}{}
		<-release
		return Permanent(errors.New("refused"))
	})
	pub, err := NewQueue(sink, Options{OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	q := pub.q
	slog.New(NewHandler(pub, nil)).Info("refused")
	<-started
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- pub.Flush(context.Background()) }()
	}
	for {
		q.mu.Lock()
		n := len(q.flushes)
		q.mu.Unlock()
		if n == 2 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	for i := range 2 {
		if err := <-errs; err == nil {
			t.Errorf("Flush %d waiting on the refused record returned nil", i)
		}
	}
	if err := pub.Flush(context.Background()); err != nil {
		t.Errorf("a Flush after both returned reports the failure again: %v", err)
	}
}

package asynclogtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/asynclog/asynclog"
)

// Recorder is an [asynclog.Sink] that keeps a copy of every record it
// receives, in arrival order, so that a test can look at what was logged.
//
// All methods are safe for concurrent use. Write copies each record's
// Encoded bytes, so the Recorder keeps nothing of the queue's buffers; it
// never fails, and it returns at once whatever its ctx says. Close only
// notes that it was called: records written after Close are still kept.
// The zero value is not ready for use; call [NewRecorder].
type Recorder struct {
	mu      sync.Mutex
	recs    []asynclog.Record
	changed chan struct{} // closed and replaced whenever records arrive or Reset runs
	closes  int
}

var _ asynclog.Sink = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{changed: make(chan struct{})}
}

// Write appends a copy of each record of batch and wakes every waiter. It
// always returns nil.
func (r *Recorder) Write(_ context.Context, batch []asynclog.Record) error {
	if len(batch) == 0 {
		return nil
	}
	size := 0
	for i := range batch {
		size += len(batch[i].Encoded)
	}
	store := make([]byte, 0, size) // one allocation for the whole batch's bytes
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range batch {
		start := len(store)
		store = append(store, rec.Encoded...)
		rec.Encoded = store[start:len(store):len(store)]
		r.recs = append(r.recs, rec)
	}
	r.notifyLocked()
	return nil
}

// Close records that the sink was closed and returns nil. It is safe to
// call any number of times; see [Recorder.Closes].
func (r *Recorder) Close(context.Context) error {
	r.mu.Lock()
	r.closes++
	r.mu.Unlock()
	return nil
}

// Closes returns how many times Close has been called: a queue closes its
// sink once, at the end of Shutdown.
func (r *Recorder) Closes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closes
}

func (r *Recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Records returns a copy of the records received so far, in arrival
// order. The copy is the caller's, Encoded bytes included.
func (r *Recorder) Records() []asynclog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]asynclog.Record, len(r.recs))
	for i, rec := range r.recs {
		rec.Encoded = bytes.Clone(rec.Encoded)
		out[i] = rec
	}
	return out
}

// Len returns the number of records received so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

// Messages returns the Message of each record received so far, in arrival
// order.
func (r *Recorder) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.recs))
	for i := range r.recs {
		out[i] = r.recs[i].Message
	}
	return out
}

// Decoded parses each record's Encoded bytes as one JSON object and returns
// them in arrival order. It returns an error naming the first record that
// is not a JSON object (a zap console encoder's output, say).
func (r *Recorder) Decoded() ([]map[string]any, error) {
	recs := r.snapshot()
	out := make([]map[string]any, len(recs))
	for i := range recs {
		if err := json.Unmarshal(recs[i].Encoded, &out[i]); err != nil {
			return nil, fmt.Errorf("asynclogtest: record %d (%q): %w", i, recs[i].Encoded, err)
		}
		if out[i] == nil {
			return nil, fmt.Errorf("asynclogtest: record %d (%q) is not a JSON object", i, recs[i].Encoded)
		}
	}
	return out, nil
}

// Reset discards the records received so far. Waiters keep waiting for
// their count, now counted from zero.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = nil
	r.notifyLocked()
}

// snapshot returns the records slice as it is now, sharing the Encoded
// bytes, which the Recorder never changes.
func (r *Recorder) snapshot() []asynclog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[:len(r.recs):len(r.recs)]
}

// Wait blocks until at least n records have arrived, or ctx is done. It
// returns nil in the first case and an error wrapping ctx's error in the
// second, saying how many records had arrived. Bound ctx: a test waiting
// for records that never come should fail, not hang.
func (r *Recorder) Wait(ctx context.Context, n int) error {
	got, err := r.waitFor(ctx, func(recs []asynclog.Record) bool { return len(recs) >= n })
	if err != nil {
		return fmt.Errorf("asynclogtest: waited for %d records, %d arrived: %w", n, got, err)
	}
	return nil
}

// WaitFor blocks until cond, called with the records received so far,
// returns true, or ctx is done. cond runs each time records arrive, on the
// waiting goroutine and without the Recorder's lock, so it may call the
// Recorder's methods; it must not modify the records it is given. WaitFor
// returns nil once cond holds, or an error wrapping ctx's error, saying
// how many records had arrived.
func (r *Recorder) WaitFor(ctx context.Context, cond func(recs []asynclog.Record) bool) error {
	got, err := r.waitFor(ctx, cond)
	if err != nil {
		return fmt.Errorf("asynclogtest: condition not met, %d records arrived: %w", got, err)
	}
	return nil
}

func (r *Recorder) waitFor(ctx context.Context, cond func(recs []asynclog.Record) bool) (int, error) {
	for {
		r.mu.Lock()
		recs := r.recs[:len(r.recs):len(r.recs)]
		changed := r.changed
		r.mu.Unlock()
		if cond(recs) {
			return len(recs), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return len(recs), ctx.Err()
		}
	}
}

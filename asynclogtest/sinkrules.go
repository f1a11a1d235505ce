package asynclogtest

// The rules TestSink checks, one method each (suite.rules lists them).

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"
	"weak"

	"github.com/asynclog/asynclog"
)

func (s suite) cancelledContext(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	batch := testBatch(3, 200, "cancelled")
	o := guard(s.grace, func() error { return sink.Write(ctx, batch) })
	if !badEnd(r, "CancelledContext", "Write with an already-cancelled ctx", o, fmt.Sprintf("within %v", s.grace)) {
		r.Logf("CancelledContext: Write returned %v", o.err)
	}
}

func (s suite) cancelDuringWrite(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(s.cancel, cancel)
	defer stop.Stop()
	batch := testBatch(3, 200, "cancel-during")
	o := guard(s.cancel+s.grace, func() error { return sink.Write(ctx, batch) })
	if !badEnd(r, "CancelDuringWrite", "Write whose ctx was cancelled during the call", o, fmt.Sprintf("within %v of the cancellation", s.grace)) {
		r.Logf("CancelDuringWrite: Write returned %v", o.err)
	}
}

func (s suite) deadlinePasses(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	ctx, cancel := context.WithTimeout(context.Background(), s.cancel)
	defer cancel()
	batch := testBatch(3, 200, "deadline")
	o := guard(s.cancel+s.grace, func() error { return sink.Write(ctx, batch) })
	if !badEnd(r, "DeadlinePasses", "Write whose ctx deadline passed during the call", o, fmt.Sprintf("within %v of the deadline", s.grace)) {
		r.Logf("DeadlinePasses: Write returned %v", o.err)
	}
}

// retention tracks the memory of batches handed to a sink, weakly.
type retention struct {
	batches []weak.Pointer[asynclog.Record]
	encoded []weak.Pointer[byte]
}

func (w *retention) track(batch []asynclog.Record) {
	w.batches = append(w.batches, weak.Make(&batch[0]))
	for i := range batch {
		w.encoded = append(w.encoded, weak.Make(&batch[i].Encoded[0]))
	}
}

// held collects garbage and counts the tracked batches and Encoded
// buffers that are still reachable.
func (w *retention) held() (batches, encoded int) {
	for range 3 {
		runtime.GC()
		batches, encoded = 0, 0
		for _, p := range w.batches {
			if p.Value() != nil {
				batches++
			}
		}
		for _, p := range w.encoded {
			if p.Value() != nil {
				encoded++
			}
		}
		if batches+encoded == 0 {
			return 0, 0
		}
	}
	return batches, encoded
}

// writeTracked hands the sink two batches, scribbling over the first and
// reusing its buffers for the second once the first Write has returned, as
// the queue does, and tracks both weakly. It keeps no strong reference to
// either batch when it returns.
func (s suite) writeTracked(r reporter, sink asynclog.Sink, w *retention) bool {
	r.Helper()
	batch := testBatch(8, 256, "first")
	w.track(batch)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	if badEnd(r, "NoRetention", "Write", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return false
	}
	// Scribble, then reuse each buffer for a different record.
	second := testBatch(8, 256, "second")
	for i := range batch {
		b := batch[i].Encoded[:cap(batch[i].Encoded)]
		for j := range b {
			b[j] = '#'
		}
		batch[i].Encoded = append(b[:0], second[i].Encoded...)
		batch[i].Message = second[i].Message
	}
	o = guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	clear(batch)
	return !badEnd(r, "NoRetention", "second Write", o, fmt.Sprintf("within %v of its deadline", s.grace))
}

func (s suite) noChange(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	batch := testBatch(8, 256, "unchanged")
	want := make([]string, len(batch))
	for i := range batch {
		want[i] = string(batch[i].Encoded)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	if badEnd(r, "NoChange", "Write", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return
	}
	for i := range batch {
		if string(batch[i].Encoded) != want[i] {
			r.Errorf("NoChange: Write changed record %d's Encoded bytes; a Sink must not: with a spool they are the record as the next start would deliver it again", i)
			return
		}
	}
}

func (s suite) noRetention(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	var w retention
	if !s.writeTracked(r, sink, &w) {
		return
	}
	if batches, encoded := w.held(); batches+encoded > 0 {
		r.Errorf("NoRetention: after Write returned the sink still holds %d of 1 batch slices and %d of 8 Encoded buffers; a Sink must copy what it keeps, the queue reuses both", batches, encoded)
	}
	runtime.KeepAlive(sink)
}

// oddBatches are legal batches that a careless sink may choke on.
func oddBatches() []struct {
	name  string
	batch []asynclog.Record
} {
	huge := testBatch(1, 1<<20, "huge")
	return []struct {
		name  string
		batch []asynclog.Record
	}{
		{"odd records (zero time, empty message, empty and non-JSON Encoded, invalid UTF-8)", []asynclog.Record{
			{},
			{Level: slog.LevelDebug - 8, Encoded: []byte{}},
			{Time: time.Now(), Level: slog.LevelInfo, Message: "console", Encoded: []byte("2026-01-02T03:04:05Z\tINFO\tconsole encoder output, not JSON")},
			{Time: time.Now(), Level: slog.LevelError + 40, Message: "bad \xff\xfe utf-8 \x00\x1b[31m", Encoded: []byte("{\"msg\":\"bad \xff\xfe utf-8 \\u0000\"}")},
			{Time: time.Unix(0, 0), Level: slog.LevelWarn, Message: strings.Repeat("é", 1000), Encoded: []byte(`{"msg":"` + strings.Repeat("é", 1000) + `"}`)},
			{Time: time.Now(), Level: slog.LevelInfo, Message: "unterminated", Encoded: []byte(`{"msg":"unterminated`)},
		}},
		{"a 1 MiB record", huge},
		{"1000 records", testBatch(1000, 100, "many")},
	}
}

func (s suite) noPanic(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	defer s.closeAtEnd(sink)
	for _, c := range oddBatches() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, c.batch) })
		cancel()
		if badEnd(r, "NoPanic", "Write of "+c.name, o, fmt.Sprintf("within %v of its deadline", s.grace)) {
			if !o.returned {
				return // the sink is stuck in a Write: no further call is allowed
			}
			continue
		}
		r.Logf("NoPanic: Write of %s returned %v", c.name, o.err)
	}
}

type closer interface {
	Close(ctx context.Context) error
}

func (s suite) closeTwice(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	c, ok := sink.(closer)
	if !ok {
		r.Logf("CloseTwice: %T has no Close(ctx) method; nothing to check", sink)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	batch := testBatch(3, 200, "close")
	o := guard(s.timeout+s.grace, func() error { return sink.Write(ctx, batch) })
	if badEnd(r, "CloseTwice", "Write before Close", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return
	}
	for i, what := range []string{"first Close", "second Close"} {
		o := guard(s.timeout+s.grace, func() error { return c.Close(ctx) })
		if badEnd(r, "CloseTwice", what, o, fmt.Sprintf("within %v of its deadline", s.grace)) {
			return
		}
		if i == 1 {
			r.Logf("CloseTwice: the second Close returned %v", o.err)
		}
	}
}

func (s suite) closeCancelled(r reporter, newSink func() asynclog.Sink) {
	r.Helper()
	sink := newSink()
	c, ok := sink.(closer)
	if !ok {
		r.Logf("CloseCancelled: %T has no Close(ctx) method; nothing to check", sink)
		return
	}
	wctx, wcancel := context.WithTimeout(context.Background(), s.timeout)
	defer wcancel()
	batch := testBatch(3, 200, "close-cancelled")
	o := guard(s.timeout+s.grace, func() error { return sink.Write(wctx, batch) })
	if badEnd(r, "CloseCancelled", "Write before Close", o, fmt.Sprintf("within %v of its deadline", s.grace)) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o = guard(s.grace, func() error { return c.Close(ctx) })
	if !badEnd(r, "CloseCancelled", "Close with an already-cancelled ctx", o, fmt.Sprintf("within %v", s.grace)) {
		r.Logf("CloseCancelled: Close returned %v", o.err)
	}
	s.closeAtEnd(sink) // a sink may need a second, unhurried Close to let go of its resources
}

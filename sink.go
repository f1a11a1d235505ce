package asynclog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Record is one log record as it travels from a front end to a [Sink].
//
// The front end fills every field on the caller's goroutine, but for the
// io.Writer front end's Message, which the consumer goroutine finds in
// Encoded before the Sink sees the record (and does not look for when the
// sink is a WriterSink, which never reads it). Encoded holds
// the whole record as the front end's encoder wrote it (one JSON object by
// default), without a trailing line ending. Encoded lives in a buffer the
// queue reuses (with a spool, the spool's own copy of the record, in its
// file): a Sink must copy it if it needs it after Write returns, and must
// not change its bytes.
type Record struct {
	Time    time.Time
	Level   slog.Level // zap levels mapped: Debug -4, Info 0, Warn 4, Error 8, DPanic 12, Panic 16, Fatal 20
	Message string
	Encoded []byte
}

// Sink delivers batches of records to a destination.
//
// Write is only called from the queue's consumer goroutine, one call at a
// time, so a Sink needs no locking of its own for Write. It must honour ctx:
// return promptly once ctx is done. It must not keep batch or any Encoded
// slice after it returns: the queue reuses them. It must not change an
// Encoded slice's bytes either: with a spool they are the record as the
// next start would deliver it again, should this process die before the
// batch is settled.
//
// A Write error is retried unless it is wrapped with [Permanent] or
// [Partial]; [RetryAfter] asks for a minimum wait before the next attempt.
// A sink that got the first records of the batch to the destination before
// it failed says how many with [Delivered]: those count as Delivered and are
// neither retried nor given to the fallback; only the rest are.
//
// Delivery is at least once: a destination that kept a batch but whose
// answer was lost (a reset connection, a timeout) gets it again on retry.
//
// A Sink that also implements Close(ctx context.Context) error is closed
// once by [Queue.Shutdown], after the last batch.
type Sink interface {
	Write(ctx context.Context, batch []Record) error
}

// SinkFunc adapts an ordinary function to the [Sink] interface.
type SinkFunc func(ctx context.Context, batch []Record) error

// Write calls f(ctx, batch).
func (f SinkFunc) Write(ctx context.Context, batch []Record) error { return f(ctx, batch) }

var _ Sink = SinkFunc(nil)

// WriterSink returns a Sink that writes each record's Encoded bytes to w,
// newline-terminated, with one w.Write call per batch. It is the sink for a
// file, a pipe or os.Stderr. If w has a Sync method (as *os.File does) it
// is not called; if w is an io.Closer it is not closed: w stays the
// caller's. NewQueue refuses WriterSink(nil) with an error: a sink that
// discards everything and counts it Delivered is a mistake.
func WriterSink(w io.Writer) Sink {
	return &writerSink{w: w}
}

type writerSink struct {
	w   io.Writer
	buf bytes.Buffer // reused across batches; only the consumer goroutine touches it
}

func (s *writerSink) Write(ctx context.Context, batch []Record) error {
	if s.w == nil {
		return Permanent(errors.New("asynclog: WriterSink has a nil io.Writer"))
	}
	s.buf.Reset()
	for i := range batch {
		s.buf.Write(batch[i].Encoded)
		if n := len(batch[i].Encoded); n == 0 || batch[i].Encoded[n-1] != '\n' {
			s.buf.WriteByte('\n')
		}
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return fmt.Errorf("asynclog: write batch: %w", err)
	}
	if s.buf.Cap() > 1<<20 {
		s.buf = bytes.Buffer{} // do not pin one huge batch's memory forever
	}
	return nil
}

// writeBlock writes a whole batch that the queue holds already laid out
// as WriterSink writes it (each encoding followed by a newline), in one
// w.Write call and without a copy.
func (s *writerSink) writeBlock(block []byte) error {
	if _, err := s.w.Write(block); err != nil {
		return fmt.Errorf("asynclog: write batch: %w", err)
	}
	return nil
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the queue does not retry the batch: the
// records count as Failed (or go to the fallback sink). errors.Is and
// errors.As still reach err. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError is a retryable sink error whose next attempt must wait at
// least Delay. [RetryAfter] makes one.
type RetryAfterError struct {
	Err   error
	Delay time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.Delay)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err as retryable, with the next attempt no sooner than d
// (for example from an HTTP Retry-After header). The queue waits the longer
// of d and its own backoff, capped by Options.MaxBackoff. RetryAfter(nil, d)
// is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	if d < 0 {
		d = 0
	}
	return &RetryAfterError{Err: err, Delay: d}
}

// PartialError reports that a sink took a batch but refused Rejected of its
// records. [Partial] makes one.
type PartialError struct {
	Err      error
	Rejected int
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%v (%d records rejected)", e.Err, e.Rejected)
}

func (e *PartialError) Unwrap() error { return e.Err }

// Partial reports that the batch was taken but rejected of its records were
// refused. The queue counts the rejected records (at most the batch) as
// Failed and the rest as Delivered, passes the error to OnError, and does
// not retry. Partial(nil, n) is nil.
func Partial(err error, rejected int) error {
	if err == nil {
		return nil
	}
	if rejected < 0 {
		rejected = 0
	}
	return &PartialError{Err: err, Rejected: rejected}
}

// DeliveredError reports that the first N records of a batch reached the
// destination before Err stopped the rest. [Delivered] makes one.
type DeliveredError struct {
	Err error
	N   int
}

func (e *DeliveredError) Error() string {
	return fmt.Sprintf("%v (after %d %s delivered)", e.Err, e.N, plural(e.N, "record", "records"))
}

func (e *DeliveredError) Unwrap() error { return e.Err }

// Delivered reports that the first n records of the batch, in order, were
// delivered before err. The queue counts them as Delivered and treats the
// rest of the batch as err says: retried (only the rest is written again),
// after RetryAfter's delay if err carries one, or given up on if err is
// [Permanent] or the attempts run out, in which case only the rest goes to
// the fallback sink. n is clamped to the batch. Delivered(nil, n) is nil.
func Delivered(err error, n int) error {
	if err == nil {
		return nil
	}
	if n < 0 {
		n = 0
	}
	return &DeliveredError{Err: err, N: n}
}

// plural returns one if n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// closeSink closes s if it has a Close(ctx) method.
func closeSink(ctx context.Context, s Sink) error {
	if c, ok := s.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}

package asynclog

// The package's exported errors, in one place.

import "errors"

// ErrReentrant is returned by Flush, Shutdown and Close when they are called
// from the queue's own consumer goroutine (from a Sink's Write or from
// Options.OnError), where waiting for the consumer could never end, and
// from the OnError that Shutdown calls on its own goroutine for what it
// abandoned at its deadline, where waiting would outlast that Shutdown.
var ErrReentrant = errors.New("asynclog: called from the queue's own consumer (a Sink or OnError)")

var (
	// ErrDropped is wrapped by the errors that report dropped records: to
	// Options.OnError, and from Flush, Shutdown and synchronous records.
	ErrDropped = errors.New("asynclog: records dropped")

	errNilSink = errors.New("asynclog: NewQueue needs a Sink, got nil")
)

// ErrClosed is returned by Flush once Shutdown has begun, and wrapped by
// the error of a Flush that was waiting when Shutdown abandoned the drain.
var ErrClosed = errors.New("asynclog: queue closed")

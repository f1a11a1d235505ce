package httpsink

import "time"

// SetAfter replaces the sink's time.After, which times the waits before
// it resends the records a bulk answer refused with 429, so that tests
// see each wait and end it when they choose.
func SetAfter(s *Sink, after func(time.Duration) <-chan time.Time) { s.after = after }

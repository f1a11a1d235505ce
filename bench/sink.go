package main

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"
)

// sinkMode is the behaviour of a [sink].
type sinkMode int

const (
	fast sinkMode = iota // discards
	slow                 // each Write costs slowWrite, whatever its size
	dead                 // each Write blocks until Release
)

func (m sinkMode) String() string {
	switch m {
	case fast:
		return "fast"
	case slow:
		return "slow"
	}
	return "dead"
}

// slowWrite is what one Write to the slow sink costs: an HTTP round trip.
const slowWrite = time.Millisecond

// benchMsg is every subject's log message; the sink counts records by it.
const benchMsg = "request served"

// sink is the one destination every subject writes to, through its own
// io.Writer or exporter adapter. Write is safe for concurrent use. It counts
// the records that reach it by their message, so that synthetic records (a
// drop notice) are not counted, and keeps a copy of the first record's line.
type sink struct {
	mode    sinkMode
	records atomic.Int64
	writes  atomic.Int64
	sample  atomic.Pointer[[]byte]

	release     chan struct{}
	releaseOnce sync.Once
}

func newSink(mode sinkMode) *sink {
	return &sink{mode: mode, release: make(chan struct{})}
}

// Write takes p, one or more newline-terminated records, after the sink's
// cost: none, slowWrite, or until Release.
func (s *sink) Write(p []byte) (int, error) {
	switch s.mode {
	case slow:
		time.Sleep(slowWrite)
	case dead:
		<-s.release
	}
	s.writes.Add(1)
	s.records.Add(int64(bytes.Count(p, []byte(benchMsg))))
	if s.sample.Load() == nil {
		// The first record's line, not a drop notice that may open the
		// first batch.
		if i := bytes.Index(p, []byte(benchMsg)); i >= 0 {
			start := bytes.LastIndexByte(p[:i], '\n') + 1
			line := p[start:]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			c := bytes.Clone(line)
			s.sample.CompareAndSwap(nil, &c)
		}
	}
	return len(p), nil
}

// Release lets every blocked and future Write of a dead sink through.
func (s *sink) Release() {
	s.releaseOnce.Do(func() { close(s.release) })
}

// Delivered is the number of records that have reached the sink.
func (s *sink) Delivered() int64 { return s.records.Load() }

// Sample is the first line the sink received, or "".
func (s *sink) Sample() string {
	if p := s.sample.Load(); p != nil {
		return string(*p)
	}
	return ""
}

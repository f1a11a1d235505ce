package main

import (
	"bytes"
	"fmt"
	"os"
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
	file                 // writes to a real file; records are counted in the file
)

func (m sinkMode) String() string {
	switch m {
	case fast:
		return "fast"
	case slow:
		return "slow"
	case file:
		return "file"
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
// drop notice) are not counted, and keeps a copy of the first record it saw.
// A file sink passes each Write straight to its *os.File and counts the
// records in the file when asked, so the caller pays for the write alone;
// it has no Sync method, so no subject fsyncs the file (zap's Sync would).
type sink struct {
	mode    sinkMode
	f       *os.File // file mode only
	records atomic.Int64
	writes  atomic.Int64
	sample  atomic.Pointer[[]byte]

	release     chan struct{}
	releaseOnce sync.Once
}

func newSink(mode sinkMode) *sink {
	return &sink{mode: mode, release: make(chan struct{})}
}

// newFileSink creates a file sink writing a new file in dir.
func newFileSink(dir string) (*sink, error) {
	f, err := os.CreateTemp(dir, "bench-*.log")
	if err != nil {
		return nil, err
	}
	s := newSink(file)
	s.f = f
	return s, nil
}

// Write takes p, one or more newline-terminated records, after the sink's
// cost: none, slowWrite, until Release, or the file's write.
func (s *sink) Write(p []byte) (int, error) {
	switch s.mode {
	case slow:
		time.Sleep(slowWrite)
	case dead:
		<-s.release
	case file:
		n, err := s.f.Write(p)
		s.writes.Add(1)
		if err == nil && s.sample.Load() == nil {
			s.keepSample(p)
		}
		return n, err
	}
	s.writes.Add(1)
	s.records.Add(int64(bytes.Count(p, []byte(benchMsg))))
	if s.sample.Load() == nil {
		s.keepSample(p)
	}
	return len(p), nil
}

// keepSample keeps the first record of p (a line with benchMsg: a drop
// notice ahead of the records is not one), unless a sample is already kept.
func (s *sink) keepSample(p []byte) {
	for len(p) > 0 {
		line, rest, _ := bytes.Cut(p, []byte{'\n'})
		if bytes.Contains(line, []byte(benchMsg)) {
			c := bytes.Clone(line)
			s.sample.CompareAndSwap(nil, &c)
			return
		}
		p = rest
	}
}

// Release lets every blocked and future Write of a dead sink through.
func (s *sink) Release() {
	s.releaseOnce.Do(func() { close(s.release) })
}

// Delivered is the number of records that have reached the sink. A file
// sink reads its file to count them; 0 if it cannot.
func (s *sink) Delivered() int64 {
	if s.mode == file {
		raw, err := os.ReadFile(s.f.Name())
		if err != nil {
			return 0
		}
		return int64(bytes.Count(raw, []byte(benchMsg)))
	}
	return s.records.Load()
}

// Remove closes and removes a file sink's file; it does nothing for the
// other modes.
func (s *sink) Remove() error {
	if s.mode != file {
		return nil
	}
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("remove file sink: %w", err)
	}
	return nil
}

// Sample is the first record the sink received, or "".
func (s *sink) Sample() string {
	if p := s.sample.Load(); p != nil {
		return string(*p)
	}
	return ""
}

package main

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The naive baseline of scenarios 1 and 5: each synchronous peer writing
// through ringWriter, the simplest asynchronous writer, instead of to the
// sink itself. On two CPUs a hand-off to a consumer goroutine that writes
// the sink costs the producers whatever the consumer runs; these rows show
// what the first asynchronous writer a Go programmer would write, with none
// of a queue's guarantees, costs in the same run. It is a baseline, not a
// floor: a better hand-off does better (its consumer copies the buffer
// under the lock, and a producer wakes it whenever it has parked).
const (
	zapRing     = "zap NewCore + naive ring"
	zapRingWith = "zap NewCore + naive ring, With"
	slogRing    = "slog JSONHandler + naive ring"
	zerologRing = "zerolog + naive ring"
)

// ringCfg is the configuration line the baseline subjects share.
const ringCfg = "writes through a naive asynchronous writer (one mutex, one byte buffer of 1 MiB the producers append to, one goroutine that takes it whole and writes it to the sink; no levels, barrier, counters or bound but the buffer; Close drains it)"

// ringSubject is a baseline subject: logger's calls written through a
// ringWriter to the sink.
func ringSubject(name, cfg string, logger func(w io.Writer) func()) subject {
	return subject{
		name:     name,
		async:    true,
		config:   cfg + " " + ringCfg,
		lossless: true,
		open: func(s *sink, _ *env) *instance {
			r := newRingWriter(s)
			return &instance{log: logger(r), close: func(context.Context) error { r.close(); return nil }}
		},
	}
}

// ringWithSubject is the baseline of scenario 1's With rows: zap with the five
// fields given once, through the naive writer.
func ringWithSubject() subject {
	return ringSubject(zapRingWith, "as zap NewCore (sync), With, but", func(w io.Writer) func() {
		l := zap.New(zapcore.NewCore(zapEncoder(), zapcore.AddSync(w), zapcore.InfoLevel)).With(preparedFields()...)
		return func() { l.Info(benchMsg) }
	})
}

// ringSubjects are the baseline subjects, one for each synchronous peer of
// scenario 5 (and scenario 1's inline rows).
func ringSubjects() []subject {
	return []subject{
		ringSubject(zapRing, "as zap NewCore (sync), but", func(w io.Writer) func() {
			l := zap.New(zapcore.NewCore(zapEncoder(), zapcore.AddSync(w), zapcore.InfoLevel))
			return func() { zapLog(l) }
		}),
		ringSubject(slogRing, "as slog JSONHandler (sync), but", func(w io.Writer) func() {
			l := slog.New(slog.NewJSONHandler(w, nil))
			return func() { slogLog(l) }
		}),
		ringSubject(zerologRing, "as zerolog (sync), but", func(w io.Writer) func() {
			l := zerolog.New(w).With().Timestamp().Logger()
			return func() { zerologLog(&l) }
		}),
	}
}

// ringWriter is the naive asynchronous writer: writers copy each record
// into one byte buffer under a mutex, and one goroutine takes the whole
// buffer under it and writes it to w in one call, parking on a one-slot
// channel when there is nothing. No levels, barrier, counters or bound
// beyond the buffer's size.
type ringWriter struct {
	mu     sync.Mutex
	room   *sync.Cond
	buf    []byte
	parked bool
	stop   bool
	wake   chan struct{}
	done   chan struct{}
}

func newRingWriter(w io.Writer) *ringWriter {
	r := &ringWriter{buf: make([]byte, 0, 1<<20), wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.room = sync.NewCond(&r.mu)
	go r.consume(w)
	return r
}

func (r *ringWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	for len(r.buf)+len(p) > cap(r.buf) {
		r.room.Wait()
	}
	r.buf = append(r.buf, p...)
	wake := r.parked
	r.parked = false
	r.mu.Unlock()
	if wake {
		r.wake <- struct{}{}
	}
	return len(p), nil
}

func (r *ringWriter) consume(w io.Writer) {
	defer close(r.done)
	out := make([]byte, 0, 1<<20)
	for {
		r.mu.Lock()
		for len(r.buf) == 0 {
			if r.stop {
				r.mu.Unlock()
				return
			}
			r.parked = true
			r.mu.Unlock()
			<-r.wake
			r.mu.Lock()
		}
		out = append(out[:0], r.buf...)
		r.buf = r.buf[:0]
		r.room.Broadcast()
		r.mu.Unlock()
		_, _ = w.Write(out)
	}
}

func (r *ringWriter) close() {
	r.mu.Lock()
	r.stop = true
	wake := r.parked
	r.parked = false
	r.mu.Unlock()
	if wake {
		r.wake <- struct{}{}
	}
	<-r.done
}

package mailsink

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/mail"
	"sync/atomic"
	"time"

	"github.com/asynclog/asynclog"
)

var (
	// ErrClosed is wrapped by the error of a Write after Close.
	ErrClosed = errors.New("mailsink: sink closed")
	// ErrNoStartTLS is wrapped by the (permanent) error of a Write in
	// [StartTLS] mode to a server that does not offer STARTTLS.
	ErrNoStartTLS = errors.New("mailsink: server does not offer STARTTLS")
	// ErrNoAuth is wrapped by the (permanent) error of a Write with a
	// Username to a server that offers neither AUTH PLAIN nor AUTH LOGIN.
	ErrNoAuth = errors.New("mailsink: server offers no AUTH mechanism this sink speaks (PLAIN, LOGIN)")
)

// ReplyError is an SMTP server's refusal: a reply with a 4xx or 5xx code.
// A Write returns it retryable for 4xx and wrapped with
// [asynclog.Permanent] for 5xx; errors.As finds it either way.
type ReplyError struct {
	Command  string // what was refused: "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO <addr>", "DATA", "end of data"
	Code     int    // the reply code, such as 451 or 550
	Enhanced string // the enhanced status code, such as "5.1.1"; empty if the server sent none
	Message  string // the server's text, with any credentials blanked out
}

// Error returns the command, the code and the server's text.
func (e *ReplyError) Error() string {
	code := fmt.Sprint(e.Code)
	if e.Enhanced != "" {
		code += " " + e.Enhanced
	}
	return fmt.Sprintf("mailsink: %s: %s %s", e.Command, code, e.Message)
}

// Temporary reports whether the server asked to try again later (4xx).
func (e *ReplyError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Sink sends each batch of records as one email, a digest. It implements
// [asynclog.Sink] and has the Close(ctx) method that [asynclog.Queue.Shutdown]
// calls. Make one with [New] and give it to [asynclog.NewQueue], usually
// with [DigestOptions]:
//
//	sink, err := mailsink.New(mailsink.Options{
//		Addr: "smtp.example.com:587",
//		From: "Alerts <alerts@example.com>",
//		To:   []string{"oncall@example.com"},
//		Username: "alerts", Password: os.Getenv("SMTP_PASSWORD"),
//	})
//	if err != nil { ... }
//	q, err := asynclog.NewQueue(sink, mailsink.DigestOptions())
//	if err != nil { ... }
//	defer q.Close()
//
// Every Write is one SMTP conversation on a new connection: dial,
// STARTTLS or TLS, AUTH, MAIL, RCPT, DATA, QUIT. No connection is kept
// between Writes, since with a rate limit of minutes a kept one would be
// closed by the server anyway. Write honours its ctx at every step and
// never sleeps for a rate limit: the queue's MinInterval does that.
//
// Write is called by the queue's consumer goroutine only, one call at a
// time; Close may be called from any goroutine.
type Sink struct {
	cfg     *config
	closed  atomic.Bool
	buf     bytes.Buffer // the message being sent; only Write touches it
	pending pending      // the digest the queue's next Write retries, if any; only Write touches it
	seed    maphash.Seed
}

// pending remembers a digest whose Write failed with a retryable error,
// so that the queue's retry of the same batch sends the same message
// (Message-ID and Date included) and only to the recipients that do not
// have it yet.
type pending struct {
	key  uint64 // keyOf the batch
	id   string // Message-ID; "" if nothing is pending
	date time.Time
	to   []*mail.Address // the recipients still to get it
	have int             // recipients that have it
}

// keyOf hashes a batch's length, times and encodings: the queue's retry
// passes the same records, and a new batch in the same buffers does not
// match. It is computed only around a failure.
func (s *Sink) keyOf(batch []asynclog.Record) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(batch)))
	h.Write(b[:])
	for i := range batch {
		binary.LittleEndian.PutUint64(b[:], uint64(batch[i].Time.UnixNano()))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(len(batch[i].Encoded)))
		h.Write(b[:])
		h.Write(batch[i].Encoded)
	}
	return h.Sum64()
}

var _ asynclog.Sink = (*Sink)(nil)

// New checks opts and returns a Sink. It dials nothing: bad input (an
// unparsable From or To address, no To, an Addr without a port, a Username
// with [Plaintext]) is an error here, and the server is first contacted by
// the first Write.
func New(opts Options) (*Sink, error) {
	cfg, err := opts.check()
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, seed: maphash.MakeSeed()}, nil
}

// Write sends batch as one digest email. It does not keep batch.
//
// Network errors and 4xx replies are returned as they are, so the queue
// retries them; 5xx replies, an untrusted server certificate, a server
// without STARTTLS (in [StartTLS] mode) or without a usable AUTH mechanism
// are wrapped with [asynclog.Permanent]. After Close it returns a
// permanent error wrapping [ErrClosed].
//
// The queue's retry of a batch whose Write failed with a retryable error
// sends the same message, Message-ID and Date included, so that a copy
// that arrived although its final reply was lost can be told for what it
// is. Recipients are handled one by one: if some take the digest while
// others refuse it with a 4xx, the error is retryable and the retry goes
// to the refused ones only, never again to those that have it; the digest
// counts as delivered once each recipient took it or refused it with a
// 5xx. A 5xx refusal while others took the digest comes back as
// [asynclog.Partial] with no records rejected, so the queue reports it
// without sending the digest again. If the queue gives up first, the
// records count as Failed (and go to its fallback) although some
// recipients have them.
func (s *Sink) Write(ctx context.Context, batch []asynclog.Record) error {
	if s.closed.Load() {
		return asynclog.Permanent(ErrClosed)
	}
	if len(batch) == 0 {
		return nil
	}
	st := s.pending
	s.pending = pending{}
	if st.id == "" || st.key != s.keyOf(batch) {
		now := time.Now()
		st = pending{id: messageID(s.cfg.from.Address, now), date: now, to: s.cfg.to}
	}
	s.buf.Reset()
	s.cfg.writeDigest(&s.buf, batch, st.date, st.id)
	res, err := s.send(ctx, s.buf.Bytes(), st.to)
	if s.buf.Cap() > 2*s.cfg.maxMessageBytes {
		s.buf = bytes.Buffer{} // do not pin one huge digest's memory
	}
	if err == nil {
		err = s.recipientsError(res, &st)
	}
	if err != nil && !asynclog.IsPermanent(err) && !isPartial(err) {
		st.key = s.keyOf(batch)
		s.pending = st
	}
	return s.cfg.redact(err)
}

// recipientsError returns the error, if any, of a conversation that got
// as far as the recipients: res says who took the digest and who refused
// it. Recipients refused with a 4xx stay in st.to for the retry.
func (s *Sink) recipientsError(res rcptResult, st *pending) error {
	st.have += res.accepted
	if len(res.refused) == 0 {
		return nil
	}
	all := len(s.cfg.to)
	refused := errors.Join(res.refused...)
	if len(res.later) > 0 {
		st.to = res.later
		return fmt.Errorf("mailsink: digest sent to %d of %d recipients, %d to try again: %w", st.have, all, len(res.later), refused)
	}
	if st.have == 0 {
		return asynclog.Permanent(refused)
	}
	return asynclog.Partial(fmt.Errorf("mailsink: digest sent to %d of %d recipients: %w", st.have, all, refused), 0)
}

// isPartial reports whether err is an [asynclog.PartialError].
func isPartial(err error) bool {
	var pe *asynclog.PartialError
	return errors.As(err, &pe)
}

// Close marks the sink closed; later Writes fail with [ErrClosed]. The sink
// holds no connection between Writes, so there is nothing else to release.
// It is safe to call more than once and from any goroutine.
func (s *Sink) Close(ctx context.Context) error {
	s.closed.Store(true)
	return nil
}

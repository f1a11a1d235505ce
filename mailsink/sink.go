package mailsink

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

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

// rcptResult is how the recipients of one conversation answered.
type rcptResult struct {
	accepted int             // recipients that took the digest (DATA was accepted)
	later    []*mail.Address // recipients refused with a 4xx
	refused  []error         // every refusal, as a *ReplyError
}

// send holds one SMTP conversation that delivers msg to the recipients
// rcpts. Its error is for a conversation that failed; refused recipients
// come back in the result, with a nil error.
func (s *Sink) send(ctx context.Context, msg []byte, rcpts []*mail.Address) (res rcptResult, err error) {
	cfg := s.cfg
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("mailsink: send: %w", err)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.addr)
	if err != nil {
		return res, stepError(ctx, "dial "+cfg.addr, err)
	}
	// Once ctx is done, closing the connection ends whatever read or write
	// the client is blocked in; the client's own deadlines are reset by
	// every command, so they cannot carry ctx's deadline alone.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer func() {
		stop()
		raw.Close()
	}()

	conn := raw
	hello := "EHLO"
	switch cfg.tlsMode {
	case ImplicitTLS:
		tc := tls.Client(raw, cfg.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return res, stepError(ctx, "TLS handshake", err)
		}
		conn = tc
	case StartTLS:
		if conn, err = cfg.startTLS(ctx, raw); err != nil {
			return res, err
		}
		hello = "EHLO after STARTTLS"
	}
	c := smtp.NewClient(conn)
	setTimeouts(ctx, c)
	if err := c.Hello(cfg.localName); err != nil {
		return res, stepError(ctx, hello, err)
	}

	if cfg.username != "" {
		var mech sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			mech = sasl.NewPlainClient("", cfg.username, cfg.password)
		case c.SupportsAuth(sasl.Login):
			mech = sasl.NewLoginClient(cfg.username, cfg.password)
		default:
			_, offered := c.Extension("AUTH")
			return res, asynclog.Permanent(fmt.Errorf("%w (offered: %q)", ErrNoAuth, offered))
		}
		if err := c.Auth(mech); err != nil {
			return res, stepError(ctx, "AUTH", err)
		}
	}

	var mailOpts *smtp.MailOptions
	if !isASCII(cfg.from.Address) || !allASCII(cfg.to) {
		mailOpts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(cfg.from.Address, mailOpts); err != nil {
		return res, stepError(ctx, "MAIL FROM", err)
	}
	for _, to := range rcpts {
		err := c.Rcpt(to.Address, nil)
		if err == nil {
			continue
		}
		var se *smtp.SMTPError
		if !errors.As(err, &se) || ctx.Err() != nil {
			return rcptResult{}, stepError(ctx, "RCPT TO <"+to.Address+">", err)
		}
		re := replyError("RCPT TO <"+to.Address+">", se)
		if re.Temporary() {
			res.later = append(res.later, to)
		}
		res.refused = append(res.refused, re)
	}
	if len(res.refused) == len(rcpts) {
		return res, nil // nobody to send it to
	}

	w, err := c.Data()
	if err != nil {
		return rcptResult{}, stepError(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return rcptResult{}, stepError(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return rcptResult{}, stepError(ctx, "end of data", err)
	}
	// The server has taken the message; a failed QUIT loses nothing.
	_ = c.Quit()
	res.accepted = len(rcpts) - len(res.refused)
	return res, nil
}

// startTLS speaks the clear-text start of a [StartTLS] conversation on
// raw (the greeting, EHLO with the sink's LocalName, STARTTLS) and returns
// the connection after the TLS handshake, for an SMTP client that then
// says EHLO again. go-smtp's own STARTTLS path says "EHLO localhost"
// before the upgrade, with no way to give another name. Whatever the
// server sent after its reply to STARTTLS, before the handshake, is
// dropped, as RFC 3207 asks.
func (c *config) startTLS(ctx context.Context, raw net.Conn) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
		defer raw.SetDeadline(time.Time{})
	}
	r := textproto.NewReader(bufio.NewReader(raw))
	if _, _, err := r.ReadResponse(220); err != nil {
		return nil, stepError(ctx, "greeting", replyOf(err))
	}
	if _, err := fmt.Fprintf(raw, "EHLO %s\r\n", c.localName); err != nil {
		return nil, stepError(ctx, "EHLO", err)
	}
	_, ext, err := r.ReadResponse(250)
	var te *textproto.Error
	switch {
	case errors.As(err, &te) && (te.Code == 500 || te.Code == 502):
		// No EHLO, so no extensions, so no STARTTLS.
		return nil, asynclog.Permanent(fmt.Errorf("%w (%s)", ErrNoStartTLS, c.addr))
	case err != nil:
		return nil, stepError(ctx, "EHLO", replyOf(err))
	case !offers(ext, "STARTTLS"):
		return nil, asynclog.Permanent(fmt.Errorf("%w (%s)", ErrNoStartTLS, c.addr))
	}
	if _, err := io.WriteString(raw, "STARTTLS\r\n"); err != nil {
		return nil, stepError(ctx, "STARTTLS", err)
	}
	if _, _, err := r.ReadResponse(220); err != nil {
		return nil, stepError(ctx, "STARTTLS", replyOf(err))
	}
	tc := tls.Client(raw, c.tlsConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, stepError(ctx, "TLS handshake", err)
	}
	return &greetedConn{Conn: tc, greeting: strings.NewReader("220 " + c.localName + " TLS ready\r\n")}, nil
}

// offers reports whether an EHLO reply (its lines joined with "\n", the
// first the greeting) lists the extension ext.
func offers(reply, ext string) bool {
	lines := strings.Split(reply, "\n")
	for _, l := range lines[1:] {
		if name, _, _ := strings.Cut(strings.TrimSpace(l), " "); strings.EqualFold(name, ext) {
			return true
		}
	}
	return false
}

// replyOf turns a *textproto.Error (a reply with an unexpected code) into
// the *smtp.SMTPError the go-smtp client would have returned, with its
// enhanced status code taken from the text. Other errors are returned as
// they are.
func replyOf(err error) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err
	}
	se := &smtp.SMTPError{Code: te.Code, EnhancedCode: smtp.NoEnhancedCode, Message: te.Msg}
	if code, text, ok := strings.Cut(te.Msg, " "); ok {
		var e smtp.EnhancedCode
		if n, _ := fmt.Sscanf(code, "%d.%d.%d", &e[0], &e[1], &e[2]); n == 3 && strings.Count(code, ".") == 2 {
			se.EnhancedCode, se.Message = e, text
		}
	}
	return se
}

// greetedConn is a connection handed to the SMTP client after its
// server's greeting was read: its first reads return a stand-in 220
// greeting, so that the client goes straight on to EHLO. Only the
// client's goroutine reads it.
type greetedConn struct {
	net.Conn
	greeting *strings.Reader
}

func (c *greetedConn) Read(p []byte) (int, error) {
	if c.greeting.Len() > 0 {
		return c.greeting.Read(p)
	}
	return c.Conn.Read(p)
}

// setTimeouts gives the client's per-command deadlines ctx's deadline, so
// that a silent server fails the command at that moment even before the
// AfterFunc closes the connection.
func setTimeouts(ctx context.Context, c *smtp.Client) {
	if dl, ok := ctx.Deadline(); ok {
		d := max(time.Until(dl), time.Millisecond)
		c.CommandTimeout = min(c.CommandTimeout, d)
		c.SubmissionTimeout = min(c.SubmissionTimeout, d)
	}
}

// stepError wraps an error of one step of the conversation and decides
// whether the queue may retry it.
func stepError(ctx context.Context, step string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		// The connection was closed under the client: ctx says why.
		return fmt.Errorf("mailsink: %s: %w (%v)", step, cerr, err)
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		re := replyError(step, se)
		if re.Temporary() {
			return re
		}
		return asynclog.Permanent(re)
	}
	if isCertError(err) {
		return asynclog.Permanent(fmt.Errorf("mailsink: %s: %w", step, err))
	}
	return fmt.Errorf("mailsink: %s: %w", step, err)
}

func replyError(step string, se *smtp.SMTPError) *ReplyError {
	re := &ReplyError{Command: step, Code: se.Code, Message: se.Message}
	if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
		e := se.EnhancedCode
		re.Enhanced = fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
	}
	return re
}

// isCertError reports whether err is a failed verification of the
// server's certificate, which retrying cannot fix.
func isCertError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		ci x509.CertificateInvalidError
		hn x509.HostnameError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &hn)
}

// secretForms lists the password as it could appear in a reply that
// echoes a command: plain, base64 (AUTH LOGIN) and the base64 of the AUTH
// PLAIN response.
func secretForms(username, password string) []string {
	if password == "" {
		return nil
	}
	enc := base64.StdEncoding.EncodeToString
	return []string{
		enc([]byte("\x00" + username + "\x00" + password)),
		enc([]byte(password)),
		password,
	}
}

// redact returns err unchanged if its text holds no secret; otherwise an
// error with the secrets blanked out, permanent or partial if err was. The
// original error, which quotes the secret, is dropped.
func (c *config) redact(err error) error {
	if err == nil || len(c.secrets) == 0 {
		return err
	}
	msg := err.Error()
	found := false
	for _, s := range c.secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			found = true
		}
	}
	if !found {
		return err
	}
	red := errors.New(msg)
	var pe *asynclog.PartialError
	switch {
	case errors.As(err, &pe):
		return asynclog.Partial(red, pe.Rejected)
	case asynclog.IsPermanent(err):
		return asynclog.Permanent(red)
	}
	return red
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(as []*mail.Address) bool {
	for _, a := range as {
		if !isASCII(a.Address) {
			return false
		}
	}
	return true
}

package mailsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
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
	cfg    *config
	closed atomic.Bool
	buf    bytes.Buffer // the message being sent; only Write touches it
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
	return &Sink{cfg: cfg}, nil
}

// Write sends batch as one digest email. It does not keep batch.
//
// Network errors and 4xx replies are returned as they are, so the queue
// retries them; 5xx replies, an untrusted server certificate, a server
// without STARTTLS (in [StartTLS] mode) or without a usable AUTH mechanism
// are wrapped with [asynclog.Permanent]. If only some recipients are
// refused, the digest goes to the others and the refusals come back as
// [asynclog.Partial] with no records rejected, so the queue reports them
// without sending the digest twice. After Close it returns a permanent
// error wrapping [ErrClosed].
func (s *Sink) Write(ctx context.Context, batch []asynclog.Record) error {
	if s.closed.Load() {
		return asynclog.Permanent(ErrClosed)
	}
	if len(batch) == 0 {
		return nil
	}
	s.buf.Reset()
	s.cfg.writeDigest(&s.buf, batch, time.Now())
	err := s.send(ctx, s.buf.Bytes())
	if s.buf.Cap() > 2*s.cfg.maxMessageBytes {
		s.buf = bytes.Buffer{} // do not pin one huge digest's memory
	}
	return s.cfg.redact(err)
}

// Close marks the sink closed; later Writes fail with [ErrClosed]. The sink
// holds no connection between Writes, so there is nothing else to release.
// It is safe to call more than once and from any goroutine.
func (s *Sink) Close(ctx context.Context) error {
	s.closed.Store(true)
	return nil
}

// send holds one SMTP conversation that delivers msg.
func (s *Sink) send(ctx context.Context, msg []byte) (err error) {
	cfg := s.cfg
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mailsink: send: %w", err)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.addr)
	if err != nil {
		return stepError(ctx, "dial "+cfg.addr, err)
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
	if cfg.tlsMode == ImplicitTLS {
		tc := tls.Client(raw, cfg.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return stepError(ctx, "TLS handshake", err)
		}
		conn = tc
	}

	var c *smtp.Client
	if cfg.tlsMode == StartTLS {
		c, err = smtp.NewClientStartTLS(conn, cfg.tlsConfig)
		if err != nil {
			if noStartTLS(ctx, err) {
				return asynclog.Permanent(fmt.Errorf("%w (%s)", ErrNoStartTLS, cfg.addr))
			}
			return stepError(ctx, "STARTTLS", err)
		}
		// The TLS handshake runs with the next command, this EHLO.
		setTimeouts(ctx, c)
		if err := c.Hello("localhost"); err != nil {
			return stepError(ctx, "EHLO after STARTTLS", err)
		}
	} else {
		c = smtp.NewClient(conn)
		setTimeouts(ctx, c)
		if err := c.Hello("localhost"); err != nil {
			return stepError(ctx, "EHLO", err)
		}
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
			return asynclog.Permanent(fmt.Errorf("%w (offered: %q)", ErrNoAuth, offered))
		}
		if err := c.Auth(mech); err != nil {
			return stepError(ctx, "AUTH", err)
		}
	}

	var mailOpts *smtp.MailOptions
	if !isASCII(cfg.from.Address) || !allASCII(cfg.to) {
		mailOpts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(cfg.from.Address, mailOpts); err != nil {
		return stepError(ctx, "MAIL FROM", err)
	}
	var refused []error
	allPermanent := true
	for _, to := range cfg.to {
		err := c.Rcpt(to.Address, nil)
		if err == nil {
			continue
		}
		var se *smtp.SMTPError
		if !errors.As(err, &se) || ctx.Err() != nil {
			return stepError(ctx, "RCPT TO <"+to.Address+">", err)
		}
		re := replyError("RCPT TO <"+to.Address+">", se)
		allPermanent = allPermanent && !re.Temporary()
		refused = append(refused, re)
	}
	if len(refused) == len(cfg.to) {
		err := errors.Join(refused...)
		if allPermanent {
			return asynclog.Permanent(err)
		}
		return err
	}

	w, err := c.Data()
	if err != nil {
		return stepError(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return stepError(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return stepError(ctx, "end of data", err)
	}
	// The server has taken the message; a failed QUIT loses nothing.
	_ = c.Quit()

	if len(refused) > 0 {
		return asynclog.Partial(fmt.Errorf("mailsink: digest sent to %d of %d recipients: %w",
			len(cfg.to)-len(refused), len(cfg.to), errors.Join(refused...)), 0)
	}
	return nil
}

// noStartTLS reports whether err is the library's refusal to go on
// without STARTTLS: an error that is neither a reply, nor a network error,
// nor a cancellation, and names STARTTLS. The library has no exported
// error for it.
func noStartTLS(ctx context.Context, err error) bool {
	var se *smtp.SMTPError
	var ne net.Error
	return ctx.Err() == nil && !errors.As(err, &se) && !errors.As(err, &ne) &&
		strings.Contains(err.Error(), "STARTTLS")
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
// error with the secrets blanked out, permanent if err was. The original
// error, which quotes the secret, is dropped.
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
	if asynclog.IsPermanent(err) {
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

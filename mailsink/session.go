package mailsink

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/asynclog/asynclog"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// One SMTP conversation: a digest delivered to the recipients, STARTTLS,
// and each step's reply read and classified.

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

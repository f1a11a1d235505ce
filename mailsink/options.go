package mailsink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/asynclog/asynclog"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode int

const (
	// StartTLS connects in the clear and upgrades with STARTTLS before
	// anything else is said (port 587, or 25). It is the zero value and it
	// is required: a server that does not offer STARTTLS gets no mail, and
	// the error wraps [ErrNoStartTLS].
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS
	// Plaintext sends everything in the clear. It is only for a relay on
	// the same host or a test server; [New] refuses it with a Username, so
	// that credentials never cross the network unencrypted.
	Plaintext
)

// String returns the mode's name.
func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "StartTLS"
	case ImplicitTLS:
		return "ImplicitTLS"
	case Plaintext:
		return "Plaintext"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// Options configures a [Sink]. Addr, From and To are required; every other
// field's zero value means the default its comment gives. [New] checks the
// options once and copies what it keeps: changing Options, To or TLSConfig
// afterwards does not affect the Sink.
type Options struct {
	// Addr is the SMTP server's host:port, for example
	// "smtp.example.com:587". The port is required.
	Addr string
	// From is the sender, as in the From header: "alerts@example.com" or
	// "Alerts <alerts@example.com>". Its address is also the envelope
	// sender (MAIL FROM).
	From string
	// To lists the recipients, one address per element, in the same forms
	// as From. At least one is required. They appear in the To header and
	// are the envelope recipients (RCPT TO); no others are ever added.
	To []string
	// Username and Password, if Username is set, authenticate with SMTP
	// AUTH PLAIN, or LOGIN where that is all the server offers. They are
	// never sent in the clear (see [Plaintext]) and never appear in an
	// error.
	Username string
	Password string
	// TLS is the connection's protection. Default [StartTLS].
	TLS TLSMode
	// TLSConfig configures TLS for [StartTLS] and [ImplicitTLS]; it is
	// cloned. nil means the system's roots. An empty ServerName is taken
	// from Addr's host; a zero MinVersion means TLS 1.2. Plaintext ignores
	// it.
	TLSConfig *tls.Config
	// Subject is the prefix of every digest's subject. Default
	// "[asynclog]". It must not contain a line break.
	Subject string
	// LocalName is the name the sink introduces itself with in EHLO (or
	// HELO), before STARTTLS and after it: this host's domain name, or an
	// address literal such as "[192.0.2.1]". Servers log it and some check
	// it. "" means the host's name from os.Hostname, or "localhost" if
	// that fails or is not a valid domain name.
	LocalName string
	// MaxMessageBytes bounds the size of one email. A digest that would be
	// larger keeps its readable summary of every record but leaves out the
	// raw records that do not fit, and says how many. Default 5 MiB; set
	// it below the server's own limit (the SIZE it announces).
	MaxMessageBytes int
}

// Defaults of [Options].
const (
	defaultSubject         = "[asynclog]"
	defaultMaxMessageBytes = 5 << 20
	minMessageBytes        = 64 << 10
)

// DigestOptions returns queue options suited to an email sink: at most one
// email a minute (MinInterval), up to 1,000 records per digest, a wait of
// 10 seconds after the first record so that the errors that follow it go
// into the same email (FlushInterval), DropOldest when the queue is full
// except for Error and above, which wait for room, and a 15-second
// CloseTimeout, enough for one SMTP conversation with a remote relay.
// Flush and Shutdown still send the last digest at once. Adjust the result
// before passing it to [asynclog.NewQueue]; OnError is left nil.
func DigestOptions() asynclog.Options {
	return asynclog.Options{
		OnFull:        asynclog.DropOldest,
		KeepLevel:     slog.LevelError,
		BatchSize:     1000,
		FlushInterval: 10 * time.Second,
		MinInterval:   time.Minute,
		CloseTimeout:  15 * time.Second,
	}
}

// config is the checked form of Options that a Sink keeps.
type config struct {
	addr            string
	from            *mail.Address
	to              []*mail.Address
	username        string
	password        string
	tlsMode         TLSMode
	tlsConfig       *tls.Config
	subject         string
	maxMessageBytes int
	localName       string
	secrets         []string // strings that must never appear in an error
}

// check validates o and resolves its defaults. Its errors never quote
// Username or Password.
func (o Options) check() (*config, error) {
	var errs []error
	c := &config{
		username:        o.Username,
		password:        o.Password,
		tlsMode:         o.TLS,
		subject:         o.Subject,
		maxMessageBytes: o.MaxMessageBytes,
	}

	host, port, err := net.SplitHostPort(o.Addr)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("mailsink: Options.Addr %q is not host:port: %w", o.Addr, err))
	case host == "" || port == "":
		errs = append(errs, fmt.Errorf("mailsink: Options.Addr %q needs a host and a port", o.Addr))
	default:
		c.addr = o.Addr
	}

	if o.From == "" {
		errs = append(errs, errors.New("mailsink: Options.From is empty"))
	} else if a, err := mail.ParseAddress(o.From); err != nil {
		errs = append(errs, fmt.Errorf("mailsink: Options.From %q: %w", o.From, err))
	} else {
		c.from = a
	}

	if len(o.To) == 0 {
		errs = append(errs, errors.New("mailsink: Options.To is empty"))
	}
	for i, s := range o.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("mailsink: Options.To[%d] %q: %w", i, s, err))
			continue
		}
		c.to = append(c.to, a)
	}

	switch o.TLS {
	case StartTLS, ImplicitTLS:
	case Plaintext:
		if o.Username != "" || o.Password != "" {
			errs = append(errs, errors.New("mailsink: Options.Username with TLS Plaintext would send credentials in the clear"))
		}
	default:
		errs = append(errs, fmt.Errorf("mailsink: Options.TLS is not a known mode (%d)", int(o.TLS)))
	}
	if o.Username == "" && o.Password != "" {
		errs = append(errs, errors.New("mailsink: Options.Password without a Username"))
	}

	if c.subject == "" {
		c.subject = defaultSubject
	}
	if strings.ContainsAny(c.subject, "\r\n") {
		errs = append(errs, errors.New("mailsink: Options.Subject contains a line break"))
	}

	switch {
	case o.LocalName == "":
		c.localName = "localhost"
		if h, err := os.Hostname(); err == nil && validDomain(h) {
			c.localName = h
		}
	case validDomain(o.LocalName) || validAddressLiteral(o.LocalName):
		c.localName = o.LocalName
	default:
		errs = append(errs, fmt.Errorf("mailsink: Options.LocalName %q is neither a domain name nor an address literal", o.LocalName))
	}

	switch {
	case c.maxMessageBytes == 0:
		c.maxMessageBytes = defaultMaxMessageBytes
	case c.maxMessageBytes < minMessageBytes:
		errs = append(errs, fmt.Errorf("mailsink: Options.MaxMessageBytes %d is below the least of %d", c.maxMessageBytes, minMessageBytes))
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if c.tlsMode != Plaintext {
		cfg := &tls.Config{}
		if o.TLSConfig != nil {
			cfg = o.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
		c.tlsConfig = cfg
	}
	c.secrets = secretForms(o.Username, o.Password)
	return c, nil
}

// validDomain reports whether s is a domain name as EHLO takes it: dot-
// separated labels of letters, digits and inner hyphens, each of 1 to 63
// characters, 253 in all.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validAddressLiteral reports whether s is an address literal as EHLO
// takes it: "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func validAddressLiteral(s string) bool {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	if v6, isV6 := strings.CutPrefix(inner, "IPv6:"); isV6 {
		ip := net.ParseIP(v6)
		return ip != nil && ip.To4() == nil
	}
	ip := net.ParseIP(inner)
	return ip != nil && ip.To4() != nil && !strings.Contains(inner, ":")
}

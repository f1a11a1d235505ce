package mailsink_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// serverTLS is how the test server protects its connections.
type serverTLS int

const (
	offerStartTLS serverTLS = iota // STARTTLS offered, AUTH only after it
	implicitTLS                    // TLS from the first byte
	noTLS                          // plain text, no STARTTLS offered
)

// serverConfig shapes a test server.
type serverConfig struct {
	tls      serverTLS
	user     string // if set, MAIL requires AUTH with user and pass
	pass     string
	mechs    []string // offered AUTH mechanisms; default PLAIN
	echoAuth bool     // a careless server: its AUTH refusal quotes the password
	// reject, if set, is asked at each MAIL, RCPT and DATA ("MAIL",
	// "RCPT", "DATA") with the command's argument and how many times that
	// command has been seen (from 1); a non-nil result is the reply.
	reject func(cmd, arg string, n int) *smtp.SMTPError
	// loseReply, if set, is asked after the n-th message (from 1) was
	// taken; true drops the connection before the reply, as a network that
	// loses the final 250 does.
	loseReply func(n int) bool
}

// received is one message as the server took it.
type received struct {
	at    time.Time // when the client connected
	tls   bool      // the message came over TLS
	from  string    // MAIL FROM
	rcpts []string  // RCPT TO, as the server accepted them
	data  []byte    // the message after DATA, dot-unstuffed
}

// testServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1:0 with a certificate made for the test.
type testServer struct {
	addr  string
	roots *x509.CertPool // trusts the server's certificate
	cfg   serverConfig

	mu       sync.Mutex
	msgs     []received
	helos    []string // the name of every HELO or EHLO that began a session
	counts   map[string]int
	arrived  chan struct{} // one value per message, buffered
	sessions int
}

// startServer starts a test server; it stops when the test ends.
func startServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	cert, roots := makeCert(t)
	if cfg.mechs == nil {
		cfg.mechs = []string{sasl.Plain}
	}
	ts := &testServer{cfg: cfg, roots: roots, counts: map[string]int{}, arrived: make(chan struct{}, 4096)}

	srv := smtp.NewServer(smtp.BackendFunc(ts.newSession))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 32 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen on loopback")
	switch cfg.tls {
	case offerStartTLS:
		srv.TLSConfig = tlsConf
	case implicitTLS:
		srv.TLSConfig = tlsConf
		ln = tls.NewListener(ln, tlsConf)
	case noTLS:
		srv.AllowInsecureAuth = true
	}
	ts.addr = ln.Addr().String()

	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// Close the listener too: if Serve has not started yet, the
		// server does not know it and Close alone would leave Serve
		// blocked in Accept.
		_ = srv.Close()
		_ = ln.Close()
		<-served
	})
	return ts
}

func (ts *testServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	ts.mu.Lock()
	ts.sessions++
	ts.helos = append(ts.helos, c.Hostname())
	ts.mu.Unlock()
	return &session{ts: ts, conn: c, start: time.Now()}, nil
}

// count returns how many times cmd has been seen.
func (ts *testServer) count(cmd string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.counts[cmd]
}

// helloNames returns the names the client gave in HELO or EHLO, in order.
func (ts *testServer) helloNames() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.helos...)
}

// sessionCount returns the number of connections served.
func (ts *testServer) sessionCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.sessions
}

// messages returns a copy of what arrived so far.
func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

// waitMessages waits until at least n messages have arrived and returns
// them; it fails the test after timeout.
func (ts *testServer) waitMessages(t *testing.T, n int, timeout time.Duration) []received {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if m := ts.messages(); len(m) >= n {
			return m
		}
		select {
		case <-ts.arrived:
		case <-deadline.C:
			require.FailNowf(t, "messages did not arrive", "want %d, got %d after %v", n, len(ts.messages()), timeout)
		}
	}
}

// session is one SMTP connection to the test server.
type session struct {
	ts     *testServer
	conn   *smtp.Conn
	start  time.Time
	authed bool
	from   string
	rcpts  []string
}

func (s *session) step(cmd, arg string) error {
	s.ts.mu.Lock()
	s.ts.counts[cmd]++
	n := s.ts.counts[cmd]
	s.ts.mu.Unlock()
	if f := s.ts.cfg.reject; f != nil {
		if e := f(cmd, arg, n); e != nil {
			return e
		}
	}
	return nil
}

func (s *session) AuthMechanisms() []string { return s.ts.cfg.mechs }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user == s.ts.cfg.user && pass == s.ts.cfg.pass {
			s.authed = true
			return nil
		}
		if s.ts.cfg.echoAuth {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials " + user + ":" + pass}
		}
		return smtp.ErrAuthFailed
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.cfg.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if err := s.step("MAIL", from); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.step("RCPT", to); err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.step("DATA", ""); err != nil {
		return err
	}
	_, overTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, received{at: s.start, tls: overTLS, from: s.from, rcpts: append([]string(nil), s.rcpts...), data: data})
	n := len(s.ts.msgs)
	s.ts.mu.Unlock()
	s.ts.arrived <- struct{}{}
	if f := s.ts.cfg.loseReply; f != nil && f(n) {
		_ = s.conn.Conn().Close()
		return errors.New("connection dropped before the reply")
	}
	return nil
}

func (s *session) Reset() { s.from, s.rcpts = "", nil }

func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl only has as
// a client: ask for the user name, then the password.
type loginServer struct {
	check func(user, pass string) error
	user  []byte
	step  int
}

func (l *loginServer) Next(resp []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if resp != nil {
			l.user, l.step = resp, 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = bytes.Clone(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(string(l.user), string(resp))
	}
	return nil, true, errors.New("unexpected response")
}

// makeCert makes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and a pool that trusts it.
func makeCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err, "generate key")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailsink test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err, "create certificate")
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err, "parse certificate")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// localServer is an SMTP server on 127.0.0.1 that keeps what it receives:
// STARTTLS on a certificate made at start, AUTH PLAIN required.
type localServer struct {
	addr       string
	roots      *x509.CertPool
	user, pass string
	srv        *smtp.Server
	ln         net.Listener
	served     chan struct{}

	mu   sync.Mutex
	msgs []message
}

// message is one email as the server took it.
type message struct {
	from  string
	rcpts []string
	data  []byte
}

func startLocalServer() (*localServer, error) {
	cert, roots, err := makeCert()
	if err != nil {
		return nil, err
	}
	ls := &localServer{roots: roots, user: "demo", pass: "demo-password", served: make(chan struct{})}
	ls.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{ls: ls}, nil
	}))
	ls.srv.Domain = "localhost"
	ls.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	ls.srv.ReadTimeout = 10 * time.Second
	ls.srv.WriteTimeout = 10 * time.Second
	ls.srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ls.ln = ln
	ls.addr = ln.Addr().String()
	go func() {
		defer close(ls.served)
		_ = ls.srv.Serve(ln)
	}()
	return ls, nil
}

func (ls *localServer) close() {
	_ = ls.srv.Close()
	_ = ls.ln.Close() // in case Serve has not registered it yet
	<-ls.served
}

func (ls *localServer) messages() []message {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return append([]message(nil), ls.msgs...)
}

type session struct {
	ls     *localServer
	authed bool
	from   string
	rcpts  []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ls.user || pass != s.ls.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ls.mu.Lock()
	s.ls.msgs = append(s.ls.msgs, message{from: s.from, rcpts: s.rcpts, data: b})
	s.ls.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

// printMessage prints an email's main headers and its decoded body.
func printMessage(w io.Writer, data []byte) error {
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("parse email: %w", err)
	}
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id"} {
		v, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get(k))
		if err != nil {
			v = m.Header.Get(k)
		}
		fmt.Fprintf(w, "%s: %s\n", k, v)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	fmt.Fprintf(w, "\n%s", strings.ReplaceAll(string(b), "\r\n", "\n"))
	return nil
}

// makeCert makes a self-signed ECDSA certificate for 127.0.0.1 and a pool
// that trusts it.
func makeCert() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "slog-email local server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

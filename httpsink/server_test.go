package httpsink_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// request is what the test server saw of one request.
type request struct {
	At     time.Time
	Method string
	Path   string
	Header http.Header
	Body   []byte // decompressed if Content-Encoding is gzip
	Raw    []byte // as sent
	User   string
	Pass   string
}

// server is a real HTTP server on loopback that records every request and
// answers the n-th one (from 0) with answer(n, w).
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
	got  chan struct{} // one value per request, after it is recorded
}

func newServer(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	return newServerAt(t, "127.0.0.1:0", answer)
}

// newServerAt is newServer listening on addr, such as 127.0.0.2:0 for a
// second loopback host.
func newServerAt(t *testing.T, addr string, answer func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{got: make(chan struct{}, 1024)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		body := raw
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				http.Error(w, "bad gzip", http.StatusBadRequest)
				return
			}
		}
		user, pass, _ := r.BasicAuth()
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, request{At: time.Now(), Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body, Raw: raw, User: user, Pass: pass})
		s.mu.Unlock()
		s.got <- struct{}{}
		if answer != nil {
			answer(n, w, r)
		}
	}))
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listen on %s", addr)
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// requests returns a copy of what the server has recorded so far.
func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// bodies returns the bodies recorded so far.
func (s *server) bodies() []string {
	var out []string
	for _, r := range s.requests() {
		out = append(out, string(r.Body))
	}
	return out
}

// waitRequests waits until the server has recorded n requests.
func (s *server) waitRequests(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-s.got:
		case <-timeout:
			require.FailNow(t, "timed out waiting for requests", "want %d, got %d", n, i)
		}
	}
}

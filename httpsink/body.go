package httpsink

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// bodyReaders hands request bodies over the sink's reusable buffer to the
// transport. The transport may still read a body after Do has returned
// (its write loop runs on its own goroutine) and closes it once done, so
// the buffer is reused only if every reader handed out has been closed;
// otherwise the sink leaves the buffer to the transport and grows a new
// one. Normally the transport closes the body before the server can
// answer, so the buffer is reused.
type bodyReaders struct {
	mu   sync.Mutex // GetBody may run on the transport's goroutines
	live []*bodyReader
}

// bodyReader reads one payload.
type bodyReader struct {
	b      []byte
	off    int
	closed atomic.Bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error {
	r.closed.Store(true)
	return nil
}

// attach sets req's body to payload, with a GetBody for the transport's
// own resends (a lost HTTP/2 connection, a 307 or 308 redirect).
func (rs *bodyReaders) attach(req *http.Request, payload []byte) {
	first := &bodyReader{b: payload}
	rs.mu.Lock()
	rs.live = append(rs.live[:0], first)
	rs.mu.Unlock()
	req.Body = first
	req.ContentLength = int64(len(payload))
	req.GetBody = func() (io.ReadCloser, error) {
		r := &bodyReader{b: payload}
		rs.mu.Lock()
		rs.live = append(rs.live, r)
		rs.mu.Unlock()
		return r, nil
	}
}

// release reports whether the transport has closed every reader of the
// last payload, so that its buffer may be reused, and forgets them.
func (rs *bodyReaders) release() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	done := true
	for i, r := range rs.live {
		if !r.closed.Load() {
			done = false
		}
		rs.live[i] = nil
	}
	rs.live = rs.live[:0]
	return done
}

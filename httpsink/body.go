package httpsink

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// bodyReaders hands request bodies over the sink's reusable buffer to the
// transport. The transport may still read a body after Do has returned
// (its write loop runs on its own goroutine), so before the buffer is
// reused every reader is detached: from then on it reads EOF, never the
// next batch's bytes.
type bodyReaders struct {
	mu   sync.Mutex // GetBody may run on the transport's goroutines
	live []*bodyReader
	open bool
}

var errDetached = errors.New("httpsink: request body no longer available")

// bodyReader reads one payload until it is detached.
type bodyReader struct {
	mu  sync.Mutex
	b   []byte
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error { return nil }

// attach sets req's body to payload, with a GetBody for the transport's
// own resends (a lost HTTP/2 connection, a 307 or 308 redirect).
func (rs *bodyReaders) attach(req *http.Request, payload []byte) {
	rs.mu.Lock()
	rs.live = append(rs.live[:0], &bodyReader{b: payload})
	rs.open = true
	req.Body = rs.live[0]
	rs.mu.Unlock()
	req.ContentLength = int64(len(payload))
	req.GetBody = func() (io.ReadCloser, error) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if !rs.open {
			return nil, errDetached
		}
		r := &bodyReader{b: payload}
		rs.live = append(rs.live, r)
		return r, nil
	}
}

// detach cuts every reader handed out since attach from the payload.
func (rs *bodyReaders) detach() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.open = false
	for i, r := range rs.live {
		r.mu.Lock()
		r.b, r.off = nil, 0
		r.mu.Unlock()
		rs.live[i] = nil
	}
	rs.live = rs.live[:0]
}

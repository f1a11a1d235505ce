package httpsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/asynclog/asynclog"
)

// Posting one body and reading the answer: status, Retry-After, partial
// success.

// post sends s.body, holding n records, with the idempotency key key
// (none if ""), and classifies the answer. For an
// OTLP 2xx it returns the partial success's rejected count and message.
func (s *Sink) post(ctx context.Context, n int, key string) (rejected int, msg string, err error) {
	payload := s.payload()
	if s.gzip {
		s.zbuf.Reset()
		if s.zw == nil {
			s.zw = gzip.NewWriter(&s.zbuf)
		} else {
			s.zw.Reset(&s.zbuf)
		}
		_, _ = s.zw.Write(payload) // writes to a bytes.Buffer do not fail
		_ = s.zw.Close()
		payload = s.zbuf.Bytes()
	}
	// Cancelling rctx ends the request, the reading of its body included.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, nil)
	if err != nil {
		return 0, "", asynclog.Permanent(fmt.Errorf("httpsink: build request for %s: %w", s.redacted, s.redactErr(err)))
	}
	s.bodyReader.attach(req, payload)
	defer func() {
		if !s.bodyReader.release() {
			// The transport still holds payload: leave it that buffer.
			if s.gzip {
				s.zbuf = bytes.Buffer{}
			} else {
				s.body = nil
			}
		}
	}()
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", s.contentType())
	if key != "" {
		req.Header.Set(s.idemHeader, key)
	}
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}

	resp, err := s.client.Do(req)
	if err != nil {
		// Network errors are retried; the queue stops once ctx is done.
		loop := errors.Is(err, errRedirectLoop)
		err = fmt.Errorf("httpsink: POST %s (%d records): %w", s.redacted, n, s.redactErr(err))
		if loop {
			err = asynclog.Permanent(err)
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	// The status is in: reading the body gets ResponseBodyTimeout at most.
	timer := time.AfterFunc(s.bodyTimeout, cancel)
	defer timer.Stop()
	read := maxResponseBytes
	s.bulk = bulkAnswer{retry: s.bulk.retry[:0]}
	if resp.StatusCode/100 == 2 && s.format == ElasticBulk {
		s.bulk = parseBulk(io.LimitReader(resp.Body, maxBulkResponseBytes), n, s.bulk.retry)
	}
	if resp.StatusCode/100 == 2 && s.format != OTLP && s.format != OTLPProtobuf {
		read = 0
	}
	s.respBuf = readPrefix(s.respBuf[:0], resp.Body, read)
	// Drain what is left (bounded) so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))

	protoAnswer := isProtobuf(resp.Header.Get("Content-Type"))
	if resp.StatusCode/100 == 2 {
		switch {
		case s.format == OTLPProtobuf && protoAnswer:
			rejected, msg = parsePartialSuccessProto(s.respBuf)
		case s.format == OTLP || s.format == OTLPProtobuf:
			rejected, msg = parsePartialSuccess(s.respBuf)
		case s.format == ElasticBulk:
			rejected, msg = s.bulk.refused, s.bulk.msg
		}
		if msg != "" {
			msg = quoteBody([]byte(s.redactText(msg)))
		}
		return rejected, msg, nil
	}
	body := string(s.respBuf)
	if protoAnswer {
		// An OTLP receiver's google.rpc.Status: quote its message.
		if m, ok := protoStatusMessage(s.respBuf); ok {
			body = m
		}
	}
	se := &StatusError{
		URL:        s.redacted,
		StatusCode: resp.StatusCode,
		Body:       quoteBody([]byte(s.redactText(body))),
		Records:    n,
	}
	if resp.StatusCode/100 == 3 {
		if loc, lerr := resp.Location(); lerr == nil {
			se.Location = s.redactText(redact(loc))
		}
	}
	err = se
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return 0, "", asynclog.RetryAfter(err, d)
		}
		return 0, "", err
	}
	return 0, "", asynclog.Permanent(err)
}

// StatusError is a non-2xx answer, a redirect that was not followed
// included. Errors from [Sink.Write] wrap it, so errors.As finds it under
// [asynclog.Permanent], [asynclog.RetryAfter] or [asynclog.Delivered]. Its
// Body and Location went through the sink's redaction.
type StatusError struct {
	URL        string // scheme, host and path only: no user info, no query
	StatusCode int
	Body       string // the response body's first bytes, quoted as printable text
	Records    int    // records in the refused request
	// Location is a redirect's target, resolved against the request's
	// URL, with scheme, host and path only; empty for other answers or if
	// the header was missing or malformed.
	Location string
}

// Error reports the request, the status and the body's first bytes.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("httpsink: POST %s (%d records): %d %s", e.URL, e.Records, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Location != "" {
		msg += " to " + e.Location + " not followed"
		switch e.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
			msg += " (it would resend the POST as a GET without the body)"
		}
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// isProtobuf reports whether a Content-Type names protobuf.
func isProtobuf(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "application/x-protobuf") || strings.EqualFold(mt, "application/protobuf")
}

// readPrefix appends up to limit bytes of r to b.
func readPrefix(b []byte, r io.Reader, limit int) []byte {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		end := min(cap(b), limit)
		m, err := r.Read(b[len(b):end])
		b = b[:len(b)+m]
		if err != nil {
			break
		}
	}
	return b
}

// quoteBody returns the first errBodyBytes of a response body as one line
// of printable text: line breaks and tabs become spaces, other control
// characters are dropped.
func quoteBody(b []byte) string {
	b = bytes.TrimSpace(b)
	cut := len(b) > errBodyBytes
	if cut {
		b = b[:errBodyBytes]
	}
	q := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsGraphic(r):
			return r
		case unicode.IsSpace(r):
			return ' '
		}
		return -1
	}, strings.ToValidUTF8(string(b), "\ufffd"))
	if cut {
		q += "..."
	}
	return q
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date,
// relative to now. A date in the past means no wait.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

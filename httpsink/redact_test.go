package httpsink_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// echoServer is a raw TCP peer on loopback that answers each request with
// its own request line, as a confused proxy might: Go's transport then
// quotes that line, query and all, in its error.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if r, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = c.Write([]byte(r.Method + " " + r.RequestURI + " " + r.Proto + "\r\n\r\n"))
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return "http://" + ln.Addr().String()
}

// TestEveryErrorIsRedacted: whatever path an error takes out of the sink
// (a transport error, a redirect, a status, a body), the sink's secrets
// (header values, the URL's password and query values) and the query of
// any URL it quotes are hidden.
func TestEveryErrorIsRedacted(t *testing.T) {
	const token, header, pass, foreign = "qs-77aa55bb", "hdr-99cc11dd", "pw-44ee22ff", "other-55aa66bb"
	for _, tc := range []struct {
		name   string
		format httpsink.Format
		url    func(t *testing.T) string
		want   string // what the error still says
	}{
		{"transport error: the request line echoed", httpsink.NDJSON, echoServer, "malformed HTTP status code"},
		{"redirect: a malformed Location", httpsink.NDJSON, func(t *testing.T) string {
			return newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "http://[::1%zz]/v2/logs?token="+r.URL.Query().Get("token")+"&session="+foreign)
				w.WriteHeader(http.StatusTemporaryRedirect)
			}).URL
		}, "Location"},
		{"redirect: the token in the Location", httpsink.NDJSON, func(t *testing.T) string {
			return newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/login/"+r.URL.Query().Get("token")+"?session="+foreign)
				w.WriteHeader(http.StatusFound)
			}).URL
		}, "/login/[redacted] not followed"},
		{"status: the body echoes the request", httpsink.NDJSON, func(t *testing.T) string {
			return newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "denied "+r.URL.String()+" "+r.Header.Get("X-Api-Key")+" see http://x/?session="+foreign, http.StatusForbidden)
			}).URL
		}, "denied /v1/logs?[redacted] [redacted]"},
		{"body: an OTLP partial success echoes the request", httpsink.OTLP, func(t *testing.T) string {
			return newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"bad ` + r.URL.String() + ` ` + r.Header.Get("X-Api-Key") + `"}}`))
			}).URL
		}, "bad /v1/logs?[redacted] [redacted]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := strings.Replace(tc.url(t), "http://", "http://alice:"+pass+"@", 1) + "/v1/logs?token=" + token
			s := newSink(t, u, httpsink.Options{Format: tc.format, Headers: http.Header{"X-Api-Key": {header}}})
			err := s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
			require.Error(t, err, "the write fails")
			msg := err.Error()
			for _, secret := range []string{token, header, pass, foreign} {
				assert.NotContains(t, msg, secret, "the error hides %q", secret)
			}
			assert.Contains(t, msg, tc.want, "the error still says what happened")
		})
	}
}

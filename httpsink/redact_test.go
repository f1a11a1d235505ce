package httpsink_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
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

// lowerHexEscapes writes the %XX escapes of s in lower-case hex, as some
// servers do.
func lowerHexEscapes(s string) string {
	return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(s, strings.ToLower)
}

// TestEncodedSecretsAreRedacted: a server that echoes a secret URL-encoded
// (the raw query, a header query- or path-escaped, in lower-case hex, a
// Basic header decoded, JSON with escaped slashes) gets it hidden too, in
// what OnError hears and in what Flush and Close return.
func TestEncodedSecretsAreRedacted(t *testing.T) {
	const token, key, basicPass, urlPass = "tok/en+SECRET=42", "k3y+SECRET/val==", "pa ss/SECRET+1", "pw/SECRET:x"
	for _, tc := range []struct {
		name string
		echo func(r *http.Request) string
	}{
		{"the raw query", func(r *http.Request) string { return r.URL.RawQuery }},
		{"a header query-escaped", func(r *http.Request) string { return url.QueryEscape(r.Header.Get("X-Api-Key")) }},
		{"a header path-escaped", func(r *http.Request) string { return url.PathEscape(r.Header.Get("X-Api-Key")) }},
		{"a header in lower-case hex", func(r *http.Request) string { return lowerHexEscapes(url.QueryEscape(r.Header.Get("X-Api-Key"))) }},
		{"a space as %20", func(r *http.Request) string {
			return strings.ReplaceAll(url.QueryEscape(r.Header.Get("X-Client-Secret")), "+", "%20")
		}},
		{"Basic credentials decoded", func(r *http.Request) string {
			dec, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Proxy-Authorization"), "Basic "))
			return string(dec)
		}},
		{"a Basic password query-escaped", func(r *http.Request) string {
			dec, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Proxy-Authorization"), "Basic "))
			_, p, _ := strings.Cut(string(dec), ":")
			return url.QueryEscape(p)
		}},
		{"the URL's password path-escaped", func(r *http.Request) string { _, p, _ := r.BasicAuth(); return url.PathEscape(p) }},
		{"the URL's basic auth query-escaped", func(r *http.Request) string {
			return url.QueryEscape(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
		}},
		{"JSON with escaped slashes", func(r *http.Request) string {
			return `{"key":"` + strings.ReplaceAll(r.Header.Get("X-Api-Key"), "/", `\/`) + `"}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var echoed sync.Map // what the server sent back
			srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				e := tc.echo(r)
				echoed.Store(e, true)
				http.Error(w, "denied: "+e, http.StatusForbidden)
			})
			u := strings.Replace(srv.URL, "http://", "http://alice:"+url.PathEscape(urlPass)+"@", 1) + "/logs?token=" + url.QueryEscape(token)
			var errs errorLog
			s := newSink(t, u, httpsink.Options{Headers: http.Header{
				"X-Api-Key":           {key},
				"X-Client-Secret":     {"my SECRET value"},
				"Proxy-Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+basicPass))},
			}})
			q, err := asynclog.NewQueue(s, asynclog.Options{MaxAttempts: 1, OnError: errs.add})
			require.NoError(t, err, "NewQueue")
			slog.New(asynclog.NewHandler(q, nil)).Info("m")
			ferr := q.Flush(context.Background())
			require.Error(t, ferr, "the record failed")
			slog.New(asynclog.NewHandler(q, nil)).Info("m2")
			cerr := q.Close()
			require.Error(t, cerr, "Close reports the second record's failure")
			require.NotEmpty(t, errs.all(), "errors were reported")
			all := errs.text() + ferr.Error() + cerr.Error()
			assert.Contains(t, all, "denied: ", "the body is quoted")
			assert.NotContains(t, all, "SECRET", "no form of a secret is left")
			n := 0
			echoed.Range(func(e, _ any) bool {
				n++
				assert.NotContains(t, all, e, "the echo is hidden")
				return true
			})
			assert.Equal(t, 1, n, "the server echoed the same text to both requests")
		})
	}
}

// TestRedactionSparesSettings: only credentials are redacted. A header
// that is a setting, such as VictoriaLogs' VL-Time-Field: time, does not
// turn every "time" a server quotes into [redacted].
func TestRedactionSparesSettings(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, `cannot parse "time" field of tenant "team-a": want "msg" too`, http.StatusBadRequest)
	})
	s := newSink(t, srv.URL+"/insert/jsonline", httpsink.Options{Headers: http.Header{
		"Vl-Time-Field": {"time"}, "Vl-Msg-Field": {"msg"}, "X-Scope-Orgid": {"team-a"}, "X-Api-Key": {"key-0123"},
	}})
	err := s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
	require.Error(t, err, "refused")
	assert.Contains(t, err.Error(), `cannot parse "time" field of tenant "team-a": want "msg" too`, "the body is quoted whole")
	assert.NotContains(t, err.Error(), "[redacted]", "nothing to redact")
}

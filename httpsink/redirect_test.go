package httpsink_test

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// TestRedirectThatDropsTheBodyIsAnError: Go's client follows 301, 302
// and 303 by turning the POST into a GET without the body. The page it
// lands on answers 200, so unless the sink refuses, every record is
// counted Delivered while none was posted.
func TestRedirectThatDropsTheBodyIsAnError(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			login := newServer(t, nil) // a login page: 200 to anything
			const secret = "sess-0badc0de"
			srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://user:pw-"+secret+"@"+login.Listener.Addr().String()+"/login?session="+secret, status)
			})
			var errs errorLog
			s := newSink(t, srv.URL+"/v1/logs", httpsink.Options{})
			q, err := asynclog.NewQueue(s, asynclog.Options{MinBackoff: time.Millisecond, MaxAttempts: 3, BatchSize: 1000, FlushInterval: time.Hour, OnError: errs.add})
			require.NoError(t, err, "NewQueue")
			l := slog.New(asynclog.NewHandler(q, nil))
			for range 1000 {
				l.Info("r")
			}
			ferr := q.Flush(context.Background())
			require.NoError(t, q.Close(), "Close: Flush already reported the failure")
			require.Error(t, ferr, "Flush reports the records given up on")

			st := q.Stats()
			assert.Equal(t, uint64(0), st.Delivered, "nothing was posted, so nothing is Delivered")
			assert.Equal(t, uint64(1000), st.Failed, "every record failed")
			assert.Equal(t, uint64(0), st.Retries, "a redirect is permanent")
			assert.Empty(t, login.requests(), "the redirect was not followed")
			require.NotEmpty(t, errs.all(), "OnError heard of it")
			text := errs.text()
			assert.Contains(t, text, strconv.Itoa(status), "the error names the status")
			assert.Contains(t, text, "http://"+login.Listener.Addr().String()+"/login", "the error names the Location")
			assert.NotContains(t, text, secret, "without the Location's user info or query")
			var se *httpsink.StatusError
			require.ErrorAs(t, errs.all()[0], &se, "a StatusError is reachable")
			assert.Equal(t, status, se.StatusCode, "StatusError.StatusCode")
			assert.Equal(t, "http://"+login.Listener.Addr().String()+"/login", se.Location, "StatusError.Location, redacted")
		})
	}
}

// TestRedirectThatKeepsTheBodyIsFollowed: 307 and 308 resend the POST
// with its body, so they keep working, with a client of the sink's own or
// the caller's (whose CheckRedirect still has its say).
func TestRedirectThatKeepsTheBodyIsFollowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		client *http.Client
	}{
		{"307", http.StatusTemporaryRedirect, nil},
		{"308", http.StatusPermanentRedirect, nil},
		{"307 with the caller's client", http.StatusTemporaryRedirect, &http.Client{}},
		{"302 with the caller's client", http.StatusFound, &http.Client{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moved := newServer(t, nil)
			srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, moved.URL+"/v2/logs", tc.status)
			})
			s := newSink(t, srv.URL+"/v1/logs", httpsink.Options{Client: tc.client})
			err := s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
			if tc.status == http.StatusFound {
				require.Error(t, err, "a 302 is refused whatever the client")
				assert.True(t, asynclog.IsPermanent(err), "permanent")
				assert.Empty(t, moved.requests(), "not followed")
				return
			}
			require.NoError(t, err, "delivered at the new location")
			reqs := moved.requests()
			require.Len(t, reqs, 1, "one request at the new location")
			assert.Equal(t, http.MethodPost, reqs[0].Method, "still a POST")
			assert.Equal(t, "{\"msg\":\"m\"}\n", string(reqs[0].Body), "with its body")
		})
	}
}

// TestRedirectLoopIsPermanent: a server that keeps redirecting to itself
// is a configuration error that no retry fixes.
func TestRedirectLoopIsPermanent(t *testing.T) {
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
	})
	s := newSink(t, srv.URL+"/v1/logs", httpsink.Options{})
	err := s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)})
	require.Error(t, err, "a redirect loop is an error")
	assert.True(t, asynclog.IsPermanent(err), "and permanent")
	assert.Contains(t, err.Error(), "redirects", "the error says why")
	assert.Equal(t, 10, len(srv.requests()), "ten requests in all, as with Go's default policy")
}

// TestRedirectToAnotherHostDropsTheHeaders: Go's client drops only
// Authorization and cookies on a redirect to another host; the sink drops
// every header of Options.Headers (an X-Api-Key, a tenant) and the
// Referer, which quotes the URL's query. A redirect within the same
// origin keeps them.
func TestRedirectToAnotherHostDropsTheHeaders(t *testing.T) {
	headers := http.Header{"X-Api-Key": {"key-0123"}, "Authorization": {"Bearer tok-4567"}, "X-Tenant": {"team-a"}, "x-lower-case": {"set as written"}}
	for _, tc := range []struct {
		name     string
		host     string // where the redirect leads
		sameHost bool
		keep     bool
	}{
		{"another host", "127.0.0.2:0", false, false},
		{"the same host, another port", "127.0.0.1:0", false, false},
		{"the same origin", "", true, true},
	} {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(tc.name+"/"+strconv.Itoa(status), func(t *testing.T) {
				var moved *server
				if tc.host != "" {
					moved = newServerAt(t, tc.host, nil)
				}
				srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v2/logs" {
						return // the same origin's new place
					}
					to := baseURL(moved, r) + "/v2/logs"
					http.Redirect(w, r, to, status)
				})
				if moved == nil {
					moved = srv
				}
				s := newSink(t, srv.URL+"/v1/logs?token=qs-89ab", httpsink.Options{Headers: headers, IdempotencyHeader: "Idempotency-Key"})
				require.NoError(t, s.Write(context.Background(), []asynclog.Record{rec(0, "m", `{"msg":"m"}`)}), "delivered at the new location")
				var got *request
				for _, r := range moved.requests() {
					if r.Path == "/v2/logs" {
						got = &r
					}
				}
				require.NotNil(t, got, "the request reached the new location")
				assert.Equal(t, "{\"msg\":\"m\"}\n", string(got.Body), "with its body")
				assert.Empty(t, got.Header.Get("Referer"), "no Referer, which would quote the query")
				assert.NotEmpty(t, got.Header.Get("Idempotency-Key"), "the idempotency key is no secret: kept")
				assert.Equal(t, "application/x-ndjson", got.Header.Get("Content-Type"), "the sink's own headers kept")
				for k := range headers {
					if tc.keep {
						assert.Equal(t, headers[k][0], got.Header.Get(k), "%s kept within the origin", k)
					} else {
						assert.Empty(t, got.Header.Get(k), "%s not sent to another origin", k)
					}
				}
			})
		}
	}
}

// baseURL returns the base URL of moved, or of the server that got r if
// moved is nil.
func baseURL(moved *server, r *http.Request) string {
	if moved == nil {
		return "http://" + r.Host
	}
	return moved.URL
}

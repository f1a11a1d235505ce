package httpsink

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The sink's HTTP client: redirects kept to the endpoint's origin, with
// the request body kept for them.

// newClient returns the default client: keep-alive, bounded connect, TLS
// and response-header waits. Each request's ctx bounds the whole exchange.
func newClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// maxRedirects is how many redirects in a row a request follows, as
// Go's default policy does.
const maxRedirects = 10

// errRedirectLoop stops a request after maxRedirects redirects.
var errRedirectLoop = errors.New("stopped after " + strconv.Itoa(maxRedirects) + " redirects")

// keepBody wraps a client's CheckRedirect (nil: Go's default). Go follows
// 301, 302 and 303 by turning the POST into a GET without the body, which
// would lose the batch while the page it lands on answers 200: such a
// redirect is not followed, so that the sink sees the 3xx and reports it.
// 307 and 308 resend the POST with its body and are left to next, without
// a Referer (which would quote the URL's query) and, to another origin
// than the sink's URL, without the configured headers: Go drops only
// Authorization and cookies, and only for another host.
func keepBody(next func(*http.Request, []*http.Request) error, configured http.Header) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if req.Method != via[0].Method {
			return http.ErrUseLastResponse
		}
		req.Header.Del("Referer")
		if origin(req.URL) != origin(via[0].URL) {
			for k := range configured {
				delete(req.Header, k) // as the sink set it, canonical or not
				req.Header.Del(k)
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errRedirectLoop
		}
		return nil
	}
}

// origin returns u's scheme, host and port, the port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

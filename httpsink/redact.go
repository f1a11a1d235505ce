package httpsink

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// redact keeps scheme, host and path: user info and query may hold secrets.
func redact(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}

// minSecret is the shortest value scrub hides: shorter ones would mangle
// ordinary words and cannot be much of a secret.
const minSecret = 4

// secretsOf lists what must never appear in an error: every header value
// (and the credentials after an auth scheme such as "Bearer "), the URL's
// user name and password, and its query values.
func secretsOf(u *url.URL, h http.Header) []string {
	var out []string
	add := func(v string) {
		if len(v) >= minSecret {
			out = append(out, v)
		}
	}
	for _, vs := range h {
		for _, v := range vs {
			add(v)
			if _, cred, ok := strings.Cut(v, " "); ok {
				add(strings.TrimSpace(cred))
			}
		}
	}
	if u.User != nil {
		name := u.User.Username()
		p, _ := u.User.Password()
		add(name)
		add(p)
		// The transport sends them as basic auth, which a server may echo.
		add(base64.StdEncoding.EncodeToString([]byte(name + ":" + p)))
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	// Longest first, so that a value is hidden whole before any part of it.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// scrub hides the sink's secrets in text quoted from a server (which may
// echo a request's headers back).
func (s *Sink) scrub(text string) string {
	for _, v := range s.secrets {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}

// redactText is the one redaction every text an error quotes goes
// through, whatever its path out of the sink (a transport error, a
// redirect's Location, a status's body, an OTLP partial success's
// message): the sink's secrets are hidden, and so are the query and the
// user info of any URL in it, since they may hold someone else's (a
// login page's session, a redirect's token).
func (s *Sink) redactText(text string) string {
	return hideURLSecrets(s.scrub(text))
}

// hideURLSecrets replaces the query of every URL in text ("?" then
// name=..., up to the end of the URL) by "?[redacted]", and the user info
// of every absolute URL ("://user:pass@") by "://[redacted]@". A URL ends
// at a space, a quote or an angle bracket, as it does when Go quotes it
// with %q or a server writes it in HTML.
func hideURLSecrets(text string) string {
	if !strings.ContainsAny(text, "?@") {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		switch {
		case text[i] == '?' && startsQuery(text[i+1:]):
			b.WriteString("?[redacted]")
			i++
			for i < len(text) && !endsURL(text[i]) {
				i++
			}
		case strings.HasPrefix(text[i:], "://"):
			b.WriteString("://")
			i += 3
			end := i
			for end < len(text) && !endsURL(text[end]) && text[end] != '/' && text[end] != '?' && text[end] != '#' {
				end++
			}
			if at := strings.LastIndexByte(text[i:end], '@'); at >= 0 {
				b.WriteString("[redacted]@")
				i += at + 1
			}
		default:
			b.WriteByte(text[i])
			i++
		}
	}
	return b.String()
}

// startsQuery reports whether s starts with a query parameter: a name of
// URL characters, then '='.
func startsQuery(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~%+[]", c) >= 0:
		default:
			return false
		}
	}
	return false
}

// endsURL reports whether c cannot be part of a URL as text quotes it.
func endsURL(c byte) bool {
	return c <= ' ' || c == '"' || c == '\'' || c == '\\' || c == '<' || c == '>' || c == '`' || c == 0x7f
}

// redactedError is an error from the transport (or from building a
// request) with its text redacted. Its cause is dropped, since the
// cause's own text may quote a secret, except for a cancellation or a
// deadline, which callers match with errors.Is.
type redactedError struct {
	text  string
	cause error // context.Canceled, context.DeadlineExceeded or nil
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.cause }

// redactErr returns err with its text redacted by [Sink.redactText] and
// any *url.Error (which quotes the request's URL) replaced by its cause.
func (s *Sink) redactErr(err error) error {
	var cause error
	switch {
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	return &redactedError{text: s.redactText(stripURL(err).Error()), cause: cause}
}

// stripURL replaces a *url.Error, which quotes the request URL (query
// included), by its cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

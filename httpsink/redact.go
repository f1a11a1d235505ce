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

	"github.com/asynclog/asynclog/internal/jsonenc"
)

// redact keeps scheme, host and path: user info and query may hold secrets.
func redact(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}

// minSecret is the shortest value scrub hides: shorter ones would mangle
// ordinary words and cannot be much of a secret.
const minSecret = 4

// credentialWords mark a header whose name says it carries a credential,
// such as X-Api-Key, X-Auth-Token or X-Client-Secret.
var credentialWords = []string{"key", "token", "secret", "auth", "password", "passwd", "session", "cookie", "credential", "signature"}

// isCredentialHeader reports whether a header carries a credential:
// Authorization, Proxy-Authorization, Cookie, or a name with one of
// credentialWords in it. Other headers (a tenant, VictoriaLogs'
// VL-Time-Field: time) are settings, whose values are ordinary words that
// redaction would blot out of every error.
func isCredentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// secretsOf lists what must never appear in an error, in every encoding a
// server may echo it in: the values of the credential headers (and the
// credentials after an auth scheme such as "Bearer ", decoded too for
// "Basic "; a cookie's values), the URL's user name and password and
// their basic-auth encoding, and every query value.
func secretsOf(u *url.URL, h http.Header) []string {
	var raw []string
	add := func(v string) {
		if len(v) >= minSecret {
			raw = append(raw, v)
		}
	}
	for name, vs := range h {
		if !isCredentialHeader(name) {
			continue
		}
		for _, v := range vs {
			add(v)
			scheme, cred, ok := strings.Cut(v, " ")
			if !ok {
				continue
			}
			cred = strings.TrimSpace(cred)
			add(cred)
			if strings.EqualFold(scheme, "Basic") {
				if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
					user, pass, _ := strings.Cut(string(dec), ":")
					add(string(dec))
					add(user)
					add(pass)
				}
			}
		}
		if http.CanonicalHeaderKey(name) == "Cookie" {
			for _, vs := range vs {
				for _, c := range strings.Split(vs, ";") {
					if _, val, ok := strings.Cut(c, "="); ok {
						add(strings.TrimSpace(val))
					}
				}
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
	seen := map[string]bool{}
	var out []string
	for _, v := range raw {
		for _, e := range encodings(v) {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	// Longest first, so that a value is hidden whole before any part of it.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// encodings returns v as a server may echo it: as it is, query-escaped
// (+ or %20 for a space), path-escaped, each escape also in lower-case
// hex, and JSON-escaped with or without escaped slashes.
func encodings(v string) []string {
	q := url.QueryEscape(v)
	out := []string{v, q, strings.ReplaceAll(q, "+", "%20"), url.PathEscape(v)}
	for _, e := range out[1:] {
		out = append(out, lowerHex(e))
	}
	j := string(jsonenc.AppendString(nil, v))
	j = j[1 : len(j)-1]
	out = append(out, j, strings.ReplaceAll(j, "/", `\/`))
	return out
}

// lowerHex returns s with the hex digits of its %XX escapes in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lower(b[i+1])
			b[i+2] = lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
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

package httpsink

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHideURLSecrets(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no URL", "connection refused", "connection refused"},
		{"a question", "why? because", "why? because"},
		{"a question mark in a word", "what?no", "what?no"},
		{"relative URL", `malformed HTTP status code "/v1/logs?token=abc"`, `malformed HTTP status code "/v1/logs?[redacted]"`},
		{"absolute URL", "see http://h/x?a=1&b=2 now", "see http://h/x?[redacted] now"},
		{"user info", "http://alice:pw@h:80/x", "http://[redacted]@h:80/x"},
		{"user info and query", `"https://u:p@h/?s=1"`, `"https://[redacted]@h/?[redacted]"`},
		{"an e-mail address is not user info", "mail ops@example.com", "mail ops@example.com"},
		{"HTML", `<a href="/login?next=%2F">`, `<a href="/login?[redacted]">`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, hideURLSecrets(tc.in), "hideURLSecrets(%q)", tc.in)
		})
	}
}

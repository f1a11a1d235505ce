package mailsink

import (
	"encoding/base64"
	"errors"
	"net/mail"
	"strings"

	"github.com/asynclog/asynclog"
)

// Keeping the password out of errors (a server's reply may echo it), and
// the ASCII checks that decide whether a message needs SMTPUTF8.

// secretForms lists the password as it could appear in a reply that
// echoes a command: plain, base64 (AUTH LOGIN) and the base64 of the AUTH
// PLAIN response.
func secretForms(username, password string) []string {
	if password == "" {
		return nil
	}
	enc := base64.StdEncoding.EncodeToString
	return []string{
		enc([]byte("\x00" + username + "\x00" + password)),
		enc([]byte(password)),
		password,
	}
}

// redact returns err unchanged if its text holds no secret; otherwise an
// error with the secrets blanked out, permanent or partial if err was. The
// original error, which quotes the secret, is dropped.
func (c *config) redact(err error) error {
	if err == nil || len(c.secrets) == 0 {
		return err
	}
	msg := err.Error()
	found := false
	for _, s := range c.secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			found = true
		}
	}
	if !found {
		return err
	}
	red := errors.New(msg)
	var pe *asynclog.PartialError
	switch {
	case errors.As(err, &pe):
		return asynclog.Partial(red, pe.Rejected)
	case asynclog.IsPermanent(err):
		return asynclog.Permanent(red)
	}
	return red
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(as []*mail.Address) bool {
	for _, a := range as {
		if !isASCII(a.Address) {
			return false
		}
	}
	return true
}

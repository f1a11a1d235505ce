package mailsink_test

// The snippets of docs/sinks.md and docs/options.md that need mailsink,
// copied line for line (the root module's TestSnippetsCovered checks the
// copies against the docs). They only compile: they would send mail.

import (
	"fmt"
	"log"
	"os"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/mailsink"
)

// docs/sinks.md: a mailsink on a digest queue.
func snippetSinksMail() {
	sink, err := mailsink.New(mailsink.Options{
		Addr:     "smtp.example.com:587",
		From:     "Payments <alerts@example.com>",
		To:       []string{"oncall@example.com"},
		Username: "alerts",
		Password: os.Getenv("SMTP_PASSWORD"),
		// TLS: mailsink.StartTLS is the zero value, and it is required.
	})
	if err != nil {
		log.Fatal(err) // bad addresses, no port, credentials in the clear: caught here
	}
	q, err := asynclog.NewQueue(sink, mailsink.DigestOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close() // sends the last digest at once
}

// docs/options.md: changing a preset.
func snippetOptionsDigest(sink asynclog.Sink) (*asynclog.Queue, error) {
	opts := mailsink.DigestOptions()
	opts.OnError = func(err error) { fmt.Fprintln(os.Stderr, "mail:", err) }
	q, err := asynclog.NewQueue(sink, opts)
	return q, err
}

var _ = []any{snippetSinksMail, snippetOptionsDigest}

// Package mailsink is an [asynclog.Sink] that sends each batch of log
// records as one email: a digest of errors, rate-limited, over TLS.
//
// A record travels from a log call through the front end's encoder and the
// queue to the consumer goroutine, which hands a batch to [Sink.Write].
// Write renders the batch as one plain-text email and delivers it in one
// SMTP conversation (dial, STARTTLS or implicit TLS, AUTH, MAIL, RCPT,
// DATA, QUIT) that honours the ctx the queue gives it at every step, so a
// hung server cannot hold Shutdown past its deadline.
//
// # Digests and the rate limit
//
// The subject names the highest level in the batch, the record count and
// the message of the first record at that level, after the prefix:
//
//	[asynclog] ERROR 37 records: payment failed
//
// The body has one readable line per record (time, level, message, fields)
// and then the raw encoded records, quoted-printable, UTF-8. The headers
// include Date, Message-ID and Auto-Submitted.
//
// The sink never sleeps for a rate limit: the queue owns time. Its
// Options.MinInterval starts at most one Write per interval and gathers
// records meanwhile, so a burst of errors becomes one bigger digest, and
// Flush and Shutdown send the last digest at once. [DigestOptions] returns
// queue options that make good digests (one email a minute at most).
//
// # Errors
//
// Network errors and 4xx replies are retryable; 5xx replies are
// [asynclog.Permanent] and carry the server's text in a [ReplyError].
// Credentials never appear in an error.
//
// # Hostile log content
//
// Log messages reach the headers only through the Subject, with every
// control character turned into a space and the text RFC 2047 encoded: a
// message such as "boom\r\nBcc: someone@example.com" cannot add a header
// or a recipient, since the recipients are those of Options.To and no
// others. In the body, line breaks inside a message are shown escaped
// (\r\n), invalid UTF-8 becomes U+FFFD, and every line goes through the
// quoted-printable encoder and the client's dot-stuffing, so a line that
// starts with a dot, or is a lone dot, arrives as it was.
//
// # Why go-smtp
//
// The standard library's net/smtp is frozen and has no context support.
// This package speaks SMTP with the client of github.com/emersion/go-smtp:
// it is maintained, small (its one dependency is go-sasl, for AUTH), takes
// a net.Conn we dial ourselves with DialContext, so a cancelled ctx can
// close the connection under any command, returns the server's replies as
// typed errors with their codes (which decide retry or not), dot-stuffs
// DATA, and refuses CR and LF in envelope addresses. The same module has
// an SMTP server, which the tests run on loopback. github.com/wneessen/go-mail
// was the other candidate: it has DialWithContext and a rich message
// builder, but it is a larger dependency built around composing messages,
// while a digest is one plain-text part this package writes itself.
//
// One cost of go-smtp: the client always greets with EHLO localhost, since
// its STARTTLS path gives no way to set the name before the upgrade.
//
//	sink, err := mailsink.New(mailsink.Options{
//		Addr:     "smtp.example.com:587",
//		From:     "Alerts <alerts@example.com>",
//		To:       []string{"oncall@example.com"},
//		Username: "alerts",
//		Password: os.Getenv("SMTP_PASSWORD"),
//	})
//	if err != nil { ... }
//	q, err := asynclog.NewQueue(sink, mailsink.DigestOptions())
//	if err != nil { ... }
//	defer q.Close()
//	logger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelError}))
package mailsink

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
// # TLS
//
// [StartTLS], the zero value of Options.TLS, connects in the clear (port
// 587 or 25) and upgrades before anything else is said; a server that does
// not offer STARTTLS gets no mail ([ErrNoStartTLS], permanent).
// [ImplicitTLS] speaks TLS from the first byte (port 465). [Plaintext] is
// only for a relay on the same host or a test server, and [New] refuses it
// with a Username. Options.TLSConfig is cloned; an empty ServerName is
// taken from Addr, and TLS 1.2 is the minimum by default. An untrusted
// certificate is a permanent error. AUTH uses PLAIN, or LOGIN where that
// is all the server offers, and only over TLS.
//
// # Errors
//
// Network errors and 4xx replies are retryable; 5xx replies are
// [asynclog.Permanent] and carry the server's text in a [ReplyError].
// Credentials never appear in an error.
//
// # Retries, duplicates and recipients
//
// Delivery is at least once: if the server took a digest but its final
// reply was lost, the sink cannot know, and the queue sends the digest
// again. A retry sends the very same message, with the Message-ID and
// Date of the first attempt, so that a mail system or reader that drops
// repeated Message-IDs keeps one copy; each new digest gets a new
// Message-ID.
//
// Recipients answer one by one. One that refuses a digest with a 4xx
// (greylisting, a full mailbox) while others take it gets it on the
// queue's retry, which goes to the refused recipients only, never again
// to those that have it. One that refuses with a 5xx is reported (as
// [asynclog.Partial] with no records rejected when others took the
// digest) and not tried again.
//
// # EHLO
//
// The sink introduces itself in EHLO with Options.LocalName, by default
// the host's name (os.Hostname), or "localhost" if that is not a valid
// domain name: in the clear before STARTTLS and again after it.
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
// One cost of go-smtp: its STARTTLS path always says EHLO localhost
// before the upgrade, with no way to give another name, so the sink
// speaks the conversation's clear-text start itself (greeting, EHLO,
// STARTTLS, then the TLS handshake under ctx) and hands the client the
// TLS connection.
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

package mailsink_test

import (
	"log/slog"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/mailsink"
)

// TestMessageIDKeptAcrossRetries: when the final reply to DATA is lost,
// the server has the message but the sink cannot know, so the queue
// sends the digest again. It keeps its Message-ID (and Date), so that the
// receiving side can tell the second copy for what it is; another digest
// gets an ID of its own.
func TestMessageIDKeptAcrossRetries(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass, loseReply: func(n int) bool { return n == 1 }})
	o := sinkOptions(ts)
	o.To = o.To[:1]
	sink, err := mailsink.New(o)
	require.NoError(t, err, "New")
	q, errs := newQueue(t, sink, asynclog.Options{MinBackoff: 10 * time.Millisecond, MaxAttempts: 3})
	logger := slog.New(asynclog.NewHandler(q, nil))
	logger.Error("payment failed")
	require.NoError(t, q.Flush(t.Context()), "Flush: delivered on the retry")
	logger.Error("another failure")
	require.NoError(t, q.Flush(t.Context()), "Flush: the next digest")

	msgs := ts.messages()
	require.Equal(t, 3, len(msgs), "the first digest twice (its reply was lost), then the next")
	require.NotEmpty(t, errs.all(), "the lost reply was reported")
	first, again, next := parse(t, msgs[0].data), parse(t, msgs[1].data), parse(t, msgs[2].data)
	id := first.msg.Header.Get("Message-ID")
	require.NotEmpty(t, id, "a Message-ID")
	assert.Equal(t, id, again.msg.Header.Get("Message-ID"), "the retry of a digest keeps its Message-ID")
	assert.Equal(t, first.msg.Header.Get("Date"), again.msg.Header.Get("Date"), "and its Date")
	assert.Equal(t, string(msgs[0].data), string(msgs[1].data), "the retry is the same message, byte for byte")
	assert.NotEqual(t, id, next.msg.Header.Get("Message-ID"), "another digest has an ID of its own")
	assert.Equal(t, uint64(1), q.Stats().Retries, "one retry")
}

// TestRecipientRefusedTemporarilyGetsTheDigestLater: a recipient refused
// with a 4xx (greylisting, a full mailbox) while the others accept gets
// the digest on the queue's retry, and the recipients that took it do not
// get it twice.
func TestRecipientRefusedTemporarilyGetsTheDigestLater(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass, reject: func(cmd, arg string, n int) *smtp.SMTPError {
		if cmd == "RCPT" && arg == "second@example.org" && n <= 2 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
		}
		return nil
	}})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")
	q, errs := newQueue(t, sink, asynclog.Options{MinBackoff: 10 * time.Millisecond, MaxAttempts: 3})
	slog.New(asynclog.NewHandler(q, nil)).Error("payment failed")
	require.NoError(t, q.Flush(t.Context()), "Flush: delivered to both in the end")

	msgs := ts.messages()
	require.Equal(t, 2, len(msgs), "two conversations delivered the digest")
	assert.Equal(t, []string{"oncall@example.com"}, msgs[0].rcpts, "first to the recipient that accepted")
	assert.Equal(t, []string{"second@example.org"}, msgs[1].rcpts, "then to the refused one only")
	assert.Equal(t, string(msgs[0].data), string(msgs[1].data), "the same digest, Message-ID and all")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Delivered, "counted once, delivered")
	assert.Equal(t, uint64(1), st.Retries, "after one retry")
	require.NotEmpty(t, errs.all(), "the refusal was reported")
	assert.ErrorContains(t, errs.all()[0], "451 4.7.1 greylisted", "with the server's text")
	var re *mailsink.ReplyError
	assert.ErrorAs(t, errs.all()[0], &re, "a ReplyError is reachable")
}

// TestHelloName: the sink introduces itself with Options.LocalName, or by
// default with the host's name, in every EHLO: the one in the clear before
// STARTTLS and the one after it.
func TestHelloName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || !regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`).MatchString(host) {
		host = "localhost"
	}
	for _, tc := range []struct {
		name      string
		server    serverTLS
		mode      mailsink.TLSMode
		localName string
		want      []string
	}{
		{"STARTTLS, default", offerStartTLS, mailsink.StartTLS, "", []string{host, host}},
		{"STARTTLS, LocalName", offerStartTLS, mailsink.StartTLS, "mx1.example.net", []string{"mx1.example.net", "mx1.example.net"}},
		{"implicit TLS, LocalName", implicitTLS, mailsink.ImplicitTLS, "mx1.example.net", []string{"mx1.example.net"}},
		{"plaintext, address literal", noTLS, mailsink.Plaintext, "[192.0.2.1]", []string{"[192.0.2.1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, serverConfig{tls: tc.server})
			o := sinkOptions(ts)
			o.TLS, o.LocalName, o.Username, o.Password = tc.mode, tc.localName, "", ""
			sink, err := mailsink.New(o)
			require.NoError(t, err, "New")
			require.NoError(t, sink.Write(t.Context(), []asynclog.Record{{Time: time.Now(), Level: slog.LevelError, Message: "x", Encoded: []byte(`{}`)}}), "Write")
			assert.Equal(t, tc.want, ts.helloNames(), "the names given in EHLO")
		})
	}
}

// TestRecipientRefusedForGoodOnTheRetry: a recipient refused with a 4xx
// and then with a 5xx never gets the digest; the one that took it the
// first time does not get it again, and the records count as Delivered,
// since a recipient has them.
func TestRecipientRefusedForGoodOnTheRetry(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass, reject: func(cmd, arg string, n int) *smtp.SMTPError {
		if cmd == "RCPT" && arg == "second@example.org" {
			if n <= 2 {
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
			}
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")
	q, errs := newQueue(t, sink, asynclog.Options{MinBackoff: 10 * time.Millisecond, MaxAttempts: 3})
	slog.New(asynclog.NewHandler(q, nil)).Error("payment failed")
	require.NoError(t, q.Flush(t.Context()), "Flush: delivered to one recipient, the other refused for good")

	msgs := ts.messages()
	require.Equal(t, 1, len(msgs), "one message: the retry found nobody to send it to")
	assert.Equal(t, []string{"oncall@example.com"}, msgs[0].rcpts, "the recipient that took it, once")
	assert.Equal(t, 3, ts.count("RCPT"), "two RCPTs, then one for the refused recipient only")
	st := q.Stats()
	assert.Equal(t, uint64(1), st.Delivered, "Delivered")
	assert.Equal(t, uint64(1), st.Retries, "after one retry")
	reported := errs.all()
	require.Equal(t, 2, len(reported), "the temporary and the final refusal were reported")
	assert.ErrorContains(t, reported[1], "550 5.1.1 no such user", "the final refusal")
	var pe *asynclog.PartialError
	assert.ErrorAs(t, reported[1], &pe, "as a partial success")
}

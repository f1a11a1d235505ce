package mailsink_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/mailsink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testUser = "alerts"
	testPass = "s3cret-hunter2"
)

// sinkOptions returns options for a sink that talks to ts with STARTTLS,
// trusting ts's certificate, and AUTH as testUser.
func sinkOptions(ts *testServer) mailsink.Options {
	return mailsink.Options{
		Addr:      ts.addr,
		From:      "Alerts <alerts@example.com>",
		To:        []string{"oncall@example.com", "Second Person <second@example.org>"},
		Username:  testUser,
		Password:  testPass,
		TLSConfig: &tls.Config{RootCAs: ts.roots},
		Subject:   "[test]",
	}
}

// errorLog collects what a queue passes to OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// newQueue starts a queue on sink with opts and OnError set to a log.
func newQueue(t *testing.T, sink asynclog.Sink, opts asynclog.Options) (*asynclog.Queue, *errorLog) {
	t.Helper()
	el := &errorLog{}
	opts.OnError = el.add
	q, err := asynclog.NewQueue(sink, opts)
	require.NoError(t, err, "NewQueue")
	t.Cleanup(func() { _ = q.Close() })
	return q, el
}

// parsed is a received message taken apart with net/mail.
type parsed struct {
	msg     *mail.Message
	subject string // decoded
	body    string // decoded from quoted-printable
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	require.NoError(t, err, "net/mail parses the message:\n%s", data)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err, "Subject decodes")
	require.Equal(t, "quoted-printable", msg.Header.Get("Content-Transfer-Encoding"), "body encoding")
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err, "body decodes as quoted-printable")
	// Lines end in CRLF on the wire; compare with LF.
	return parsed{msg: msg, subject: subject, body: strings.ReplaceAll(string(body), "\r\n", "\n")}
}

// rawLines returns the lines of the body's raw section.
func rawLines(body string) []string {
	_, raw, ok := strings.Cut(body, "Raw records, one per line as encoded:\n\n")
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
}

func TestNewRejectsBadInput(t *testing.T) {
	ts := startServer(t, serverConfig{})
	good := sinkOptions(ts)
	tests := []struct {
		name   string
		change func(o *mailsink.Options)
		want   string
	}{
		{"unparsable From", func(o *mailsink.Options) { o.From = "not an address" }, "Options.From"},
		{"empty From", func(o *mailsink.Options) { o.From = "" }, "Options.From is empty"},
		{"unparsable To", func(o *mailsink.Options) { o.To = []string{"ok@example.com", "bad@@example.com"} }, "Options.To[1]"},
		{"To with a line break", func(o *mailsink.Options) { o.To = []string{"a@example.com\r\nRCPT TO:<b@example.com>"} }, "Options.To[0]"},
		{"empty To", func(o *mailsink.Options) { o.To = nil }, "Options.To is empty"},
		{"missing port", func(o *mailsink.Options) { o.Addr = "127.0.0.1" }, "Options.Addr"},
		{"empty port", func(o *mailsink.Options) { o.Addr = "127.0.0.1:" }, "needs a host and a port"},
		{"Username in the clear", func(o *mailsink.Options) { o.TLS = mailsink.Plaintext }, "in the clear"},
		{"unknown TLS mode", func(o *mailsink.Options) { o.TLS = 7 }, "not a known mode"},
		{"Password without Username", func(o *mailsink.Options) { o.Username = "" }, "Password without a Username"},
		{"Subject with a line break", func(o *mailsink.Options) { o.Subject = "[x]\r\nBcc: a@example.com" }, "line break"},
		{"tiny MaxMessageBytes", func(o *mailsink.Options) { o.MaxMessageBytes = 100 }, "MaxMessageBytes"},
		{"LocalName with a line break", func(o *mailsink.Options) { o.LocalName = "mx\r\nRCPT TO:<b@example.com>" }, "Options.LocalName"},
		{"LocalName with a space", func(o *mailsink.Options) { o.LocalName = "my host" }, "Options.LocalName"},
		{"LocalName a bad address literal", func(o *mailsink.Options) { o.LocalName = "[192.0.2.300]" }, "Options.LocalName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			s, err := mailsink.New(o)
			require.Error(t, err, "New must refuse the options")
			assert.Nil(t, s, "no sink on error")
			assert.Contains(t, err.Error(), tt.want, "the error names the problem")
			assert.NotContains(t, err.Error(), testPass, "the error never quotes the password")
		})
	}
	s, err := mailsink.New(good)
	require.NoError(t, err, "the unchanged options are good")
	require.NotNil(t, s, "a sink")
	assert.Zero(t, ts.sessionCount(), "New dials nothing, good input or bad")
}

func TestDigestArrivesWellFormed(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")
	// FlushInterval gathers the three records; Close sends them at once.
	q, errs := newQueue(t, sink, asynclog.Options{FlushInterval: time.Minute})
	logger := slog.New(asynclog.NewHandler(q, nil))

	logger.Warn("disk almost full", "free_mb", 120)
	logger.Error("payment failed", "order", 42, "user", "bob smith", "retry", true)
	logger.Error("second failure", "order", 43)
	require.NoError(t, q.Close(), "Close delivers the digest")

	msgs := ts.messages()
	require.Equal(t, 1, len(msgs), "one batch, one email")
	m := msgs[0]
	assert.True(t, m.tls, "the message came over STARTTLS")
	assert.Equal(t, "alerts@example.com", m.from, "envelope sender")
	assert.Equal(t, []string{"oncall@example.com", "second@example.org"}, m.rcpts, "envelope recipients are exactly Options.To")

	p := parse(t, m.data)
	assert.Equal(t, "[test] ERROR 3 records: payment failed", p.subject, "subject: prefix, highest level, count, first message at that level")
	from, err := p.msg.Header.AddressList("From")
	require.NoError(t, err, "From parses")
	assert.Equal(t, []*mail.Address{{Name: "Alerts", Address: "alerts@example.com"}}, from, "From header")
	to, err := p.msg.Header.AddressList("To")
	require.NoError(t, err, "To parses")
	assert.Equal(t, []*mail.Address{{Address: "oncall@example.com"}, {Name: "Second Person", Address: "second@example.org"}}, to, "To header")
	date, err := p.msg.Header.Date()
	require.NoError(t, err, "Date parses")
	assert.WithinDuration(t, time.Now(), date, time.Minute, "Date is now")
	assert.Regexp(t, `^<[^<>@\s]+@example\.com>$`, p.msg.Header.Get("Message-ID"), "Message-ID in the sender's domain")
	assert.Equal(t, "text/plain; charset=utf-8", p.msg.Header.Get("Content-Type"), "plain text, UTF-8")
	assert.Equal(t, "1.0", p.msg.Header.Get("MIME-Version"), "MIME-Version")

	assert.Contains(t, p.body, "3 records, highest level ERROR", "summary line")
	assert.Regexp(t, `(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN disk almost full free_mb=120$`, p.body, "readable line of the warning")
	assert.Regexp(t, `(?m)^\S+ ERROR payment failed order=42 user="bob smith" retry=true$`, p.body, "readable line with fields")
	raw := rawLines(p.body)
	require.Len(t, raw, 3, "one raw line per record")
	for i, want := range []string{"disk almost full", "payment failed", "second failure"} {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw[i]), &rec), "raw line %d is the encoded JSON", i)
		assert.Equal(t, want, rec["msg"], "raw line %d in order", i)
	}
	assert.Empty(t, errs.all(), "no errors reported")
}

func TestTLSModesAndAuth(t *testing.T) {
	tests := []struct {
		name    string
		server  serverConfig
		mode    mailsink.TLSMode
		noAuth  bool
		wantTLS bool
	}{
		{"STARTTLS with AUTH PLAIN", serverConfig{tls: offerStartTLS, user: testUser, pass: testPass}, mailsink.StartTLS, false, true},
		{"STARTTLS with only AUTH LOGIN offered", serverConfig{tls: offerStartTLS, user: testUser, pass: testPass, mechs: []string{sasl.Login}}, mailsink.StartTLS, false, true},
		{"implicit TLS with AUTH PLAIN", serverConfig{tls: implicitTLS, user: testUser, pass: testPass}, mailsink.ImplicitTLS, false, true},
		{"plaintext without AUTH", serverConfig{tls: noTLS}, mailsink.Plaintext, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.server)
			o := sinkOptions(ts)
			o.TLS = tt.mode
			if tt.noAuth {
				o.Username, o.Password = "", ""
			}
			sink, err := mailsink.New(o)
			require.NoError(t, err, "New")
			err = sink.Write(t.Context(), []asynclog.Record{{Time: time.Now(), Level: slog.LevelError, Message: "hello", Encoded: []byte(`{"msg":"hello"}`)}})
			require.NoError(t, err, "Write delivers")
			msgs := ts.messages()
			require.Len(t, msgs, 1, "one message arrived")
			assert.Equal(t, tt.wantTLS, msgs[0].tls, "encrypted as the mode says")
			assert.Equal(t, "[test] ERROR 1 record: hello", parse(t, msgs[0].data).subject, "subject")
		})
	}
}

func TestPermanentConnectionErrors(t *testing.T) {
	tests := []struct {
		name   string
		server serverConfig
		change func(o *mailsink.Options)
		check  func(t *testing.T, err error)
	}{
		{
			name:   "StartTLS required but not offered",
			server: serverConfig{tls: noTLS},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, mailsink.ErrNoStartTLS, "names the missing STARTTLS")
			},
		},
		{
			name:   "untrusted certificate",
			server: serverConfig{tls: offerStartTLS, user: testUser, pass: testPass},
			change: func(o *mailsink.Options) { o.TLSConfig = nil },
			check: func(t *testing.T, err error) {
				assert.ErrorContains(t, err, "certificate", "says the certificate was refused")
			},
		},
		{
			name:   "no AUTH mechanism in common",
			server: serverConfig{tls: offerStartTLS, user: testUser, pass: testPass, mechs: []string{"CRAM-MD5"}},
			check: func(t *testing.T, err error) {
				assert.ErrorIs(t, err, mailsink.ErrNoAuth, "names the missing mechanism")
			},
		},
		{
			name:   "wrong password, refusal echoes it",
			server: serverConfig{tls: offerStartTLS, user: testUser, pass: "other", echoAuth: true},
			check: func(t *testing.T, err error) {
				assert.ErrorContains(t, err, "535", "carries the reply code")
				assert.ErrorContains(t, err, "bad credentials", "carries the server's text")
				assert.NotContains(t, err.Error(), testPass, "the password is blanked out")
			},
		},
		{
			name:   "wrong password over AUTH LOGIN, refusal echoes it",
			server: serverConfig{tls: offerStartTLS, user: testUser, pass: "other", echoAuth: true, mechs: []string{sasl.Login}},
			check: func(t *testing.T, err error) {
				assert.ErrorContains(t, err, "535", "carries the reply code")
				assert.NotContains(t, err.Error(), testPass, "the password is blanked out")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.server)
			o := sinkOptions(ts)
			if tt.change != nil {
				tt.change(&o)
			}
			sink, err := mailsink.New(o)
			require.NoError(t, err, "New")
			err = sink.Write(t.Context(), []asynclog.Record{{Time: time.Now(), Level: slog.LevelError, Message: "x", Encoded: []byte(`{}`)}})
			require.Error(t, err, "Write fails")
			assert.True(t, asynclog.IsPermanent(err), "retrying cannot help, so the error is permanent: %v", err)
			assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte(testPass)), "no encoded password either")
			tt.check(t, err)
			assert.Empty(t, ts.messages(), "nothing delivered")
		})
	}
}

func TestBurstBecomesAtMostTwoDigests(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")
	opts := mailsink.DigestOptions()
	require.Equal(t, time.Minute, opts.MinInterval, "DigestOptions rate-limits to one email a minute")
	q, errs := newQueue(t, sink, opts)
	logger := slog.New(asynclog.NewHandler(q, nil))

	const n = 1000
	for i := range n {
		logger.Error("burst", "n", i)
	}
	start := time.Now()
	require.NoError(t, q.Close(), "Close delivers the rest")
	assert.Less(t, time.Since(start), 10*time.Second, "Close sends the last digest at once, not after MinInterval")

	msgs := ts.messages()
	require.NotEmpty(t, msgs, "digests arrived")
	assert.LessOrEqual(t, len(msgs), 2, "a burst within MinInterval is at most two emails")
	seen := make(map[int]int)
	for _, m := range msgs {
		p := parse(t, m.data)
		assert.Contains(t, p.subject, "[test] ERROR", "subject")
		for _, line := range rawLines(p.body) {
			var rec struct {
				N int `json:"n"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &rec), "raw line is JSON: %q", line)
			seen[rec.N]++
		}
	}
	for i := range n {
		assert.Equal(t, 1, seen[i], "record %d is in exactly one digest", i)
	}
	st := q.Stats()
	assert.Equal(t, uint64(n), st.Delivered, "every record delivered")
	assert.Empty(t, errs.all(), "no errors")
}

func TestDigestsAreSpacedByMinInterval(t *testing.T) {
	const interval = 500 * time.Millisecond
	// The server stamps a message when the client connects; the queue
	// starts a Write just before the dial. The two differ by the time to
	// connect and be accepted, which grows with the machine's load, so the
	// server's gaps get some slack, while the starts of the Writes, stamped
	// by a wrapper, must keep the interval exactly. Without the rate limit
	// either gap would be a few milliseconds.
	const slack = interval / 2

	ts := startServer(t, serverConfig{user: testUser, pass: testPass})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")
	var (
		mu     sync.Mutex
		starts []time.Time
	)
	stamped := asynclog.SinkFunc(func(ctx context.Context, batch []asynclog.Record) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return sink.Write(ctx, batch)
	})
	q, errs := newQueue(t, stamped, asynclog.Options{MinInterval: interval})
	logger := slog.New(asynclog.NewHandler(q, nil))

	logger.Error("first")
	ts.waitMessages(t, 1, 10*time.Second)
	logger.Error("second")
	logger.Error("third")
	msgs := ts.waitMessages(t, 2, 10*time.Second)
	gap := msgs[1].at.Sub(msgs[0].at)
	assert.GreaterOrEqual(t, gap, interval-slack, "the server saw two emails start about MinInterval apart")
	mu.Lock()
	require.Len(t, starts, 2, "two Writes so far")
	assert.GreaterOrEqual(t, starts[1].Sub(starts[0]), interval, "two Writes start at least MinInterval apart")
	mu.Unlock()
	assert.Equal(t, "[test] ERROR 2 records: second", parse(t, msgs[1].data).subject, "records logged meanwhile were gathered into one digest")

	logger.Error("last")
	closeStart := time.Now()
	require.NoError(t, q.Close(), "Close")
	msgs = ts.messages()
	require.Len(t, msgs, 3, "Close sent the last digest")
	assert.Less(t, msgs[2].at.Sub(closeStart), interval, "Close did not wait out MinInterval")
	assert.Equal(t, "[test] ERROR 1 record: last", parse(t, msgs[2].data).subject, "the last digest")
	assert.Empty(t, errs.all(), "no errors")
}

func TestHostileContent(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")

	now := time.Now()
	injection := "boom\r\nBcc: someone@example.com\r\nSubject: owned"
	batch := []asynclog.Record{
		{Time: now, Level: slog.LevelError, Message: injection,
			Encoded: []byte(`{"msg":"boom\r\nBcc: someone@example.com\r\nSubject: owned"}`)},
		// A console encoder's record with a stack trace: raw line breaks,
		// a lone dot, lines starting with dots.
		{Time: now, Level: slog.LevelError, Message: ".starts with a dot",
			Encoded: []byte("ERROR\t.starts with a dot\n.\n..two dots\r\n.trailing\r\nRCPT TO:<evil@example.com>\n")},
		{Time: now, Level: slog.LevelWarn, Message: "bad \xff\xfe bytes \u2028 and \x1b[31m",
			Encoded: []byte("{\"msg\":\"bad \xff\xfe bytes\"}")},
		{Time: now, Level: slog.LevelError, Message: "\r\n.\r\nQUIT\r\n", Encoded: []byte("\r\n.\r\nQUIT\r\n")},
	}
	require.NoError(t, sink.Write(t.Context(), batch), "Write")

	msgs := ts.messages()
	require.Len(t, msgs, 1, "exactly one message: nothing ended it early or started another")
	m := msgs[0]
	assert.Equal(t, []string{"oncall@example.com", "second@example.org"}, m.rcpts, "the envelope has only Options.To")
	p := parse(t, m.data)
	assert.Equal(t, []string{"Subject"}, headerNamesLike(p.msg.Header, "Subject"), "one Subject header")
	assert.Empty(t, p.msg.Header.Get("Bcc"), "no Bcc header")
	to, err := p.msg.Header.AddressList("To")
	require.NoError(t, err, "To parses")
	assert.Len(t, to, 2, "To header unchanged")
	assert.Equal(t, "[test] ERROR 4 records: boom Bcc: someone@example.com Subject: owned", p.subject,
		"the injection is harmless text on the Subject line")
	for name := range p.msg.Header {
		assert.Contains(t, []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted"},
			name, "only the sink's own headers")
	}

	assert.True(t, utf8.ValidString(p.body), "the body is valid UTF-8")
	assert.Contains(t, p.body, ` ERROR boom\r\nBcc: someone@example.com\r\nSubject: owned`+"\n", "the readable line shows the message escaped, on one line")
	assert.Contains(t, p.body, " WARN bad \uFFFD\uFFFD bytes \\u2028 and \\x1b[31m\n", "invalid UTF-8 and control characters made readable")
	assert.Contains(t, p.body, "\n.\n..two dots\n.trailing\nRCPT TO:<evil@example.com>\n", "lines starting with a dot arrive intact")
	assert.Contains(t, p.body, "{\"msg\":\"bad \uFFFD bytes\"}\n", "the raw record, its run of invalid bytes replaced")
	assert.Contains(t, p.body, "\n.\nQUIT\n", "a lone dot in a record did not end the message")
}

// headerNamesLike returns the header's keys equal to name, once per value.
func headerNamesLike(h mail.Header, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			for range vs {
				out = append(out, name)
			}
		}
	}
	return out
}

func TestServerReplies(t *testing.T) {
	tests := []struct {
		name       string
		reject     func(cmd, arg string, n int) *smtp.SMTPError
		delivered  bool
		wantCmd    string // the command the reply answered
		wantCount  int    // how many times the server saw it
		wantInErr  string
		wantRetry  bool
		permanent  bool
		partialRcp bool
	}{
		{
			name: "451 on RCPT is retried, then delivered",
			reject: func(cmd, _ string, n int) *smtp.SMTPError {
				if cmd == "RCPT" && n == 1 {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
				}
				return nil
			},
			delivered: true, wantCmd: "MAIL", wantCount: 2, wantInErr: "451 4.3.0 try again later", wantRetry: true,
		},
		{
			name: "451 at end of data is retried, then delivered",
			reject: func(cmd, _ string, n int) *smtp.SMTPError {
				if cmd == "DATA" && n == 1 {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "queue full"}
				}
				return nil
			},
			delivered: true, wantCmd: "DATA", wantCount: 2, wantInErr: "queue full", wantRetry: true,
		},
		{
			name: "550 on RCPT is not retried",
			reject: func(cmd, _ string, _ int) *smtp.SMTPError {
				if cmd == "RCPT" {
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
				}
				return nil
			},
			wantCmd: "MAIL", wantCount: 1, wantInErr: "550 5.1.1 no such user", permanent: true,
		},
		{
			name: "554 at end of data is not retried",
			reject: func(cmd, _ string, _ int) *smtp.SMTPError {
				if cmd == "DATA" {
					return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "content rejected"}
				}
				return nil
			},
			wantCmd: "DATA", wantCount: 1, wantInErr: "554 5.6.0 content rejected", permanent: true,
		},
		{
			name: "one recipient refused, the other gets the digest once",
			reject: func(cmd, arg string, _ int) *smtp.SMTPError {
				if cmd == "RCPT" && arg == "second@example.org" {
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
				}
				return nil
			},
			delivered: true, wantCmd: "DATA", wantCount: 1, wantInErr: "digest sent to 1 of 2 recipients", partialRcp: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, serverConfig{user: testUser, pass: testPass, reject: tt.reject})
			o := sinkOptions(ts)
			if !tt.partialRcp {
				o.To = o.To[:1]
			}
			sink, err := mailsink.New(o)
			require.NoError(t, err, "New")
			q, errs := newQueue(t, sink, asynclog.Options{MinBackoff: 10 * time.Millisecond, MaxAttempts: 3})
			logger := slog.New(asynclog.NewHandler(q, nil))
			logger.Error("payment failed")
			flushErr := q.Flush(t.Context())

			st := q.Stats()
			assert.Equal(t, tt.wantCount, ts.count(tt.wantCmd), "times the server saw %s", tt.wantCmd)
			reported := errs.all()
			require.NotEmpty(t, reported, "OnError heard of the reply")
			assert.ErrorContains(t, reported[0], tt.wantInErr, "with the server's text")
			var re *mailsink.ReplyError
			assert.ErrorAs(t, reported[0], &re, "a ReplyError is reachable")
			if tt.delivered {
				assert.NoError(t, flushErr, "Flush: delivered")
				assert.Len(t, ts.messages(), 1, "one message arrived")
				assert.Equal(t, uint64(1), st.Delivered, "counted delivered")
			} else {
				assert.Error(t, flushErr, "Flush reports the failure")
				assert.Empty(t, ts.messages(), "nothing arrived")
				assert.Equal(t, uint64(1), st.Failed, "counted failed")
			}
			if tt.wantRetry {
				assert.Equal(t, uint64(1), st.Retries, "retried once")
			} else {
				assert.Zero(t, st.Retries, "not retried")
			}
			assert.Equal(t, tt.permanent, asynclog.IsPermanent(reported[0]), "permanent only for 5xx refusals of the whole digest")
			if tt.partialRcp {
				assert.Equal(t, []string{"oncall@example.com"}, ts.messages()[0].rcpts, "the accepted recipient")
				var pe *asynclog.PartialError
				assert.ErrorAs(t, reported[0], &pe, "reported as a partial success")
			}
		})
	}
}

func TestShutdownNotHeldBySilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	accepted := make(chan net.Conn, 1)
	go func() {
		defer close(accepted)
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // never answers: no greeting, ever
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})

	sink, err := mailsink.New(mailsink.Options{Addr: ln.Addr().String(), From: "a@example.com", To: []string{"b@example.com"}})
	require.NoError(t, err, "New")
	q, errs := newQueue(t, sink, asynclog.Options{WriteTimeout: time.Minute})
	slog.New(asynclog.NewHandler(q, nil)).Error("into the void")

	var held net.Conn
	select {
	case held = <-accepted:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the sink never connected")
	}
	t.Cleanup(func() { held.Close() })

	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	err = q.Shutdown(ctx)
	took := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown says its deadline passed")
	assert.NotContains(t, err.Error(), "ignored cancellation", "the sink honoured cancellation")
	assert.Less(t, took, deadline+time.Second, "Shutdown returned near its deadline, not after WriteTimeout")
	assert.Equal(t, uint64(1), q.Stats().Failed, "the record is counted as lost")
	assert.NotEmpty(t, errs.all(), "the cancelled write was reported")
}

func TestWriteHonoursCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	conns := make(chan net.Conn, 1)
	go func() {
		defer close(conns)
		if c, err := ln.Accept(); err == nil {
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range conns {
			c.Close()
		}
	})
	sink, err := mailsink.New(mailsink.Options{Addr: ln.Addr().String(), From: "a@example.com", To: []string{"b@example.com"}, TLS: mailsink.ImplicitTLS})
	require.NoError(t, err, "New")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sink.Write(ctx, []asynclog.Record{{Message: "x", Encoded: []byte("{}")}}) }()
	var c net.Conn
	select {
	case c = <-conns:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the sink never connected")
	}
	defer c.Close()
	cancel() // the TLS handshake is waiting for a server that never answers
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled, "Write returns ctx's error")
		assert.False(t, asynclog.IsPermanent(err), "a cancelled write is not permanent")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Write ignored cancellation")
	}
}

func TestWriteAfterClose(t *testing.T) {
	sink, err := mailsink.New(mailsink.Options{Addr: "127.0.0.1:1", From: "a@example.com", To: []string{"b@example.com"}})
	require.NoError(t, err, "New")
	require.NoError(t, sink.Close(t.Context()), "Close")
	require.NoError(t, sink.Close(t.Context()), "Close twice")
	err = sink.Write(t.Context(), []asynclog.Record{{Message: "late"}})
	assert.ErrorIs(t, err, mailsink.ErrClosed, "Write after Close")
	assert.True(t, asynclog.IsPermanent(err), "and permanent")
}

func TestMaxMessageBytesLeavesOutRawRecords(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass})
	o := sinkOptions(ts)
	o.MaxMessageBytes = 64 << 10
	sink, err := mailsink.New(o)
	require.NoError(t, err, "New")

	const n = 200
	batch := make([]asynclog.Record, n)
	pad := strings.Repeat("x", 900)
	for i := range batch {
		batch[i] = asynclog.Record{Time: time.Now(), Level: slog.LevelError, Message: fmt.Sprint("big ", i),
			Encoded: []byte(fmt.Sprintf(`{"msg":"big %d","pad":%q}`, i, pad))}
	}
	require.NoError(t, sink.Write(t.Context(), batch), "Write")
	msgs := ts.messages()
	require.Len(t, msgs, 1, "one message")
	assert.LessOrEqual(t, len(msgs[0].data), o.MaxMessageBytes+4096, "the message keeps near its limit")
	p := parse(t, msgs[0].data)
	for i := range n {
		assert.Contains(t, p.body, fmt.Sprintf(" ERROR big %d pad=", i), "every record keeps its readable line")
	}
	assert.Regexp(t, `\(\d+ of 200 raw records left out`, p.body, "says how many raw records are missing")
	sc := bufio.NewScanner(strings.NewReader(string(msgs[0].data)))
	for sc.Scan() {
		assert.LessOrEqual(t, len(sc.Text()), 998, "no line longer than SMTP allows")
	}
}

func TestDigestOptions(t *testing.T) {
	o := mailsink.DigestOptions()
	assert.Equal(t, time.Minute, o.MinInterval, "one email a minute")
	assert.GreaterOrEqual(t, o.BatchSize, 1000, "a large batch")
	assert.GreaterOrEqual(t, o.FlushInterval, time.Second, "a FlushInterval of seconds")
	assert.Equal(t, asynclog.DropOldest, o.OnFull, "DropOldest")
	assert.Equal(t, slog.LevelError, o.KeepLevel.Level(), "Error and above are kept")
	q, err := asynclog.NewQueue(asynclog.SinkFunc(func(context.Context, []asynclog.Record) error { return nil }), o)
	require.NoError(t, err, "the core accepts them")
	assert.NoError(t, q.Close(), "Close")
}

func TestSubject(t *testing.T) {
	long := strings.Repeat("Überweisung fehlgeschlagen ✓ ", 10) // 280 runes
	tests := []struct {
		name  string
		batch []asynclog.Record
		want  string
	}{
		{"one record", []asynclog.Record{{Level: slog.LevelError, Message: "disk full"}}, "[test] ERROR 1 record: disk full"},
		{"highest level, its first message", []asynclog.Record{
			{Level: slog.LevelWarn, Message: "slow"},
			{Level: slog.LevelError, Message: "failed"},
			{Level: slog.LevelError, Message: "failed again"},
		}, "[test] ERROR 3 records: failed"},
		{"zap's Fatal by name", []asynclog.Record{{Level: slog.LevelError, Message: "a"}, {Level: 20, Message: "exiting"}}, "[test] FATAL 2 records: exiting"},
		{"empty message", []asynclog.Record{{Level: slog.LevelError}}, "[test] ERROR 1 record"},
		{"long non-ASCII message, cut and encoded", []asynclog.Record{{Level: slog.LevelError, Message: long}},
			"[test] ERROR 1 record: " + string([]rune(strings.TrimSpace(long))[:120]) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, serverConfig{tls: noTLS})
			o := sinkOptions(ts)
			o.TLS, o.Username, o.Password = mailsink.Plaintext, "", ""
			sink, err := mailsink.New(o)
			require.NoError(t, err, "New")
			for i := range tt.batch {
				tt.batch[i].Encoded = []byte("{}")
			}
			require.NoError(t, sink.Write(t.Context(), tt.batch), "Write")
			msgs := ts.messages()
			require.Len(t, msgs, 1, "one message")
			assert.Equal(t, tt.want, parse(t, msgs[0].data).subject, "decoded subject")
			head, _, _ := strings.Cut(string(msgs[0].data), "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n") {
				assert.LessOrEqual(t, len(line), 78, "header lines are folded: %q", line)
			}
		})
	}
}

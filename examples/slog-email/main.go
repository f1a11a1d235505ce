// Command slog-email shows the usual pattern for error emails: console
// logging for everything, email only for Error and above, as digests.
//
// With no SMTP server given (flag -smtp or $SMTP_ADDR) it starts its own on
// 127.0.0.1, with STARTTLS on a certificate it makes and AUTH PLAIN, sends
// a digest through it, prints the emails that arrived, and exits 0.
//
//	go run .                                          # self-contained
//	SMTP_USER=u SMTP_PASSWORD=p go run . -smtp smtp.example.com:587 -from a@example.com -to b@example.com
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/mailsink"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "slog-email:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("smtp", os.Getenv("SMTP_ADDR"), "SMTP server host:port (default $SMTP_ADDR; empty: start a local one)")
	from := flag.String("from", "Example app <app@example.com>", "sender")
	to := flag.String("to", "oncall@example.com", "recipient")
	mode := flag.String("tls", "starttls", "starttls, tls (implicit, port 465) or plain")
	flag.Parse()

	opts := mailsink.Options{
		Addr:     *addr,
		From:     *from,
		To:       []string{*to},
		Username: os.Getenv("SMTP_USER"),
		Password: os.Getenv("SMTP_PASSWORD"),
		Subject:  "[slog-email]",
	}
	switch *mode {
	case "starttls":
		opts.TLS = mailsink.StartTLS
	case "tls":
		opts.TLS = mailsink.ImplicitTLS
	case "plain":
		opts.TLS = mailsink.Plaintext
	default:
		return fmt.Errorf("unknown -tls %q", *mode)
	}

	var local *localServer
	if opts.Addr == "" {
		var err error
		local, err = startLocalServer()
		if err != nil {
			return err
		}
		defer local.close()
		opts.Addr = local.addr
		opts.TLS = mailsink.StartTLS
		opts.TLSConfig = &tls.Config{RootCAs: local.roots}
		opts.Username, opts.Password = local.user, local.pass
		fmt.Printf("no -smtp given: started a local SMTP server on %s (STARTTLS, AUTH PLAIN)\n\n", local.addr)
	}

	sink, err := mailsink.New(opts)
	if err != nil {
		return err
	}
	qopts := mailsink.DigestOptions()
	qopts.OnError = func(err error) { fmt.Fprintln(os.Stderr, "email:", err) }
	q, err := asynclog.NewQueue(sink, qopts)
	if err != nil {
		return err
	}
	// Close sends the last digest at once, without waiting out MinInterval.
	defer q.Close()

	console := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug})
	email := asynclog.NewHandler(q, &slog.HandlerOptions{Level: slog.LevelError})
	logger := slog.New(fanout{console, email})

	logger.Info("service started", "version", "1.4.2")
	logger.Debug("cache warmed", "entries", 1200)
	logger.Warn("slow upstream", "upstream", "payments", "latency_ms", 850)
	for i := range 5 {
		logger.Error("payment failed", "order", 1000+i, "err", errors.New("card declined"))
	}
	logger.Error("boom\r\nBcc: someone@example.com", "note", "a header injection attempt, shown harmlessly")
	logger.Info("service stopping")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		return fmt.Errorf("deliver the digest: %w", err)
	}
	st := q.Stats()
	fmt.Printf("\nqueue: %d records enqueued, %d delivered, %d failed\n", st.Enqueued, st.Delivered, st.Failed)

	if local == nil {
		fmt.Printf("digest sent through %s to %s\n", opts.Addr, *to)
		return nil
	}
	msgs := local.messages()
	if len(msgs) == 0 {
		return errors.New("no email arrived at the local server")
	}
	for i, m := range msgs {
		fmt.Printf("\n===== email %d of %d (envelope: from %s to %v) =====\n", i+1, len(msgs), m.from, m.rcpts)
		if err := printMessage(os.Stdout, m.data); err != nil {
			return err
		}
	}
	return nil
}

// fanout sends each record to every handler that is enabled for its level.
// (From Go 1.26 on, slog.NewMultiHandler does the same.)
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

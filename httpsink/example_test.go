package httpsink_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// A slog logger whose records go, as NDJSON, to an HTTP endpoint (here a
// loopback server that prints what it receives).
func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n%s", r.Header.Get("Content-Type"), r.URL.Path, body)
	}))
	defer srv.Close()

	sink, err := httpsink.New(srv.URL+"/ingest", httpsink.Options{Format: httpsink.NDJSON})
	if err != nil {
		panic(err)
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{})
	if err != nil {
		panic(err)
	}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger.Info("hello", "user", "ada")
	if err := q.Close(); err != nil { // delivers the record before the output is checked
		panic(err)
	}
	// Output:
	// application/x-ndjson /ingest
	// {"level":"INFO","msg":"hello","user":"ada"}
}

// A collector that drops the repeats of at-least-once delivery by their
// idempotency key. It keeps the first request and then loses its answer
// (it resets the connection), so the queue sends the record again, under
// the same key.
func ExampleOptions_idempotencyHeader() {
	seen := map[string]bool{} // the handler runs once at a time here: one request at a time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Header.Get("Idempotency-Key")
		if seen[key] {
			fmt.Println("dropped a repeat")
			return
		}
		seen[key] = true
		fmt.Printf("kept %s", body)
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close() // the answer is lost
		}
	}))
	defer srv.Close()

	sink, err := httpsink.New(srv.URL, httpsink.Options{IdempotencyHeader: "Idempotency-Key"})
	if err != nil {
		panic(err)
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{OnError: func(error) {}})
	if err != nil {
		panic(err)
	}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: noTime})).Info("order placed")
	if err := q.Close(); err != nil {
		panic(err)
	}
	fmt.Println("delivered", q.Stats().Delivered)
	// Output:
	// kept {"level":"INFO","msg":"order placed"}
	// dropped a repeat
	// delivered 1
}

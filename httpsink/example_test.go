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

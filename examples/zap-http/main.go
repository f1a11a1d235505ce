// Command zap-http logs with zap through an asynclog queue to an
// OTLP/HTTP endpoint, and prints what the endpoint received. It needs no
// outside service: it starts its own endpoint on loopback, which stands in
// for an OpenTelemetry Collector's OTLP receiver (port 4318, path
// /v1/logs). Run it with:
//
//	go run ./examples/zap-http
package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "zap-http:", err)
		os.Exit(1)
	}
}

func run() error {
	// The stand-in collector: it prints each request's log records.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(receive)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	sink, err := httpsink.New("http://"+ln.Addr().String()+"/v1/logs", httpsink.Options{
		Format:      httpsink.OTLP,
		Gzip:        true,
		ServiceName: "zap-http-example",
		Headers:     http.Header{"Authorization": {"Bearer not-a-real-token"}},
	})
	if err != nil {
		return err
	}
	q, err := asynclog.NewQueue(sink, asynclog.Options{})
	if err != nil {
		return err
	}
	defer q.Close() // drains the queue: every line below reaches the endpoint

	logger := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.InfoLevel, q)).Named("shop")
	logger.Info("order placed", zap.String("order", "A-1001"), zap.Int("items", 3), zap.Float64("total", 59.9))
	logger.Warn("stock low", zap.Strings("sku", []string{"X1", "X2"}), zap.Dict("warehouse", zap.String("city", "Lyon"), zap.Int("left", 2)))
	logger.Error("payment declined", zap.Bool("retryable", false), zap.Int64("code", 51))
	logger.Debug("not enabled, never sent")

	// Close now rather than in the defer, to report delivery before exit.
	if err := q.Close(); err != nil {
		return fmt.Errorf("close queue: %w", err)
	}
	st := q.Stats()
	fmt.Printf("delivered %d of %d records\n", st.Delivered, st.Enqueued)
	return nil
}

// receive decodes an OTLP/HTTP JSON logs request and prints its records.
func receive(w http.ResponseWriter, r *http.Request) {
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	var req exportRequest
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rl := range req.ResourceLogs {
		fmt.Printf("POST %s (%s) from %s\n", r.URL.Path, r.Header.Get("Content-Type"), attrText(rl.Resource.Attributes))
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				fmt.Printf("  %-5s sev=%-2d %-17q %s\n", lr.SeverityText, lr.SeverityNumber, lr.Body.StringValue, attrText(lr.Attributes))
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{}`))
}

// exportRequest is the part of an ExportLogsServiceRequest printed here.
type exportRequest struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []keyValue `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			LogRecords []struct {
				SeverityNumber int        `json:"severityNumber"`
				SeverityText   string     `json:"severityText"`
				Body           anyValue   `json:"body"`
				Attributes     []keyValue `json:"attributes"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

type anyValue struct {
	StringValue string          `json:"stringValue"`
	IntValue    json.RawMessage `json:"intValue"`
	DoubleValue json.RawMessage `json:"doubleValue"`
	BoolValue   *bool           `json:"boolValue"`
	ArrayValue  *struct {
		Values []anyValue `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []keyValue `json:"values"`
	} `json:"kvlistValue"`
}

// String shows a value with its OTLP type: "s", 3 (int), 2.5 (double).
func (v anyValue) String() string {
	switch {
	case v.IntValue != nil:
		return strings.Trim(string(v.IntValue), `"`) + "(int)"
	case v.DoubleValue != nil:
		return string(v.DoubleValue) + "(double)"
	case v.BoolValue != nil:
		return fmt.Sprint(*v.BoolValue)
	case v.ArrayValue != nil:
		parts := make([]string, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	case v.KvlistValue != nil:
		return "{" + attrText(v.KvlistValue.Values) + "}"
	}
	return fmt.Sprintf("%q", v.StringValue)
}

func attrText(kvs []keyValue) string {
	parts := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		parts = append(parts, kv.Key+"="+kv.Value.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

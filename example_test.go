package asynclog_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

// A slog logger whose records go through the queue to stdout. The time key
// is dropped so that the output is the same on every run.
func ExampleNewHandler() {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stdout), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()

	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(asynclog.NewHandler(q, &slog.HandlerOptions{ReplaceAttr: noTime}))
	logger.Info("order placed", "id", 42, slog.Group("customer", "country", "NZ"))
	logger.Warn("stock low", "sku", "A-7")

	_ = q.Close() // drain before the output is checked
	// Output:
	// {"level":"INFO","msg":"order placed","id":42,"customer":{"country":"NZ"}}
	// {"level":"WARN","msg":"stock low","sku":"A-7"}
}

// A zap logger on the queue. Fatal, Panic and DPanic entries are written
// synchronously; Sync flushes the queue.
func ExampleNewCore() {
	q, err := asynclog.NewQueue(asynclog.WriterSink(os.Stdout), asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()

	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.LowercaseLevelEncoder})
	logger := zap.New(asynclog.NewCore(enc, zapcore.InfoLevel, q)).With(zap.String("service", "checkout"))
	logger.Info("payment accepted", zap.Int("cents", 1999))
	_ = logger.Sync()
	// Output:
	// {"level":"info","msg":"payment accepted","service":"checkout","cents":1999}
}

// Flush is a barrier; Stats says where every record went.
func ExampleQueue_Stats() {
	var n int
	sink := asynclog.SinkFunc(func(_ context.Context, batch []asynclog.Record) error {
		n += len(batch) // the consumer goroutine is the only caller
		return nil
	})
	q, err := asynclog.NewQueue(sink, asynclog.Options{})
	if err != nil {
		panic(err)
	}
	logger := slog.New(asynclog.NewHandler(q, nil))
	for i := range 1000 {
		logger.Info("tick", "i", i)
	}
	if err := q.Close(); err != nil {
		panic(err)
	}
	s := q.Stats()
	fmt.Println(n, s.Enqueued, s.Delivered, s.Dropped, s.Failed)
	// Output:
	// 1000 1000 1000 0 0
}

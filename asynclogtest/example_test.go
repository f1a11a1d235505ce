package asynclogtest_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
)

// Test what a program logged: log through a queue whose sink is a
// Recorder, wait for the records, and look at them.
func ExampleRecorder() {
	rec := asynclogtest.NewRecorder()
	q, err := asynclog.NewQueue(rec, asynclog.Options{})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	logger := slog.New(asynclog.NewHandler(q, nil))

	logger.Info("order placed", "id", 42)
	logger.Warn("stock low", "item", "tea")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rec.Wait(ctx, 2); err != nil {
		panic(err)
	}
	records, err := rec.Decoded()
	if err != nil {
		panic(err)
	}
	for _, r := range records {
		fmt.Println(r["level"], r["msg"], r["id"], r["item"])
	}
	// Output:
	// INFO order placed 42 <nil>
	// WARN stock low <nil> tea
}

// Test a sink's failure handling: the first two Writes fail, the queue
// retries, and the records arrive once.
func ExampleFlaky() {
	rec := asynclogtest.NewRecorder()
	sink := asynclogtest.Flaky(rec, 2, 0, 1)
	q, err := asynclog.NewQueue(sink, asynclog.Options{MinBackoff: time.Millisecond, OnError: func(error) {}})
	if err != nil {
		panic(err)
	}
	logger := slog.New(asynclog.NewHandler(q, nil))
	logger.Info("survives two failures")
	if err := q.Close(); err != nil {
		panic(err)
	}
	fmt.Println(rec.Messages(), sink.Counts().Failed, q.Stats().Retries)
	// Output:
	// [survives two failures] 2 2
}

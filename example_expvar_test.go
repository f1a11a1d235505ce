package asynclog_test

import (
	"expvar"
	"fmt"
	"io"
	"time"

	"github.com/asynclog/asynclog"
)

// Publish a queue's Stats with the standard library alone: expvar serves
// them as JSON at /debug/vars on http.DefaultServeMux, read at each request.
func ExampleQueue_Stats_expvar() {
	// A long FlushInterval keeps the three records for one Write at Close,
	// so that the figures below are the same on every run.
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{FlushInterval: time.Minute})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	expvar.Publish("asynclog", expvar.Func(func() any { return q.Stats() }))

	w := asynclog.NewWriter(q)
	for range 3 {
		fmt.Fprintln(w, `{"level":"info","msg":"tick"}`)
	}
	_ = q.Close() // drain, so that the figures below are final

	fmt.Println(expvar.Get("asynclog").String())
	// Output:
	// {"Enqueued":3,"Delivered":3,"Dropped":0,"Failed":0,"FellBack":0,"Retries":0,"Queued":0,"Replayed":0,"Damaged":0,"Writes":1}
}

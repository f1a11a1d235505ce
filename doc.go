// Package asynclog makes logging to slow destinations (email, HTTP log
// collectors, a file on a slow disk) safe for the application: the log call
// never waits for the destination, nothing is lost silently, and the last
// lines a program writes survive its exit.
//
// # A record's path
//
// A log call goes through a front end: [NewCore] for zap or [NewHandler] for
// log/slog. The front end encodes the record completely on the caller's
// goroutine (so values are captured at the call) and hands it to a [Queue],
// which copies it into one of a fixed number of slots (Options.Size). One
// consumer goroutine per Queue takes the records in batches of up to
// Options.BatchSize and writes them to a [Sink]: [WriterSink] for any
// io.Writer, the httpsink and mailsink packages, or your own [SinkFunc].
//
//	log call -> encode (caller) -> Queue (bounded) -> consumer -> Sink.Write
//
// # Guarantees
//
//   - Bounded: the queue holds Options.Size records whatever the load. In
//     Block mode (the default) the caller waits for room, up to
//     Options.BlockTimeout; in DropNewest and DropOldest it never waits, except
//     for records at Options.KeepLevel (Error) and above.
//   - No silent loss: every record dropped is counted in [Stats] and
//     announced in the log stream itself, by a WARN record that opens the
//     next batch and says how many were dropped, by level, since when.
//   - Sink failures are retried with backoff (see [Permanent], [RetryAfter],
//     [Partial]), reported to Options.OnError, and never reach the log call;
//     a panic in a Sink is recovered.
//   - [Queue.Flush] is a barrier; [Queue.Shutdown] drains, closes the sink
//     and stops the consumer within its deadline, and says what it could
//     not deliver.
//
// # Exit
//
// Goroutines die with the process: nothing drains the queue when main
// returns. Call Close in main's defer:
//
//	q, err := asynclog.NewQueue(sink, asynclog.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer q.Close()
//	logger := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(cfg), zap.InfoLevel, q))
//
// zap's Fatal, Panic and DPanic are written synchronously, so logger.Fatal
// loses nothing. With Options.ExitHook set, SIGINT and SIGTERM and [Exit]
// drain the queue too, and the process then ends as it would have without
// the hook. The hook cannot help with os.Exit, log.Fatal, a crash, or a
// return from main: defer q.Close() stays the main path.
package asynclog

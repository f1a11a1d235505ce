// Package asynclog makes logging to slow destinations (email, HTTP log
// collectors, a file on a slow disk) safe for the application: the log call
// costs a copy into a bounded queue, not a call to the destination (it waits
// only when the queue is full and Options.OnFull says Block), nothing is lost
// silently, and the last lines a program writes survive its exit.
//
// # A record's path
//
// A log call goes through a front end: [NewCore] for zap, [NewHandler] for
// log/slog, or [NewWriter] for any logger that writes one record per
// io.Writer call (zerolog, logrus, the standard log package). The front end
// encodes the record completely on the caller's goroutine (so values are
// captured at the call) and hands it to a [Queue], which copies it into a
// queue bounded in records (Options.Size) and in bytes (Options.MaxBytes).
// One consumer goroutine per Queue takes the records in batches of up to
// Options.BatchSize and writes them to a [Sink]: [WriterSink] for any
// io.Writer, [SlogSink] or [ZapSink] for a slog.Handler or zapcore.Core you
// already have, the httpsink and mailsink packages, or your own
// [SinkFunc]. The package asynclogtest checks a Sink against the contract.
//
//	log call -> encode (caller) -> Queue (bounded) -> consumer -> Sink.Write
//
// # Guarantees
//
//   - Bounded: the queue holds at most Options.Size records and
//     Options.MaxBytes bytes whatever the load. In Block mode (the default)
//     callers wait for room in arrival order, and nothing is lost while the
//     sink makes progress; only a sink that makes none for
//     Options.BlockTimeout makes records drop, and then without waiting,
//     until a record leaves the queue. In DropNewest and DropOldest the
//     caller does not wait for the sink (only for the queue's lock, held
//     for a reservation or an eviction whose cost does not grow with the
//     records queued), and records at Options.KeepLevel (Error) and above
//     evict lower ones rather than being dropped; they wait, as in Block,
//     only when every queued record is kept. A record larger than MaxBytes
//     is dropped.
//   - No silent loss: every record dropped is counted in [Stats] and
//     announced in the log stream itself, by a WARN record that opens the
//     next batch and says how many were dropped, by level, since when (in
//     the shape of the zap Core's encoder when one feeds the queue).
//   - Sink failures are retried with backoff for Options.RetryFor (5
//     minutes) while new records queue behind them, so a destination that
//     restarts loses nothing unless the queue fills (see [Permanent],
//     [RetryAfter], [Partial], [Delivered]); then the batch is given to
//     Options.Fallback if set, or counted as Failed and announced in the
//     log stream by a failure notice once the sink takes records again.
//     Failures are reported to Options.OnError and never reach the log
//     call; a panic in a Sink is recovered.
//   - [Queue.Flush] is a barrier that says what was lost before it;
//     [Queue.Shutdown] drains, closes the sink and stops the consumer within
//     its ctx, and says what it could not deliver.
//   - Accounting: at every moment Enqueued = Delivered + Dropped + Failed +
//     Queued in [Queue.Stats].
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
//	logger := zap.New(asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.InfoLevel, q))
//
// zap's Fatal, Panic and DPanic are written synchronously: the call returns
// once the record and everything before it are settled, bounded by
// Options.CloseTimeout, so with a live sink logger.Fatal loses nothing. With
// Options.ExitHook set, SIGINT and SIGTERM and [Exit] drain the queue too,
// zap's Fatal flushes every hooked queue, and the process then ends as it
// would have without the hook; what could not be delivered in time is
// counted on stderr. The hook cannot help with os.Exit, log.Fatal, a crash,
// or a return from main: defer q.Close() stays the main path.
//
// For those exits, set Options.Spool to a directory: the queue then keeps
// its records in a memory-mapped file, so that every record the log call
// accepted outlives the process (SIGKILL, an unrecovered panic, os.Exit, a
// return from main without Close), and the next [NewQueue] on the spool
// delivers them first. The batch being written when the process died may
// be delivered twice. With Options.CrashReport, the runtime's report of the
// crash is delivered too, as an Error record, by the next queue on the
// spool. The spool does not protect
// against power loss: the kernel writes the page cache to disk in its own
// time.
//
// # Watching a queue
//
// [Queue.Stats] counts where every record went (Delivered, Dropped, Failed,
// Queued, and Retries, FellBack, Replayed, Damaged); Options.OnError
// receives every error the consumer meets. Flush, Shutdown and Close called
// from the queue's own Sink or OnError return [ErrReentrant] rather than
// wait for themselves.
//
// The repository's docs directory has the guarantees in full, the options,
// the sinks, operating notes, the benchmarks and the design.
package asynclog

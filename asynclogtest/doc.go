// Package asynclogtest helps test code that logs through asynclog, and
// sinks written for it.
//
// It has three parts:
//
//   - [Recorder], a [asynclog.Sink] that keeps a copy of every record it
//     receives, so that a test can ask what its program logged: wait for n
//     records with [Recorder.Wait], look at them with [Recorder.Records],
//     decode their JSON with [Recorder.Decoded].
//   - Fault-injecting sinks that wrap any Sink: [Slow], [Flaky],
//     [Panicking], [Hanging], [NewBlocked], and [Inject], which combines
//     delays, failures, partial refusals, panics and hangs under a seed, so
//     that a run repeats.
//   - [TestSink], a conformance suite for Sink implementations in the spirit
//     of testing/slogtest: it checks the rules of the Sink contract (honour
//     ctx, keep nothing after Write returns, report errors rather than
//     panic, a second Close is harmless) and reports each broken rule as an
//     ordinary test failure that names it. It never hangs on a sink that
//     ignores its ctx and never lets a sink's panic end the test binary.
//
// A sink author's test is one line:
//
//	func TestMySink(t *testing.T) {
//		asynclogtest.TestSink(t, func(t *testing.T) asynclog.Sink {
//			return mysink.New(...)
//		})
//	}
//
// The factory is called once per rule, so that each rule gets a fresh
// sink; a sink that talks to a server should get a real one on loopback
// (httptest.NewServer), as httpsink's own conformance test does.
//
// A test of what a program logs waits on the Recorder, with a deadline,
// rather than sleeping:
//
//	rec := asynclogtest.NewRecorder()
//	q, err := asynclog.NewQueue(rec, asynclog.Options{})
//	...
//	logger := slog.New(asynclog.NewHandler(q, nil))
//	logger.Info("order placed", "id", 42)
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	if err := rec.Wait(ctx, 1); err != nil { ... }
//	records, err := rec.Decoded() // each record as a JSON object
//
// The fault-injecting sinks pass records on to the sink they wrap (nil
// means discard) only when their Write succeeds, so the wrapped sink sees
// every accepted record exactly once; a given seed gives the same sequence
// of outcomes, so a failing run repeats.
//
// The package imports "testing" (for TestSink), as testing/slogtest does;
// link it only into tests.
package asynclogtest

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
// The package imports "testing" (for TestSink), as testing/slogtest does;
// link it only into tests.
package asynclogtest

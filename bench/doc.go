// Command bench compares asynclog with the loggers a user would otherwise
// pick, side by side in one run, on the same record and the same sinks.
//
// Every subject logs one record shape: the message "request served" and five
// fields (method and path strings, an int status, a duration, a remote
// address string). Each subject is adapted to the same in-process sink
// through its own io.Writer or exporter interface: fast (discards), slow
// (every Write costs 1 ms, whatever its size), dead (every Write blocks
// until the sink is released) or file (every Write goes to a real file in
// a temporary directory). The sink counts the records that reach it (a file
// sink, in the file after Close), so every delivered and lost figure is
// counted, not assumed.
//
// The six scenarios are the caller's cost with the fast sink, the caller's
// latency with the slow sink, a dead sink, shutdown into the slow sink,
// drain throughput with two producers into the fast sink, and the caller's
// cost writing a real file (with one, two and eight goroutines). Scenario 1
// also runs zap with the fields prepared by Logger.With, and scenario 5
// zerolog writing to the sink directly, the peers some goals need. The
// program prints one markdown table per scenario, then the goals, the
// hot-path targets of issue 17, each computed from rows of the same run and
// marked met or not with its figures, and writes them, with an SVG chart of
// scenario 2, to the -out directory (results/results.md is this program's
// output, never edited by hand):
//
//	cd bench && go run .            # full run, writes results/
//	cd bench && go run . -smoke     # a few thousand records, for CI
//
// It exits with status 1 if any verification fails: a lossless subject that
// lost records, a subject whose own counters disagree with the sink, or a
// subject whose record lacks one of the five fields. A goal not met does
// not fail the run.
package main

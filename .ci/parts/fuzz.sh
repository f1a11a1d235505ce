#!/usr/bin/env bash
# Fuzz each front-end target for a short, bounded time (one target per
# invocation: -fuzz takes one). The seed corpus in testdata/fuzz already
# runs with the tests (scripts/test-all.sh); this pass looks for new inputs.
# A failing input is written to testdata/fuzz/<Target>/ and fails CI; check
# it in with the fix. FUZZTIME overrides the per-target time.
set -euo pipefail
fuzztime=${FUZZTIME:-15s}
for target in FuzzSlogHandler FuzzZapCore; do
	echo "-- $target for $fuzztime"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s .
done
# The sink adapters' JSON reader and the spool's recovery from damaged files.
for target in FuzzDecodeRecord; do
	echo "-- $target for ${FUZZTIME:-10s}"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-10s}" -fuzzminimizetime 5s .
done
# The JSON scanner those readers share, against encoding/json.
echo "-- FuzzScanner for ${FUZZTIME:-10s}"
go test -run '^$' -fuzz '^FuzzScanner$' -fuzztime "${FUZZTIME:-10s}" -fuzzminimizetime 5s ./internal/jsonscan
# Counted in inputs, not seconds: a wall-clock fuzztime that runs out while
# a worker opens a damaged spool made the coordinator fail with "context
# deadline exceeded" and no input (seen once in CI); 6,000 inputs take
# about 8 s here.
echo "-- FuzzOpenDamaged for ${FUZZOPEN:-6000x}"
go test -run '^$' -fuzz '^FuzzOpenDamaged$' -fuzztime "${FUZZOPEN:-6000x}" -fuzzminimizetime 5s ./internal/spool

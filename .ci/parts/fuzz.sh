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
echo "-- FuzzOpenDamaged for ${FUZZTIME:-10s}"
go test -run '^$' -fuzz '^FuzzOpenDamaged$' -fuzztime "${FUZZTIME:-10s}" -fuzzminimizetime 5s ./internal/spool

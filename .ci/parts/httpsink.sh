#!/usr/bin/env bash
# httpsink: the OTLP compatibility test against the OpenTelemetry
# Collector's own OTLP receiver (nested module httpsink/otlptest, which
# keeps the collector's dependencies out of the main module), a short fuzz
# of the OTLP transcoder, and a run of examples/zap-http (it starts its own
# loopback endpoint and must exit 0). The main module's httpsink tests and
# the example's build already run in .ci/run. Needs only Go and the module
# proxy. Measured on the 2-core VM: 121 s from cold build and module caches
# (3 to 3.5 minutes while other jobs loaded the machine), 20 s warm.
set -euo pipefail
root=$(pwd)
cd "$root/httpsink/otlptest"
go vet ./...
go test -race ./...
cd "$root"
go test -run '^$' -fuzz '^FuzzTranscode$' -fuzztime "${FUZZTIME:-10s}" -fuzzminimizetime 5s ./httpsink
out=$(go run ./examples/zap-http)
echo "$out"
grep -q '^delivered 3 of 3 records$' <<<"$out"

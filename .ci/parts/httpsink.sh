#!/usr/bin/env bash
# httpsink: vet of the nested module httpsink/otlptest (it keeps the
# OpenTelemetry Collector's dependencies out of the main module; its OTLP
# compatibility test against the collector's own OTLP receiver runs in
# scripts/test-all.sh, like the main module's httpsink tests), a short fuzz
# of the OTLP transcoder, and a run of examples/zap-http (it starts its own
# loopback endpoint and must exit 0). The example's build already runs in
# .ci/run. Needs only Go and the module proxy.
set -euo pipefail
root=$(pwd)
cd "$root/httpsink/otlptest"
go vet ./...
cd "$root"
go test -run '^$' -fuzz '^FuzzTranscode$' -fuzztime "${FUZZTIME:-10s}" -fuzzminimizetime 5s ./httpsink
out=$(go run ./examples/zap-http)
echo "$out"
grep -q '^delivered 3 of 3 records$' <<<"$out"

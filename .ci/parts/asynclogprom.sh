#!/usr/bin/env bash
# asynclogprom (nested module: it brings the Prometheus client): gofmt,
# vet, and its tests under -race (the collector checked with the client's
# testutil and scraped through promhttp on loopback). Needs only Go and the
# module proxy.
set -euo pipefail
cd "$(dirname "$0")/../../asynclogprom"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
go test -race -count=1 ./...

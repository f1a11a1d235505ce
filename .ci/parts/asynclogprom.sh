#!/usr/bin/env bash
# asynclogprom (nested module: it brings the Prometheus client): gofmt and
# vet. Its tests (the collector checked with the client's testutil and
# scraped through promhttp on loopback) run in scripts/test-all.sh. Needs
# only Go and the module proxy.
set -euo pipefail
cd "$(dirname "$0")/../../asynclogprom"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

#!/usr/bin/env bash
# bench: the comparative benchmark (nested module bench/). Build it, vet it
# (its tests run in scripts/test-all.sh), then a smoke pass with a few
# thousand records per scenario: it exits non-zero if any delivered count
# or record check fails, so the program cannot rot. About half a minute on
# 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../../bench"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go build -o /dev/null .
go vet ./...
go run . -smoke >/dev/null

#!/usr/bin/env bash
# asynclogotel (nested module: it brings the OpenTelemetry metric API and
# SDK): gofmt, vet, and its tests under -race (the instruments read through
# the SDK's ManualReader). Needs only Go and the module proxy.
set -euo pipefail
cd "$(dirname "$0")/../../asynclogotel"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...
go test -race -count=1 ./...

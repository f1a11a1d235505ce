#!/usr/bin/env bash
# asynclogotel (nested module: it brings the OpenTelemetry metric API and
# SDK): gofmt and vet. Its tests (the instruments read through the SDK's
# ManualReader) run in scripts/test-all.sh. Needs only Go and the module
# proxy.
set -euo pipefail
cd "$(dirname "$0")/../../asynclogotel"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

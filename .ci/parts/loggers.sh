#!/usr/bin/env bash
# internal/loggers (nested module: it brings zerolog, logrus and logr): the
# io.Writer front end under the real loggers (levels, KeepLevel, SyncLevel,
# the flood test, a real zerolog Fatal in a child process) and logr through
# NewHandler. gofmt and vet here; its tests run in scripts/test-all.sh.
# Needs only Go and the module proxy.
set -euo pipefail
cd "$(dirname "$0")/../../internal/loggers"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

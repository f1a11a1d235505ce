#!/usr/bin/env bash
# mailsink (nested module) and its example examples/slog-email (nested
# module). Needs only Go: the tests and the example start their own SMTP
# server on 127.0.0.1.
set -euo pipefail

echo "-- mailsink: gofmt, vet, tests under -race"
(
	cd mailsink
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 ./...
)

echo "-- examples/slog-email: vet, build, run once (local SMTP server, must exit 0)"
(
	cd examples/slog-email
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
	go vet ./...
	bin=$(mktemp -d)/slog-email
	go build -o "$bin" .
	SMTP_ADDR= timeout 60 "$bin" >/dev/null
	echo "slog-email ran and exited 0"
	rm -rf "$(dirname "$bin")"
)

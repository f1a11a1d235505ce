#!/usr/bin/env bash
# mailsink (nested module) and its example examples/slog-email (nested
# module): gofmt and vet (their tests run in scripts/test-all.sh), and one
# run of the example. Needs only Go: the example starts its own SMTP
# server on 127.0.0.1.
set -euo pipefail

echo "-- mailsink: gofmt, vet"
(
	cd mailsink
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
	go vet ./...
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

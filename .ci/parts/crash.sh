#!/usr/bin/env bash
# examples/crash: a program that panics on purpose, run again on its spool,
# must deliver its last lines and its own crash report. Needs only Go.
set -euo pipefail
out=$(go run ./examples/crash)
echo "$out" | cut -c1-160
grep -q '"msg":"about to fail"' <<<"$out"
grep -q '"msg":"asynclog: the previous run crashed"' <<<"$out"
grep -q 'assignment to entry in nil map' <<<"$out"
grep -q '^replayed 5 records from the first run' <<<"$out"

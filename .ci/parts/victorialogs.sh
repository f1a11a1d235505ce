#!/usr/bin/env bash
# victorialogs: httpsink against a real log backend. Builds VictoriaLogs
# (go install, into a cache directory under $HOME that reruns reuse), then
# runs TestVictoriaLogs with ASYNCLOG_VICTORIALOGS set: the test starts the
# binary on a loopback port with a storage directory of its own, ships
# records through httpsink as NDJSON (/insert/jsonline), OTLPProtobuf
# (/insert/opentelemetry/v1/logs) and ElasticBulk
# (/insert/elasticsearch/_bulk), reads them back through
# /select/logsql/query and stops the process. Without the variable (the
# main module's go test ./...) the test is skipped; here it must run and
# pass, which the last check makes sure of. Needs Go and the module proxy
# (a C compiler, if there is one, builds VictoriaLogs' zstd with cgo).
# Measured on the 2-core VM: the build from empty module and build caches
# took 2 min 29 s (with other jobs loading the machine), 34 s with only
# its modules missing; warm, the part takes about 10 s.
set -euo pipefail
version=v1.52.2
dir="${ASYNCLOG_CACHE:-${HOME:-/tmp}/.cache/asynclog}/victorialogs-$version"
bin="$dir/victoria-logs"
if [ ! -x "$bin" ]; then
	echo "building VictoriaLogs $version into $dir"
	mkdir -p "$dir"
	GOBIN="$dir" go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$version"
fi
out=$(ASYNCLOG_VICTORIALOGS="$bin" go test -race -count=1 -run '^TestVictoriaLogs$' -v ./httpsink 2>&1) || {
	echo "$out"
	exit 1
}
echo "$out" | grep -E '^(---|    ---|ok|PASS|FAIL)'
for sub in NDJSON OTLPProtobuf ElasticBulk; do
	grep -q -- "--- PASS: TestVictoriaLogs/$sub " <<<"$out" || {
		echo "TestVictoriaLogs/$sub did not run and pass"
		exit 1
	}
done

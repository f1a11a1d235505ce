#!/usr/bin/env bash
# Runs the tests of every Go module in this repository: `go test -race ./...`
# in the root module and in each nested module (each directory below the
# root with a go.mod, found here, so that a new module is not forgotten;
# directories Go itself ignores, testdata, vendor and those starting with
# . or _, are skipped). Then, without -race, the allocation tests: tests
# whose name contains Alloc, in each package with a race_off_test.go, skip
# under -race because the race detector allocates.
#
# Usage: scripts/test-all.sh [go test flags]     e.g. -short, -v, -count=1
#
# -race needs cgo, and so a C compiler (gcc or clang) on PATH. Without one
# the tests run without -race, after a warning. With CI set (CI runs
# `CI=true scripts/test-all.sh`), a missing C compiler is an error instead,
# and -count=1 is added so that no result comes from the test cache.
#
# Every module is tested even if an earlier one fails; the exit status is
# non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

flags=("$@")
if [ -n "${CI:-}" ]; then
	flags=(-count=1 "${flags[@]}")
fi

race=-race
if [ "$(go env CGO_ENABLED)" != 1 ]; then
	if [ -n "${CI:-}" ]; then
		echo "test-all: -race needs cgo, and cgo is off (no C compiler on PATH, or CGO_ENABLED=0); CI must run -race" >&2
		exit 1
	fi
	race=
fi
# warn says loudly, at the start and again at the end, that -race is off.
warn() {
	[ -z "$race" ] || return 0
	cat >&2 <<'EOF'
################################################################################
# test-all: WARNING: the tests run WITHOUT the race detector.
# -race needs cgo, and cgo is off: no C compiler on PATH (or CGO_ENABLED=0).
# Install one (Debian/Ubuntu: apt-get install gcc) to run them with -race.
################################################################################
EOF
}
warn

# The modules, the root first.
modules=(.)
while IFS= read -r mod; do
	modules+=("$(dirname "${mod#./}")")
done < <(find . -mindepth 1 -type d \( -name '.*' -o -name '_*' -o -name testdata -o -name vendor \) -prune \
	-o -type f -name go.mod ! -path ./go.mod -print | sort)
echo "test-all: ${#modules[@]} modules: ${modules[*]}"

failed=()
run() { # run <module> <what> <command...>: in the module, timed; failures recorded
	local mod=$1 what=$2 start
	shift 2
	start=$SECONDS
	echo "== $mod: $what"
	if (cd "$mod" && "$@"); then
		echo "-- $mod: $what: ok in $((SECONDS - start)) s"
	else
		echo "-- $mod: $what: FAILED after $((SECONDS - start)) s"
		failed+=("$mod ($what)")
	fi
}

for mod in "${modules[@]}"; do
	run "$mod" "$(echo go test $race "${flags[@]}" ./...)" go test $race "${flags[@]}" ./...
done

# allocpass: the Alloc tests of the module's packages that have a
# race_off_test.go, without -race; a package with none is an error, so
# that a renamed test is not silently left out.
allocpass() {
	local pkgs=() dir path out
	while read -r dir path; do
		if [ -e "$dir/race_off_test.go" ]; then pkgs+=("$path"); fi
	done < <(go list -f '{{.Dir}} {{.ImportPath}}' ./...)
	[ ${#pkgs[@]} -gt 0 ] || return 0
	out=$(go test -count=1 "${flags[@]}" -v -run Alloc "${pkgs[@]}" 2>&1) || { echo "$out"; return 1; }
	grep -E '^(--- |ok |FAIL|testing: warning)' <<<"$out"
	if grep -q 'no tests to run' <<<"$out"; then
		echo "a package with race_off_test.go has no test named *Alloc*: name its allocation tests so" >&2
		return 1
	fi
}

if [ -n "$race" ]; then
	for mod in "${modules[@]}"; do
		if [ -n "$(find "$mod" -name race_off_test.go -print -quit)" ]; then
			run "$mod" "allocation tests without -race" allocpass
		fi
	done
fi

warn
if [ ${#failed[@]} -gt 0 ]; then
	echo "test-all: FAILED: ${failed[*]}"
	exit 1
fi
echo "test-all: all ${#modules[@]} modules passed${race:+ under -race}"

#!/usr/bin/env bash
# Runs libFuzzer targets for a set time each, from their seed corpora.
#   tests/fuzz/run.sh [-s SECONDS] [BUILD_DIR] [TARGET...]
# Each target starts from a copy of tests/fuzz/corpus/<name> (libFuzzer adds
# to the corpus it is given: the seeds stay as they are). A crash, a leak, a
# failed invariant or a timeout leaves its input in build/fuzz/findings/<name>/
# and fails the run; each finding belongs in the seed corpus (and, when it is
# a bug, in a fix with a unit test). Prints one line a target: runs, coverage,
# corpus growth.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=180
if [ "${1:-}" = "-s" ]; then
	seconds=$2
	shift 2
fi
build=${1:-build}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for z in "$build"/fuzz/fuzz_*; do
		[ -x "$z" ] && targets+=("$(basename "$z")")
	done
fi
failed=0
for name in "${targets[@]}"; do
	z="$build/fuzz/$name"
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	findings="$build/fuzz/findings/$name"
	corpus=$(mktemp -d)
	mkdir -p "$findings"
	[ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
	before=$(find "$corpus" -type f | wc -l)
	if "$z" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$findings/" "$corpus" >"$corpus.log" 2>&1; then
		status=ok
	else
		status=FAILED
		failed=$((failed + 1))
		grep -A30 -m1 -E '^==[0-9]+==|deadly signal|ERROR: libFuzzer' "$corpus.log" | head -n 40
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus.log")
	cov=$(grep -o 'cov: [0-9]*' "$corpus.log" | tail -n1)
	after=$(find "$corpus" -type f | wc -l)
	echo "$status: $name: ${runs:-?} runs in ${seconds}s, $cov, corpus $before -> $after inputs"
	rm -rf "$corpus" "$corpus.log"
done
[ "$failed" -eq 0 ]

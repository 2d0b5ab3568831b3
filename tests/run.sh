#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed, N skipped".
#   tests/run.sh [BUILD_DIR]
# Unit tests (cmocka, ASan/UBSan), short libFuzzer runs, the scaler simulator's
# check, then the pytest suites (emulator self-tests, integration tests of the
# real static bootstraps, then the terraform/ checks, which compare each role
# with the AWS actions the integration tests saw each function call: recorded
# in $build/iam-actions.txt).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export DEVCLOUD_BUILD=$build
passed=0 failed=0 skipped=0
fuzz_seconds=${FUZZ_SECONDS:-10}

echo "== unit tests (cmocka, ASan/UBSan)"
for t in "$build"/asan/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1)
	rc=$?
	# a binary may run several groups: add up every group's summary
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # a crash or a sanitizer report outside any test
	fi
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "$out" | grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' | tail -n 60
		echo "FAILED: $(basename "$t") ($f failed, exit $rc)"
	else
		echo "ok: $(basename "$t") ($p tests)"
	fi
done

echo "== fuzzing (${fuzz_seconds}s each)"
for z in "$build"/fuzz/fuzz_*; do
	[ -x "$z" ] || continue
	name=$(basename "$z")
	corpus=$(mktemp -d)
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	[ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
	if "$z" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$corpus/" "$corpus" >"$corpus.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok: $name ($(grep -o 'Done [0-9]* runs' "$corpus.log" | tail -n1))"
	else
		failed=$((failed + 1))
		tail -n 40 "$corpus.log"
		echo "FAILED: $name"
	fi
	rm -rf "$corpus" "$corpus.log"
done

echo "== scaler simulator (bench/scaler_sim --check)"
sim="$build/bench/scaler_sim"
if [ ! -x "$sim" ]; then
	failed=$((failed + 1))
	echo "FAILED: $sim is not built"
elif out=$("$sim" --check 2>&1); then
	passed=$((passed + 1))
	echo "ok: scaler_sim ($(grep -o 'goal, ours.*' <<<"$out"))"
else
	failed=$((failed + 1))
	echo "$out"
	echo "FAILED: scaler_sim"
fi

echo "== integration, emulator and terraform tests (pytest)"
rm -f "$build"/pytest-*.xml
case $build in /*) record=$build/iam-actions.txt ;; *) record=$PWD/$build/iam-actions.txt ;; esac
export DEVCLOUD_IAM_RECORD=$record
: >"$DEVCLOUD_IAM_RECORD"
# The slow suites (they mostly wait: on retries, slow answers, valgrind) run
# beside the others, in a second pytest; terraform/ comes last, once every
# function's AWS calls are recorded.
slow="tests/integration/test_fault_matrix.py tests/integration/test_lost_answer.py
tests/integration/test_memory.py"
ignore=$(for f in $slow; do printf -- '--ignore=%s ' "$f"; done)
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$build/pytest-slow.xml" $slow \
	>"$build/pytest-slow.log" 2>&1 &
slow_pid=$!
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$build/pytest-main.xml" \
	tests/emulator tests/integration $ignore
wait "$slow_pid"
echo "-- $slow"
cat "$build/pytest-slow.log"
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$build/pytest-terraform.xml" \
	tests/terraform
for junit in "$build/pytest-main.xml" "$build/pytest-slow.xml" "$build/pytest-terraform.xml"; do
	t='' f='' e='' s=''
	[ -s "$junit" ] && read -r t f e s < <(/usr/bin/python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tot = lambda k: sum(int(s.get(k, 0)) for s in suites)
print(tot("tests"), tot("failures"), tot("errors"), tot("skipped"))
PY
)
	if [ -z "${t:-}" ]; then
		failed=$((failed + 1)) # pytest did not even write its report
	else
		passed=$((passed + t - f - e - s)) failed=$((failed + f + e)) skipped=$((skipped + s))
	fi
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

#!/bin/bash
# Runs the Check programs named as arguments (from $BUILD/tests) and every
# tests/shell/*.sh, in a private TMPDIR.  Whatever they leave behind (mounts
# of a crashed test, stray processes) is unmounted and killed on exit, also
# when a test fails.  Ends with the line "Tests: N passed, M failed".
set -u
BUILD=${BUILD:-build}
export BUILD
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/idict-tests-XXXXXX")
chmod 755 "$work" # the permission tests reach mounts below it as another user
export TMPDIR=$work

cleanup() {
	# Mounts below $work, deepest first.
	awk -v w="$work" '$2 ~ "^" w {print $2}' /proc/mounts | sort -r | while read -r m; do
		echo "run-tests: unmounting leftover $m" >&2
		fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
failures=() # named again at the end, where a log's tail shows them
for t in "$@"; do
	echo "== $t"
	out=$("$BUILD/tests/$t" 2>&1)
	status=$?
	printf '%s\n' "$out"
	# Check's summary: "100%: Checks: 25, Failures: 0, Errors: 0"
	summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n1)
	if [ -z "$summary" ]; then
		echo "run-tests: $t printed no summary (exit $status)"
		failed=$((failed + 1))
		failures+=("$t: no summary (exit $status)")
		continue
	fi
	checks=$(echo "$summary" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	bad=$(echo "$summary" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/')
	bad=$((bad))
	passed=$((passed + checks - bad))
	failed=$((failed + bad))
	# Check's failure lines: "FILE:LINE:F:SUITE:TEST:N: message"
	while IFS= read -r line; do
		failures+=("$t: $line")
	done < <(printf '%s\n' "$out" | grep -E '^[^:]+:[0-9]+:[FE]:')
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1))
		failures+=("$t: exited $status")
	fi
done

for s in "$here"/shell/*.sh; do
	echo "== $(basename "$s")"
	out=$(bash "$s" 2>&1)
	status=$?
	printf '%s\n' "$out"
	ok=$(printf '%s\n' "$out" | grep -c '^ok - ')
	nok=$(printf '%s\n' "$out" | grep -c '^not ok - ')
	passed=$((passed + ok))
	failed=$((failed + nok))
	while IFS= read -r line; do
		failures+=("$(basename "$s"): $line")
	done < <(printf '%s\n' "$out" | grep '^not ok - ')
	if [ "$status" -ne 0 ] && [ "$nok" -eq 0 ]; then
		echo "run-tests: $(basename "$s") exited $status"
		failed=$((failed + 1))
		failures+=("$(basename "$s"): exited $status")
	fi
done

for f in "${failures[@]}"; do
	echo "FAILED: $f"
done
echo "Tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

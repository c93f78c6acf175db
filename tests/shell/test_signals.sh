#!/bin/bash
# The signal helper as timeout(1), a batch scheduler and a closed ssh session
# use it: `timeout 2 idict-demo --checkpoint ck mnt` sends SIGTERM to the demo
# and then to its process group; both are one request to stop cleanly, so
# every run ends with the final checkpoint and the final update.  SIGHUP is a
# clean stop too.  (A signal more than 1 s after the first ends the process
# at once: tests/shell/test_demo.sh.)  Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
RUNS=${SIGNAL_RUNS:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-signals-test-XXXXXX")
mnt=$dir/mnt
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT

# Waits for the mount, then reads `updates` into $dir/updates.out in the
# background (sets $reader).  Returns 1 if the mount did not appear.
follow_updates() {
	for _ in $(seq 200); do
		[ -e "$mnt/ctl/status" ] && break
		sleep 0.05
	done
	[ -e "$mnt/ctl/status" ] || return 1
	cat "$mnt/updates" >"$dir/updates.out" 2>/dev/null &
	reader=$!
	pids+=("$reader")
}

# Checks that the run that just ended left the final checkpoint and that the
# reader saw the final update; prints why not.  Returns 1 if not.
ended_cleanly() {
	local why=
	wait_pid "$reader" 20 || why="the reader of updates did not end"
	[ -n "$why" ] || grep -Eq '^[0-9]+ final' "$dir/updates.out" || why="no final update"
	[ -n "$why" ] || [ -s "$dir/ck" ] || why="no checkpoint"
	[ -n "$why" ] || grep -q "saved the state to" "$dir/demo.out" || why="no save message"
	[ -n "$why" ] || ! grep -q " $mnt " /proc/mounts || why="still mounted"
	[ -n "$why" ] || ! ls -A "$dir" | grep -q idict-tmp || why="a temporary file was left"
	if [ -n "$why" ]; then
		echo "# $why; demo output:"
		sed 's/^/#   /' "$dir/demo.out"
		return 1
	fi
}

# ---- timeout 2: SIGTERM to the demo, then to its group ----
good=0
for run in $(seq "$RUNS"); do
	rm -f "$dir/ck" "$dir/updates.out" "$dir/demo.out"
	# -k: bounded even if the clean stop hung.
	timeout -k 20 2 "$DEMO" --delay 10 --linger 5 --checkpoint "$dir/ck" "$mnt" \
		>"$dir/demo.out" 2>&1 &
	runner=$!
	pids+=("$runner")
	if ! follow_updates; then
		echo "# run $run: the demo did not mount"
		wait "$runner"
		continue
	fi
	wait "$runner"
	status=$?
	if [ "$status" -ne 124 ]; then
		echo "# run $run: timeout exited $status, not 124 (the demo ended by the signal?)"
		continue
	fi
	ended_cleanly && good=$((good + 1))
done
check "timeout 2 idict-demo --checkpoint: final checkpoint and final update in $good of $RUNS runs" \
	test "$good" = "$RUNS"

# ---- SIGHUP (a closed ssh session) ----
rm -f "$dir/ck" "$dir/updates.out" "$dir/demo.out"
"$DEMO" --delay 10 --linger 5 --checkpoint "$dir/ck" "$mnt" >"$dir/demo.out" 2>&1 &
demo=$!
pids+=("$demo")
if follow_updates; then
	sleep 0.2
	kill -HUP "$demo"
	wait_pid "$demo" 30
	check "SIGHUP: the demo stops cleanly and exits 0" test "${exit_status:-1}" = 0
	check "SIGHUP: final checkpoint and final update" ended_cleanly
else
	not_ok "SIGHUP: the demo did not mount"
fi

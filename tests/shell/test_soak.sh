#!/bin/bash
# Soak test: the demo updating as fast as it can (--delay 0 --tolerance 0)
# while $BUILD/tests/soak (tests/soak.c) runs 32 readers of keys, 8 readers
# of `updates`, 4 writers of params/alpha and one thread toggling ctl/pause
# for SOAK_SECONDS (default 10), then terminates it through ctl/terminate.
# The soak program checks what the clients saw; this script checks that the
# demo exited 0, unmounted, and (built with SANITIZE=address,undefined)
# reported no leak or error.  Then it measures the computation's slowdown:
# the same number of steps with no readers and under the load (less the
# pause toggling, which stops the loop on purpose), printed as "# soak: ...".
# Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
SOAK=$(cd "$BUILD/tests" && pwd)/soak
seconds=${SOAK_SECONDS:-10}
points=64
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-soak-XXXXXX")
mnt=$dir/mnt
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT


# Starts the demo in the background (stdout in $dir/demo.out, stderr in
# $dir/demo.err); sets $demo.
start_demo() {
	"$DEMO" --delay 0 --tolerance 0 --points "$points" --linger 30 "$@" "$mnt" \
		>"$dir/demo.out" 2>"$dir/demo.err" &
	demo=$!
	pids+=("$demo")
	for _ in $(seq 200); do
		[ -e "$mnt/ctl/status" ] && return 0
		sleep 0.05
	done
	echo "demo did not mount; its output:" >&2
	cat "$dir/demo.out" "$dir/demo.err" >&2
	return 1
}


# Runs the soak program with "$@" on a demo started with $demo_args; $1 is a
# label for the ok lines.  Sets $rate to the steps per second it measured.
soak_run() {
	local label=$1
	shift
	"$SOAK" --points "$points" "$@" "$mnt" >"$dir/soak.out" 2>&1
	local rc=$?
	sed "s/^\(\(not \)\?ok - soak\):/\1 ($label):/" "$dir/soak.out"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' "$dir/soak.out"; then
		not_ok "soak ($label): the soak program exited $rc"
	fi
	rate=$(sed -n 's/^# soak-rate: //p' "$dir/soak.out")
	if ! wait_pid "$demo" 60; then
		kill -9 "$demo" 2>/dev/null
		wait_pid "$demo" 10
		exit_status=timeout
	fi
	check "soak ($label): the demo exited 0 (status ${exit_status:-?})" test "${exit_status:-1}" = 0
	for _ in $(seq 100); do grep -q " $mnt " /proc/mounts || break; sleep 0.05; done
	check "soak ($label): the mount is gone" bash -c "! grep -q ' $mnt ' /proc/mounts"
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	# Under SANITIZE=address,undefined, LeakSanitizer reports at exit.
	if grep -qE 'Sanitizer|runtime error' "$dir/demo.err" "$dir/demo.out"; then
		not_ok "soak ($label): the demo's sanitizers reported (leak or error)"
		grep -E -A 20 'Sanitizer|runtime error' "$dir/demo.err" | head -n 60 | sed 's/^/# /'
	else
		ok "soak ($label): no sanitizer report (leak or error) from the demo"
	fi
}

# ---- the soak: full load for $seconds, then ctl/terminate ----
start_demo --steps 1000000000 || exit 1
soak_run "${seconds} s" --seconds "$seconds"
check "soak (${seconds} s): the demo stopped because it was terminated" \
	grep -q "terminated after" "$dir/demo.out"
loaded_rate=${rate:-0}

# ---- slowdown: the same steps with no readers, then under the load ----
# About 3 s of the loaded run, at least 20000 steps.
if [ "$(awk -v r="$loaded_rate" 'BEGIN { print (r > 0) }')" != 1 ]; then
	echo "# soak: slowdown not measured: the soak measured no steps"
	exit 0
fi
steps=$(awk -v r="$loaded_rate" 'BEGIN { s = int(r * 3); print (s < 20000 ? 20000 : s) }')
start_demo --steps "$steps" || exit 1
soak_run "no readers" --until-finished --readers 0 --streams 0 --writers 0 --pausers 0
idle=${rate:-0}
start_demo --steps "$steps" || exit 1
soak_run "loaded" --until-finished --pausers 0
busy=${rate:-0}
awk -v n="$steps" -v a="$idle" -v b="$busy" 'BEGIN {
	printf "# soak: slowdown over %d steps: no readers %.0f steps/s, 32 readers + 8 streams + 4 writers %.0f steps/s, ratio %.2f\n",
		n, a, b, (b > 0 ? a / b : 0) }'

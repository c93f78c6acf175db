#!/bin/bash
# The examples in contrib/examples/ (sweep.c and sweep.py: the dictionary
# operations in the loop of mmf.async.server), each run on a mount and
# driven from the shell with real cat, echo, ls and head: pause, a refused
# and an accepted write, a restart (pop, clear, set_default: the tolerance
# carried over, the parameters writable again, the removed results listed
# in an update line), then the sweep to its end (update, copy, foreach in
# the final callback).  Prints "ok - ..." / "not ok - ...".
#
# The Python example loads the plain build's build/libidict.so, also under
# `make check-sanitize` (see test_python.sh).
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-examples-test-XXXXXX")
mnt=$dir/mnt
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT

# Waits up to 30 s for COMMAND... to succeed.
wait_for() {
	for _ in $(seq 600); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# drive NAME COMMAND...: runs the example COMMAND... on $mnt and drives it.
drive() {
	local name=$1
	shift
	"$@" --points 16 --delay 2 --linger 10 "$mnt" >"$dir/$name.out" 2>&1 &
	local prog=$!
	pids+=("$prog")
	if ! wait_for test -e "$mnt/params/restart"; then
		not_ok "$name: mounts and publishes its parameters"
		cat "$dir/$name.out" >&2
		return 1
	fi
	check "$name: ls shows the run's keys and params/" \
		bash -c "ls '$mnt' | tr '\n' ' ' | grep -q 'alpha .*message params .*residual .*step sweep u '"
	check "$name: set_default's tolerance reads 0.0001" test "$(cat "$mnt/params/tolerance")" = 0.0001
	check "$name: the first run of the first sweep: alpha 0.1" \
		test "$(cat "$mnt/sweep") $(cat "$mnt/alpha")" = "1 0.1"
	check "$name: the first run ends with a result (results/0.1)" \
		wait_for test -s "$mnt/results/0.1"

	echo 1 >"$mnt/ctl/pause"
	check "$name: a tolerance of 0 is refused by the check" \
		bash -c "! echo 0 2>/dev/null >'$mnt/params/tolerance'"
	echo 0.0002 >"$mnt/params/tolerance"
	check "$name: a tolerance of 0.0002 is taken" test "$(cat "$mnt/params/tolerance")" = 0.0002
	# Opened here, before the next update (the cursor starts at the open).
	exec 3<"$mnt/updates"
	timeout 60 cat <&3 >"$dir/$name.updates" &
	local reader=$!
	pids+=("$reader")
	exec 3<&-
	echo true >"$mnt/params/restart"
	echo 0 >"$mnt/ctl/pause"

	check "$name: the restart starts sweep 2" wait_for bash -c "[ \"\$(cat '$mnt/sweep')\" = 2 ]"
	check "$name: ... carrying the client's tolerance over (pop, clear, set_default)" \
		test "$(cat "$mnt/params/tolerance")" = 0.0002
	check "$name: ... params/restart is false and writable again" \
		bash -c "[ \"\$(cat '$mnt/params/restart')\" = false ] && [ -w '$mnt/params/restart' ] &&
			[ -w '$mnt/params/tolerance' ]"

	wait_pid "$prog" 60
	check "$name: the sweep ends, exit 0" test "${exit_status:-1}" = 0
	check "$name: the final callback prints five results (foreach / items)" \
		test "$(grep -c '^sweep: alpha 0\.[1-5]: [0-9]* steps$' "$dir/$name.out")" = 5
	check "$name: the best run, kept with copy, is alpha 0.5 of sweep 2" \
		grep -q '^sweep: best alpha 0.5 in [0-9]* steps (sweep 2, 1[0-9] keys kept)$' \
		"$dir/$name.out"
	wait_pid "$reader" 30
	check "$name: the restart's update line lists the removed results/0.1 and the new sweep" \
		bash -c "grep ' update .*results/0\.1.* sweep' '$dir/$name.updates' | grep -q ' params/tolerance '"
	check "$name: a reader of updates got the final line" grep -q ' final ' "$dir/$name.updates"
	check "$name: unmounted" bash -c "! grep -q ' $mnt ' /proc/mounts"
}

# ---- C ----
if ! [ -x "$root/$BUILD/examples/sweep" ]; then
	not_ok "$BUILD/examples/sweep is built (make)"
else
	drive "sweep.c" "$root/$BUILD/examples/sweep"
fi

# ---- Python ----
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
	for p in /usr/bin/python3 python3; do
		if "$p" -c 'import numpy' 2>/dev/null; then PYTHON=$p; break; fi
	done
fi
if [ -z "$PYTHON" ]; then
	not_ok "python3 with numpy is installed (contrib/install-deps.sh)"
	exit 1
fi
if ! make -C "$root" --no-print-directory SANITIZE= BUILD=build build/libidict.so >"$dir/make.out" 2>&1 &&
	! [ -e "$root/build/libidict.so" ]; then
	cat "$dir/make.out" >&2
	not_ok "build/libidict.so builds"
	exit 1
fi
export IDICT_LIBRARY=$root/build/libidict.so
export PYTHONPATH=$root/contrib/python${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1
unset LD_PRELOAD
drive "sweep.py" "$PYTHON" "$root/contrib/examples/sweep.py"

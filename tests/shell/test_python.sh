#!/bin/bash
# The Python binding (contrib/python/idict.py): its API without a mount
# (tests/python/test_api.py), then a Python computation
# (tests/python/computation.py) mounted and driven from a shell with real
# cat, echo, head and numpy.loadtxt.  Prints "ok - ..." / "not ok - ...".
#
# Python always loads the plain build's build/libidict.so, also under
# `make check-sanitize` (BUILD=build/sanitize): an ASan-built libidict.so
# cannot be loaded into an uninstrumented python3 without LD_PRELOAD of
# libasan.  The sanitizers cover the same C code through the other tests.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-python-test-XXXXXX")
mnt=$dir/mnt
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT


# Debian's python3 with python3-numpy (contrib/install-deps.sh), even when
# another python3 comes first in PATH.
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

# SANITIZE= and BUILD=build: the environment of `make check-sanitize` would
# otherwise select the sanitized build.
if ! make -C "$root" --no-print-directory SANITIZE= BUILD=build build/libidict.so >"$dir/make.out" 2>&1 &&
	! [ -e "$root/build/libidict.so" ]; then
	cat "$dir/make.out" >&2
	not_ok "build/libidict.so builds"
	exit 1
fi
export IDICT_LIBRARY=$root/build/libidict.so
export PYTHONPATH=$root/contrib/python${PYTHONPATH:+:$PYTHONPATH}
unset LD_PRELOAD
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

# ---- the API, without a mount ----
"$PYTHON" "$root/tests/python/test_api.py" 2>"$dir/api.err"
rc=$?
check "python: test_api.py exits 0" test "$rc" = 0
check "python: an exception in a callback is reported on stderr" \
	grep -q "ZeroDivisionError" "$dir/api.err"
"$PYTHON" "$root/tests/python/test_mapping.py"
check "python: test_mapping.py (IDict as a MutableMapping) exits 0" test "$?" = 0

# ---- without numpy, and without the library ----
# numpy blocked: scalars and strings work, an array says what is missing.
"$PYTHON" -c '
import sys
sys.modules["numpy"] = None  # "import numpy" now fails
import idict
d = idict.IDict()
d["x"], d["n"], d["s"] = 0.5, 7, "text"
assert (d["x"], d["n"], d["s"]) == (0.5, 7, "text")
try:
    d["u"] = [1.0, 2.0]
except ImportError as e:
    print(e)
' >"$dir/nonumpy.out" 2>&1
rc=$?
check "python: without numpy, scalar and string keys work" test "$rc" = 0
check "... and an array names python3-numpy" grep -q "need numpy (Debian: apt-get install python3-numpy)" \
	"$dir/nonumpy.out"
# The module in a source tree that was never built.
mkdir -p "$dir/tree/contrib/python"
cp "$root/contrib/python/idict.py" "$dir/tree/contrib/python/"
if ! /sbin/ldconfig -p | grep -q libidict; then
	env -u IDICT_LIBRARY PYTHONPATH="$dir/tree/contrib/python" "$PYTHON" -c 'import idict' \
		>"$dir/nolib.out" 2>&1
	check "python: without libidict.so, the import error says to run make" \
		grep -q 'ImportError: idict: cannot load libidict (in the source tree, run `make` first' \
		"$dir/nolib.out"
fi
IDICT_LIBRARY=$dir/nowhere.so "$PYTHON" -c 'import idict' >"$dir/nolib2.out" 2>&1
check "python: a wrong IDICT_LIBRARY is named in the import error" \
	grep -q "IDICT_LIBRARY is '$dir/nowhere.so'" "$dir/nolib2.out"

# ---- a Python computation, through the mount ----

# Starts tests/python/computation.py in the background; sets $comp.
start_comp() {
	"$PYTHON" "$root/tests/python/computation.py" "$mnt" "$dir" "$@" >>"$dir/comp.out" 2>&1 &
	comp=$!
	pids+=("$comp")
	for _ in $(seq 200); do
		[ -e "$mnt/ctl/status" ] && [ -e "$mnt/step" ] && return 0
		sleep 0.05
	done
	echo "the computation did not mount; its output:" >&2
	cat "$dir/comp.out" >&2
	return 1
}


# Waits up to 10 s for the file $1 to read something other than $2.
wait_change() {
	for _ in $(seq 200); do
		[ "$(cat "$1" 2>/dev/null)" != "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# Waits up to 10 s for the file $1 to read $2.
wait_value() {
	for _ in $(seq 200); do
		[ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

start_comp || exit 1

check "cat step prints an integer" bash -c "grep -Eqx '[0-9]+' '$mnt/step'"
check "cat residual prints one number" bash -c "grep -Eqx '[-+0-9.e]+' '$mnt/residual'"
check "u (a numpy array) has one line per point" test "$(wc -l <"$mnt/u")" = 64
check "the string key reads as it is" grep -qx running "$mnt/message"
check "numpy.loadtxt of the file equals the numpy array, bit for bit" "$PYTHON" -c "
import numpy as np, sys
a, b = np.loadtxt('$mnt/data'), np.load('$dir/data.npy')
sys.exit(not (a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))))"
check "a 2-D numpy array is a matrix file; numpy.loadtxt gives it back" "$PYTHON" -c "
import numpy as np, sys
a, b = np.loadtxt('$mnt/m'), np.load('$dir/m.npy')
sys.exit(not (a.shape == (4, 3) and np.array_equal(a.view(np.uint64), b.view(np.uint64))))"
line=$(timeout 10 head -n1 "$mnt/updates")
check "head -n1 updates: a Python update line with its keys" \
	bash -c "[[ '$line' =~ ^[0-9]+\ update\ .*\ u(\ |\$) ]]"

echo 0.3 >"$mnt/params/alpha"
check "echo 0.3 > params/alpha sets it" test "$(cat "$mnt/params/alpha")" = 0.3
check "... and the Python loop reads 0.3 (seen/alpha)" wait_value "$mnt/seen/alpha" 0.3
err=$( (echo 0.9 >"$mnt/params/alpha") 2>&1)
check "a Python check refuses 0.9: Invalid argument" bash -c "[[ '$err' == *'Invalid argument'* ]]"
check "the refused write leaves the value" test "$(cat "$mnt/params/alpha")" = 0.3
check "d.set_refusal_callback: Python hears of the refusal, with the check's reason" \
	grep -q 'refused params/alpha = "0.9" from uid [0-9]*: refused by the check' "$dir/comp.out"
check "... and the client reads it in ctl/errors" \
	grep -q ' params/alpha "0.9" refused by the check' "$mnt/ctl/errors"
check "a Python client writing with 'with open(...)' gets the refusal as OSError EINVAL" "$PYTHON" -c "
import errno, sys
try:
    with open('$mnt/params/alpha', 'w') as f:
        f.write('0.9')
except OSError as e:
    sys.exit(e.errno != errno.EINVAL)
sys.exit(1)"
echo 1 2 3 >"$mnt/params/w"
check "an array key written with echo reaches Python as numpy (seen/w = sum)" \
	wait_value "$mnt/seen/w" 6
err=$( (echo -1 2 3 >"$mnt/params/w") 2>&1)
check "a check on the numpy value refuses a negative weight" \
	bash -c "[[ '$err' == *'Invalid argument'* ]]"
err=$( (echo boom >"$mnt/params/name") 2>&1)
check "a check that raises refuses the write (EINVAL)" bash -c "[[ '$err' == *'Invalid argument'* ]]"
check "... the exception is reported on stderr" grep -q "RuntimeError: a check that fails" "$dir/comp.out"
echo hello >"$mnt/params/name"
check "... and the process goes on: the next write reaches Python" wait_value "$mnt/seen/name" hello

c1=$(cat "$mnt/calls")
check "the Python callback runs at every update (calls: $c1, then more)" \
	wait_change "$mnt/calls" "$c1"

echo 1 >"$mnt/ctl/pause"
check "ctl/pause reads 1" wait_value "$mnt/ctl/pause" 1
check "ctl/status says paused" grep -qx "state paused" "$mnt/ctl/status"
sleep 0.3 # the step under way ends
s1=$(cat "$mnt/step")
sleep 0.3
check "the Python loop does not step while paused" test "$s1" = "$(cat "$mnt/step")"
echo 0 >"$mnt/ctl/pause"
check "... and steps again after echo 0 > ctl/pause" wait_change "$mnt/step" "$s1"

(timeout 30 bash -c "while read -r seq kind keys; do echo \"\$kind\"; done <'$mnt/updates'" \
	>"$dir/loop.out") &
loop=$!
pids+=("$loop")
sleep 0.3
echo 1 >"$mnt/ctl/terminate"
wait_pid "$loop" 30
check "a while-read loop on updates ends with final after terminate" \
	test "$(tail -n1 "$dir/loop.out")" = final
wait_pid "$comp" 30
check "the Python computation exits 0" test "${exit_status:-1}" = 0
check "... after its final update and wait_then_close" grep -q "computation: done after" "$dir/comp.out"
check "the mount is gone" bash -c "! grep -q ' $mnt ' /proc/mounts"

# ---- d.terminate_on_signals(): SIGINT stops the Python loop cleanly ----
start_comp --signals || exit 1
kill -INT "$comp"
wait_pid "$comp" 30
check "terminate_on_signals: SIGINT ends the Python loop cleanly, exit 0" \
	test "${exit_status:-1}" = 0
check "terminate_on_signals: unmounted" bash -c "! grep -q ' $mnt ' /proc/mounts"
check "no Python traceback other than the expected check failure" \
	bash -c "[ \$(grep -c Traceback '$dir/comp.out') = 1 ]"

# ---- snapshot.json: random doubles of every class, read back exactly by
# Python's json (NaN refused) and jq ----
timeout -k 10 120 "$PYTHON" "$root/tests/python/snapshot_json.py" "$mnt" "$dir" >"$dir/snap.out" 2>&1
rc=$?
grep -E '^(not )?ok - |^# ' "$dir/snap.out" | sed 's/^\(not \)\{0,1\}ok - /&snapshot.json: /'
check "snapshot.json: the test script exits 0" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/#   /' "$dir/snap.out" | tail -n 20
check "snapshot.json: unmounted" bash -c "! grep -q ' $mnt ' /proc/mounts"

#!/bin/bash
# The demo computation driven from a shell with real cat, echo, head, stat,
# awk and timeout, as a user would.  Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-demo-test-XXXXXX")
mnt=$dir/mnt
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT


# Starts the demo in the background; sets $demo.
start_demo() {
	"$DEMO" "$@" "$mnt" >>"$dir/demo.out" 2>&1 &
	demo=$!
	pids+=("$demo")
	for _ in $(seq 200); do
		[ -e "$mnt/ctl/status" ] && return 0
		sleep 0.05
	done
	echo "demo did not mount; its output:" >&2
	cat "$dir/demo.out" >&2
	return 1
}



# ---- a running demo: reading, writing, control ----
start_demo --delay 10 --linger 10 || exit 1

check "cat residual prints one number" \
	bash -c "cat '$mnt/residual' | grep -Eq '^[-+0-9.e]+\$|^inf\$'"
echo 1 >"$mnt/ctl/pause"
sleep 0.1
check "ctl/pause reads 1 when paused" test "$(cat "$mnt/ctl/pause")" = 1
check "ctl/status says paused" grep -qx "state paused" "$mnt/ctl/status"
s1=$(cat "$mnt/step")
sleep 0.3
check "step does not advance while paused" test "$s1" = "$(cat "$mnt/step")"
check "stat size of u equals its bytes" test "$(stat -c %s "$mnt/u")" = "$(wc -c <"$mnt/u")"
check "u has one line per point" test "$(wc -l <"$mnt/u")" = 64
check "awk reads u" test "$(awk '{ n++ } END { print n }' "$mnt/u")" = 64
check "step is an integer" bash -c "grep -Eqx '[0-9]+' '$mnt/step'"

check "history/residual has SEQ TIME VALUE lines" \
	bash -c "awk 'NF != 3 || \$1 !~ /^[0-9]+\$/ { bad = 1 } END { exit bad || NR == 0 }' '$mnt/history/residual'"
check "raw/u holds the 64 doubles as 512 bytes" test "$(stat -c %s "$mnt/raw/u")" = 512
check "numpy.fromfile(raw/u) equals numpy.loadtxt(u), bit for bit" \
	/usr/bin/python3 -c "import numpy, sys; a = numpy.fromfile('$mnt/raw/u'); b = numpy.loadtxt('$mnt/u'); sys.exit(not (a.tobytes() == b.tobytes()))"
check "raw/ lists the arrays and the directories that hold one" \
	test "$(ls "$mnt/raw" | tr "\n" " ")" = "u "
check "raw/ has no file for a non-array key" bash -c "! test -e '$mnt/raw/residual'"
check "history/ lists only keys with a history" \
	test "$(ls "$mnt/history" | tr '\n' ' ')" = "params residual "
check "snapshot.json is valid JSON for jq, with the sequence" \
	bash -c "jq -e '.sequence > 0 and (.values.u | length) == 64' '$mnt/snapshot.json' >/dev/null"
check "snapshot.json is one moment: its step is in the same update as its sequence" \
	bash -c "jq -e '.values.step == .sequence' '$mnt/snapshot.json' >/dev/null"
check "ctl/status shows progress" \
	bash -c "grep -Eq '^progress 0?\.[0-9]+|^progress [0-9.e-]+' '$mnt/ctl/status'"
check "ctl/status shows updates per second and a time left" \
	bash -c "grep -q '^updates_per_second ' '$mnt/ctl/status' && grep -q '^eta_seconds ' '$mnt/ctl/status'"
echo 0.3 >"$mnt/params/alpha"
check "echo 0.3 > params/alpha sets it" test "$(cat "$mnt/params/alpha")" = 0.3
err=$( (echo x >"$mnt/params/alpha") 2>&1)
check "echo x > params/alpha fails with Invalid argument" \
	bash -c "[[ '$err' == *'Invalid argument'* ]]"
err=$( (echo 0.9 >"$mnt/params/alpha") 2>&1)
check "alpha outside (0, 0.5] is refused" bash -c "[[ '$err' == *'Invalid argument'* ]]"
check "refused writes leave the value" test "$(cat "$mnt/params/alpha")" = 0.3
# ---- whole writes: with the tools people use; a value is taken whole or not
# at all, and refused values are reported where the tool can see it ----
alpha=$mnt/params/alpha
value() { cat "$alpha"; }
printf 0.125 | dd bs=1 of="$alpha" 2>/dev/null
check "dd bs=1 (one byte a write) sets the whole value" test "$(value)" = 0.125
err=$(printf 0.75 | dd bs=1 of="$alpha" 2>&1)
check "dd bs=1 of a refused value: dd reports the error of close()" \
	bash -c "[[ '$err' == *'Invalid argument'* ]]"
check "... and not one byte of it is published" test "$(value)" = 0.125
printf '0.2\n' >"$alpha"
check "bash printf sets it" test "$(value)" = 0.2
err=$( (printf '0.6\n' >"$alpha") 2>&1)
check "bash printf of a refused value (ending in a newline): write error" \
	bash -c "[[ '$err' == *'write error: Invalid argument'* ]]"
err=$( (echo 0.2 0.3 >"$alpha") 2>&1)
check "echo of two numbers: write error" bash -c "[[ '$err' == *'Invalid argument'* ]]"
check "refused: the value stays" test "$(value)" = 0.2
/usr/bin/printf '0.35\n' >"$alpha"
check "/usr/bin/printf sets it" test "$(value)" = 0.35
err=$( (/usr/bin/printf 0.95 >"$alpha") 2>&1)
check "/usr/bin/printf of a refused value without newline: error at close" \
	bash -c "[[ '$err' == *'Invalid argument'* ]]"
(printf 0.95 >"$alpha") 2>/dev/null
check "bash printf without newline: refused at close (bash ignores that error), value kept" \
	test "$(value)" = 0.35
py=/usr/bin/python3
"$py" -c "
with open('$alpha', 'w') as f:
    f.write('0.4')
    f.flush()
    f.write('5\n')
"
check "python with 'with', two writes: one value" test "$(value)" = 0.45
"$py" -c "
try:
    with open('$alpha', 'w') as f:
        f.write('0.55\n')
except OSError as e:
    raise SystemExit(0 if e.errno == 22 else 1)
raise SystemExit(1)
"
check "python with 'with': a refused value raises OSError(EINVAL)" test $? = 0
"$py" -c "f = open('$alpha', 'w'); f.write('0.15\n')"
check "python without 'with' or close(): published when the file is collected" \
	test "$(value)" = 0.15
err=$("$py" -c "f = open('$alpha', 'w'); f.write('0.65\n')" 2>&1)
check "python without 'with': a refused value is dropped silently at collection" \
	bash -c "[ '$(value)' = 0.15 ] && [ -z '$err' ]"
echo 0.3 >"$alpha"

err=$( (echo 1 >"$mnt/residual") 2>&1)
check "writing a read-only key: Permission denied" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
check "rm of a key is refused" bash -c "! rm -f '$mnt/residual' 2>/dev/null"
check "the key is still there" test -e "$mnt/residual"
err=$( (echo 2 >"$mnt/ctl/pause") 2>&1)
check "ctl/pause refuses 2" bash -c "[[ '$err' == *'Invalid argument'* ]]"

# If SIGINT did not end the read, timeout would send SIGKILL after 20 s
# and report 137 instead of 124.
start=$(date +%s%N)
timeout -k 20 -s INT 0.5 cat "$mnt/updates" >/dev/null
rc=$?
echo "# Ctrl-C ended the blocked read $((($(date +%s%N) - start) / 1000000 - 500)) ms after the signal"
check "Ctrl-C (timeout -s INT) ends a blocked read of updates" test "$rc" = 124

echo 0 >"$mnt/ctl/pause"
line=$(timeout 10 head -n1 "$mnt/updates")
check "head -n1 updates gives one update line" \
	bash -c "[[ '$line' =~ ^[0-9]+\ update(\ [a-z/]+)*\$ ]]"
check "head -n1 exits 0 on updates" bash -c "timeout 10 head -n1 '$mnt/updates' >/dev/null"
for _ in $(seq 200); do [ "$s1" != "$(cat "$mnt/step")" ] && break; sleep 0.05; done
check "the step advances again after resume" test "$s1" != "$(cat "$mnt/step")"
# The run ends at --tolerance (1e-9) long before --steps (100000): the
# progress key, and so eta_seconds, count toward the nearer end.  The
# decay is learned over the first steps (the test paused the demo at once,
# perhaps at step 1): asked once 100 steps have run.
for _ in $(seq 200); do [ "$(cat "$mnt/step")" -ge 100 ] && break; sleep 0.05; done
check "the demo's progress counts toward --tolerance, not only --steps" \
	bash -c "jq -e '.values.step >= 100 and .values.progress > 2 * .values.step / 100000' \
		'$mnt/snapshot.json' >/dev/null"

# A shell loop follows updates until the final one.
(timeout 30 bash -c "while read -r seq kind keys; do echo \"\$kind\"; done <'$mnt/updates'" \
	>"$dir/loop.out") &
loop=$!
# Terminate once the loop has seen an update (it reads as they come).
for _ in $(seq 200); do grep -qx update "$dir/loop.out" 2>/dev/null && break; sleep 0.05; done
echo 1 >"$mnt/ctl/terminate"
wait_pid "$loop" 30
check "a while-read loop on updates ends after terminate" test "$(tail -n1 "$dir/loop.out")" = final
check "the loop saw updates before the final one" grep -qx update "$dir/loop.out"
wait_pid "$demo" 30
check "the demo exits 0 after terminate" test "${exit_status:-1}" = 0
check "the mount is gone" bash -c "! grep -q ' $mnt ' /proc/mounts"

# ---- SIGINT to the demo stops it cleanly ----
start_demo --delay 10 --linger 2 || exit 1
kill -INT "$demo"
wait_pid "$demo" 30
check "SIGINT: the demo sends the final update and exits 0" test "${exit_status:-1}" = 0
check "SIGINT: unmounted" bash -c "! grep -q ' $mnt ' /proc/mounts"
check "SIGINT: message says terminated" grep -q "terminated after" "$dir/demo.out"

# ---- a second SIGINT more than 1 s later ends the process at once, even
# while it lingers; one within 1 s is the same request ----
start_demo --delay 10 --linger 60 || exit 1
exec 3<"$mnt/u"
kill -INT "$demo"
kill -INT "$demo"
for _ in $(seq 100); do grep -qx "state finished" "$mnt/ctl/status" && break; sleep 0.05; done
check "first SIGINT: finished, lingering for the open file" grep -qx "state finished" "$mnt/ctl/status"
sleep 0.5
check "a SIGINT within 1 s of the first is the same request: still serving" \
	grep -qx "state finished" "$mnt/ctl/status"
sleep 0.7
kill -INT "$demo"
wait_pid "$demo" 30
exec 3<&-
check "second SIGINT: the process ends by SIGINT (status 130)" test "${exit_status:-0}" = 130
for _ in $(seq 100); do grep -q " $mnt " /proc/mounts || break; sleep 0.05; done
check "second SIGINT: no mount left behind" bash -c "! grep -q ' $mnt ' /proc/mounts"

# ---- a killed run leaves no mount behind; the next run starts cleanly ----
start_demo --delay 10 --linger 2 || exit 1
kill -9 "$demo"
wait "$demo" 2>/dev/null
for _ in $(seq 100); do grep -q " $mnt " /proc/mounts || break; sleep 0.05; done
check "after kill -9 the mount is gone (auto_unmount)" bash -c "! grep -q ' $mnt ' /proc/mounts"
check "... and the mount point is a plain directory again" bash -c "stat '$mnt' >/dev/null"
start_demo --steps 20 --delay 50 --linger 2 || exit 1
wait_pid "$demo" 30
check "the next run on the same mount point works" test "${exit_status:-1}" = 0
check "it reached --steps" grep -q "reached --steps after 20 steps" "$dir/demo.out"
check "no mount left behind" bash -c "! grep -q ' $mnt ' /proc/mounts"

# ---- checkpoint at the end, resume from it ----
start_demo --steps 30 --delay 5 --linger 1 --checkpoint "$dir/run.ckpt" || exit 1
wait_pid "$demo" 30
check "--checkpoint: saved at the end" grep -q "saved the state to $dir/run.ckpt" "$dir/demo.out"
start_demo --steps 50 --delay 5 --linger 1 --resume "$dir/run.ckpt" || exit 1
first_step=$(cat "$mnt/step")
wait_pid "$demo" 30
check "--resume: continues from step 30 (first read: $first_step)" test "$first_step" -ge 30
check "--resume: stops at --steps 50" grep -q "reached --steps after 50 steps" "$dir/demo.out"
echo "garbage" >"$dir/bad.ckpt"
out=$("$DEMO" --resume "$dir/bad.ckpt" "$mnt" 2>&1)
rc=$?
check "--resume of a foreign file: exit 1, 'not an idict checkpoint'" \
	bash -c "[ $rc = 1 ] && [[ '$out' == *'not an idict checkpoint'* ]]"

# Under SANITIZE=address,undefined the demo reports to its output.
check "the demo's runs had no sanitizer reports" \
	bash -c "! grep -qE 'Sanitizer|runtime error' '$dir/demo.out'"

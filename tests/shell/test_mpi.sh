#!/bin/bash
# libidict-mpi: tests/mpi/test_mpi.c under mpirun (the semantics, the cost in
# collectives), then the MPI demo steered from a shell through its mount,
# with real cat, echo, jq: pause, parameters, resume, terminate, and a rank
# killed.  4 ranks, oversubscribed (the machine may have 2 CPUs); Open MPI
# yields when idle.  Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$BUILD/idict-mpi-demo
if [ ! -x "$DEMO" ] || ! command -v mpirun >/dev/null; then
	not_ok "mpi: $DEMO or mpirun missing (contrib/install-deps.sh installs Open MPI)"
	exit 1
fi
DEMO=$(cd "$(dirname "$DEMO")" && pwd)/idict-mpi-demo
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-mpi-test-XXXXXX")
mnt=$dir/mnt
pids=()

# Open MPI refuses root without these; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under the sanitizers (make check-sanitize): Open MPI's plugins leave
# memory at MPI_Finalize that LeakSanitizer cannot attribute (their frames
# show as "<unknown module>", so no suppression matches them).  AddressSanitizer
# and UBSan stay on; leaks of the code under test are checked by the core's
# suites (tests/test_store.c holds and takes client writes).
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
MPIRUN=(mpirun -np 4 --oversubscribe --bind-to none --mca mpi_yield_when_idle 1)

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT

# ---- the library, without a mount ----
out=$(timeout -k 5 120 "${MPIRUN[@]}" "$BUILD/tests/test_mpi" 2>"$dir/test_mpi.err")
status=$?
printf '%s\n' "$out" | grep -E '^(not )?ok - '
check "test_mpi: exits 0 under mpirun -np 4" test "$status" = 0
check "test_mpi: no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$dir/test_mpi.err'"
[ "$status" = 0 ] || sed 's/^/# /' "$dir/test_mpi.err" | head -40

# ---- the demo ----

# Starts the demo under mpirun in the background; sets $job (mpirun's pid).
start_demo() {
	rm -f "$dir/demo.out"
	"${MPIRUN[@]}" "$DEMO" "$@" "$mnt" >"$dir/demo.out" 2>&1 &
	job=$!
	pids+=("$job")
	for _ in $(seq 600); do
		[ -e "$mnt/rank/3/step" ] && return 0
		sleep 0.05
	done
	echo "the demo did not mount; its output:" >&2
	cat "$dir/demo.out" >&2
	return 1
}

# The rank/N/KEY values from one snapshot.json, space-separated.
ranks_of() {
	jq -r "[.values[\"rank/0/$1\"], .values[\"rank/1/$1\"], .values[\"rank/2/$1\"], .values[\"rank/3/$1\"]] | map(tostring) | join(\" \")" "$2"
}

# TRUE if the four values in "$1" are equal.
all_equal() {
	[ "$(echo "$1" | tr ' ' '\n' | sort -u | wc -l)" = 1 ]
}

start_demo --delay 20 --linger 10 || exit 1

# Snapshots are one moment: every rank at the same step in each.
same=1
for _ in $(seq 10); do
	cp "$mnt/snapshot.json" "$dir/snap.json"
	all_equal "$(ranks_of step "$dir/snap.json")" || same=0
	sleep 0.02
done
check "every snapshot.json shows the four ranks at the same step" test "$same" = 1
check "the top level has step, residual and params/alpha" \
	bash -c "test -f '$mnt/step' && test -f '$mnt/residual' && test -f '$mnt/params/alpha'"
snap=$dir/snap.json

# ---- pause: every rank stops at the same step ----
echo 1 >"$mnt/ctl/pause"
for _ in $(seq 200); do grep -qx "state paused" "$mnt/ctl/status" && break; sleep 0.05; done
sleep 0.3 # the sync that saw the pause has published
s1=$(cat "$mnt"/rank/*/step | tr '\n' ' ')
sleep 0.5
s2=$(cat "$mnt"/rank/*/step | tr '\n' ' ')
check "pause: all rank/N/step equal ($s1)" all_equal "${s1% }"
check "pause: and still" test "$s1" = "$s2"
seq1=$(cat "$mnt/ctl/sequence")
sleep 0.3
check "pause: no update while paused" test "$seq1" = "$(cat "$mnt/ctl/sequence")"
# Between two syncs rank 0's own value of a reduced key shows at the top
# until the sync replaces it (README); after the sync that paused, it is
# the MAX.
cp "$mnt/snapshot.json" "$snap"
max=$(jq -r '[.values["rank/0/residual"], .values["rank/1/residual"], .values["rank/2/residual"], .values["rank/3/residual"]] | max' "$snap")
check "paused: residual is the MAX of the ranks' residuals (same snapshot)" \
	test "$(jq -r '.values.residual' "$snap")" = "$max"
# The ranks wait in the sync without spinning: their CPU time stays put.
cpu() { for p in $(pgrep -P "$job" idict-mpi-demo); do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s }'; }
c1=$(cpu)
sleep 1
c2=$(cpu)
echo "# paused: the 4 ranks used $((c2 - c1)) clock ticks in 1 s"
check "pause: the ranks sleep (under 0.2 s of CPU in 1 s, all 4)" test "$((c2 - c1))" -lt 20

# ---- a parameter from the shell, while paused: every rank gets it at one step ----
echo 0.3 >"$mnt/params/alpha"
check "echo 0.3 > params/alpha: cat shows it at once" test "$(cat "$mnt/params/alpha")" = 0.3
check "paused: the ranks still show the alpha they used" \
	bash -c "! grep -qx 0.3 '$mnt'/rank/*/alpha"
echo 0 >"$mnt/ctl/pause"
for _ in $(seq 200); do
	[ "$(cat "$mnt/rank/3/step")" != "${s1%% *}" ] && break
	sleep 0.05
done
check "resume: the ranks move on" test "$(cat "$mnt/rank/0/step")" != "${s1%% *}"
ok_steps=1
for _ in $(seq 10); do
	cp "$mnt/snapshot.json" "$snap"
	all_equal "$(ranks_of alpha "$snap")" || ok_steps=0
	all_equal "$(ranks_of step "$snap")" || ok_steps=0
	sleep 0.02
done
check "resume: every rank used alpha 0.3 from the same step on" test "$ok_steps" = 1
check "resume: rank/N/alpha is 0.3 on all four" \
	test "$(ranks_of alpha "$snap")" = "0.3 0.3 0.3 0.3"

# The same while running: every snapshot has one alpha for all four ranks.
echo 0.2 >"$mnt/params/alpha"
mixed=0
for _ in $(seq 20); do
	cp "$mnt/snapshot.json" "$snap"
	all_equal "$(ranks_of alpha "$snap")" || mixed=1
	[ "$(ranks_of alpha "$snap")" = "0.2 0.2 0.2 0.2" ] && break
	sleep 0.02
done
check "running: a new alpha reaches every rank at the same step" test "$mixed" = 0
check "running: ... and it arrives" test "$(ranks_of alpha "$snap")" = "0.2 0.2 0.2 0.2"
err=$( (echo 0.9 >"$mnt/params/alpha") 2>&1)
check "alpha outside (0, 0.5] is refused (the check of rank 0)" \
	bash -c "[[ '$err' == *'Invalid argument'* ]]"

# ---- terminate: every rank ends, the final update comes, mpirun exits 0 ----
(timeout 60 bash -c "while read -r seq kind keys; do echo \"\$kind\"; done <'$mnt/updates'" \
	>"$dir/loop.out") &
loop=$!
sleep 0.3
echo 1 >"$mnt/ctl/terminate"
wait_pid "$loop" 60
check "terminate: a while-read loop on updates ends with the final update" \
	test "$(tail -n1 "$dir/loop.out")" = final
check "terminate: one update line per step before it" grep -qx update "$dir/loop.out"
wait_pid "$job" 60
check "terminate: mpirun exits 0" test "${exit_status:-1}" = 0
check "terminate: the mount is gone" bash -c "! grep -q ' $mnt ' /proc/mounts"
check "terminate: every rank said why" grep -q "terminated after" "$dir/demo.out"

# ---- a rank killed: MPI aborts the job, nothing stays mounted ----
rank_pid() { # the pid of rank $1 of the job $job
	for p in $(pgrep -P "$job" idict-mpi-demo); do
		if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
			echo "$p"
			return
		fi
	done
}
for victim in 2 0; do
	start_demo --delay 20 --linger 2 || exit 1
	pid=$(rank_pid "$victim")
	check "kill -9 rank $victim: found it ($pid)" test -n "$pid"
	[ -n "$pid" ] && kill -9 "$pid"
	wait_pid "$job" 60
	check "kill -9 rank $victim: mpirun ends the job with an error (${exit_status:-none})" \
		bash -c "[ -n '${exit_status:-}' ] && [ '${exit_status:-0}' != 0 ]"
	# auto_unmount's helper unmounts when rank 0 is gone; on a loaded
	# machine that may take a while after mpirun has returned.
	for _ in $(seq 600); do grep -q " $mnt " /proc/mounts || break; sleep 0.05; done
	check "kill -9 rank $victim: no mount left behind" bash -c "! grep -q ' $mnt ' /proc/mounts"
	if grep -q " $mnt " /proc/mounts; then
		echo "# stat: $(stat "$mnt" 2>&1 | head -1)"
		ps -eo pid,ppid,stat,etime,cmd | grep -E "idict-mpi|fusermount|mpirun" | grep -v grep |
			sed 's/^/# /'
		sed 's/^/# /' "$dir/demo.out"
		fusermount3 -u -z "$mnt"
	fi
	# mpirun may return while a rank it signalled still exits (slowly under
	# a sanitizer): none may stay.
	for _ in $(seq 200); do [ -z "$(pgrep -f "$DEMO .*$mnt")" ] && break; sleep 0.05; done
	check "kill -9 rank $victim: no rank left running" test -z "$(pgrep -f "$DEMO .*$mnt")"
done

check "the demo's runs had no sanitizer reports" \
	bash -c "! grep -qE 'Sanitizer|runtime error' '$dir/demo.out'"

#!/bin/bash
# contrib/idict-watch and contrib/idict-plot against the demo computation.
# Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
WATCH=$root/contrib/idict-watch
PLOT=$root/contrib/idict-plot
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-tools-test-XXXXXX")
mnt=$dir/mnt
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	# KEEP=1 keeps the outputs for a look after a failure.
	[ -n "${KEEP:-}" ] && { echo "kept $dir" >&2; return; }
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


sequence() { awk '$1 == "sequence" { print $2 }' "$mnt/ctl/status"; }

# The rows' first column (seq) rises strictly; prints why not.
rows_rise() {
	awk 'NR > 1 && !/^#/ {
		if (n && $1 <= last) { print "seq " $1 " after " last; bad = 1 }
		last = $1; n++
	} END { exit bad || n < 2 }' "$1"
}

# ---- idict-watch ----
# Starts idict-watch ARGS... in the background with the demo paused, so
# that it sees the run from its start; sets $watch.
start_watch() {
	local out=$1
	shift
	echo 1 >"$mnt/ctl/pause"
	: >"$out"
	timeout 60 "$WATCH" "$@" >"$out" 2>>"$dir/watch.err" &
	watch=$!
	pids+=("$watch")
	# The first row is printed once it has opened updates.
	for _ in $(seq 200); do [ "$(wc -l <"$out")" -ge 2 ] && break; sleep 0.05; done
	echo 0 >"$mnt/ctl/pause"
}

start_demo --steps 40 --delay 50 --linger 5 || exit 1
start_watch "$dir/watch.out" "$mnt"
wait_pid "$watch" 60
check "idict-watch exits 0 after the final update" test "${exit_status:-1}" = 0
read -r -a header <"$dir/watch.out"
check "idict-watch: a header line: seq, then the scalar keys at the top level" \
	test "${header[*]}" = "seq message progress residual step time"
check "idict-watch: rows with rising seq" rows_rise "$dir/watch.out"
check "idict-watch: a row per update, up to the final one (41)" \
	test "$(awk 'END { print $1 }' "$dir/watch.out")" = 41
check "idict-watch: the last row is the final state (seq 41, step 40, reached --steps)" \
	bash -c "tail -n1 '$dir/watch.out' | grep -Eq '^ *41 reached --steps +1 +[0-9.e-]+ +40 '"
check "idict-watch: nothing on stderr" test ! -s "$dir/watch.err"
wait_pid "$demo" 30

start_demo --steps 20 --delay 50 --linger 5 || exit 1
start_watch "$dir/watch2.out" -x "$mnt" step params/alpha
wait_pid "$watch" 60
read -r -a header <"$dir/watch2.out"
check "idict-watch MNT step params/alpha: those columns" test "${header[*]}" = "seq step params/alpha"
check "idict-watch -x: exact values (alpha 0.25, last step 20)" \
	bash -c "tail -n1 '$dir/watch2.out' | grep -Eq '^ *21 +20 +0.25\$'"
wait_pid "$demo" 30

# Keys that cannot be shown whole: said on stderr, once.
start_demo --steps 10 --delay 50 --linger 5 || exit 1
start_watch "$dir/watch5.out" "$mnt" stpe u params step
wait_pid "$watch" 60
check "idict-watch: a misspelled key is named on stderr" \
	grep -q 'no key stpe in .* shown as -' "$dir/watch.err"
check "idict-watch: an array is said to show only its first line" \
	grep -q 'u has several lines (an array?), only its first is shown' "$dir/watch.err"
check "idict-watch: a directory is said to be one" grep -q 'params is a directory' "$dir/watch.err"
check "... each said once" test "$(wc -l <"$dir/watch.err")" = 3
check "... and the table still goes to the end (step 10)" \
	bash -c "tail -n1 '$dir/watch5.out' | grep -Eq ' 10\$'"
wait_pid "$demo" 30

# Refused values show up in the table, also while the computation is
# paused (no update comes).
start_demo --steps 100000 --delay 50 --linger 5 || exit 1
echo 0.8 >"$mnt/params/alpha" 2>/dev/null # before idict-watch starts: not shown
start_watch "$dir/watch6.out" "$mnt" step
echo 1 >"$mnt/ctl/pause"
echo 0.9 >"$mnt/params/alpha" 2>/dev/null
echo 'a "b"' >"$mnt/params/alpha" 2>/dev/null
for _ in $(seq 100); do [ "$(grep -c '^# refused' "$dir/watch6.out")" -ge 2 ] && break; sleep 0.1; done
check "idict-watch: a refused value is shown, while paused too" \
	grep -q '^# refused params/alpha "0.9" (uid [0-9]*): alpha must lie in (0, 0.5]' "$dir/watch6.out"
check "... with its value escaped as in ctl/errors" \
	grep -q '^# refused params/alpha "a \\"b\\"" (uid [0-9]*): ' "$dir/watch6.out"
check "... and not those from before it started" bash -c "! grep -q '0\.8' '$dir/watch6.out'"
echo 1 >"$mnt/ctl/terminate"
wait_pid "$watch" 30
check "... and it still ends after the final update" test "${exit_status:-1}" = 0
wait_pid "$demo" 30
check "the demo printed the refusals too" \
	grep -q 'idict-demo: refused params/alpha = "0.9" from uid [0-9]*: alpha must lie' "$dir/demo.out"

# A reader stopped while more than 1,024 updates pass gets "SEQ missed N".
start_demo --delay 0 --tolerance 0 --steps 100000000 --linger 5 || exit 1
: >"$dir/watch3.out"
"$WATCH" "$mnt" step >"$dir/watch3.out" &
watch=$!
pids+=("$watch")
# The first row is printed once it has opened updates.
for _ in $(seq 200); do [ "$(wc -l <"$dir/watch3.out")" -ge 2 ] && break; sleep 0.05; done
kill -STOP "$watch"
s0=$(sequence)
for _ in $(seq 600); do
	s1=$(sequence)
	[ -n "$s1" ] && [ "$s1" -gt $((s0 + 1500)) ] && break
	sleep 0.05
done
kill -CONT "$watch"
sleep 0.2
echo 1 >"$mnt/ctl/terminate"
wait_pid "$watch" 30
check "idict-watch: a reader left behind prints '# missed N updates up to SEQ', then goes on" \
	grep -Eq '^# missed [0-9]+ updates up to [0-9]+$' "$dir/watch3.out"
status3=${exit_status:-1}
check "... and exits 0 after the final update" test "$status3" = 0
check "... its rows still rise" rows_rise "$dir/watch3.out"
wait_pid "$demo" 30

# ---- idict-plot ----
start_demo --steps 100000 --delay 150 --linger 5 || exit 1
"$PLOT" --png "$dir/plot.png" --logy "$mnt" 2>"$dir/plot.err" &
plot=$!
pids+=("$plot")
for _ in $(seq 200); do [ -s "$dir/plot.png" ] && break; sleep 0.05; done
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
check "idict-plot --png: the PNG exists" test -s "$dir/plot.png"
check "idict-plot --png: it is a PNG (magic bytes)" is_png "$dir/plot.png"
sum1=$(cksum <"$dir/plot.png")
sum2=$sum1
for _ in $(seq 400); do
	sum2=$(cksum <"$dir/plot.png")
	[ "$sum2" != "$sum1" ] && break
	sleep 0.05
done
check "idict-plot --png: redrawn at the next update (checksum changes)" test "$sum1" != "$sum2"
check "idict-plot --png: the new one is a PNG too" is_png "$dir/plot.png"
echo 1 >"$mnt/ctl/terminate"
wait_pid "$plot" 30
check "idict-plot exits 0 after the final update" test "${exit_status:-1}" = 0
check "idict-plot: no temporary file left beside the PNG" \
	test "$(find "$dir" -maxdepth 1 -name 'plot.png*' | wc -l)" = 1
check "idict-plot: nothing on stderr" test ! -s "$dir/plot.err"
wait_pid "$demo" 30

start_demo --steps 100000 --delay 20 --linger 5 || exit 1
sleep 0.3
timeout 30 "$PLOT" --once --size 79,30 "$mnt" >"$dir/dumb.out" 2>&1
check "idict-plot --once: draws to the terminal (dumb) and exits 0" test $? = 0
check "... both panels: u and residual (history)" \
	bash -c "grep -q ' u ' '$dir/dumb.out' && grep -q 'residual (history)' '$dir/dumb.out'"
# The demo keeps history/residual: --once draws every value so far, not
# the one point of its own start (each a '*' of the dumb terminal).
stars=$(awk 'f { n += gsub(/\*/, "*") } /residual \(history\)/ { f = 1 } END { print n + 0 }' \
	"$dir/dumb.out")
check "idict-plot --once: the residual's history from history/residual ($stars points drawn)" \
	test "$stars" -ge 5
: >"$dir/watch4.out"
timeout 30 "$WATCH" "$mnt" step >"$dir/watch4.out" &
watch=$!
pids+=("$watch")
# The first row is printed once it has opened updates.
for _ in $(seq 200); do [ "$(wc -l <"$dir/watch4.out")" -ge 2 ] && break; sleep 0.05; done
echo 1 >"$mnt/ctl/terminate"
wait_pid "$watch" 30
check "idict-watch started just before the end ends too" test "${exit_status:-1}" = 0
wait_pid "$demo" 30

# In the terminal it draws at most once a second (--interval), however fast
# the updates come (here up to 100 a second), and the final one at once.
start_demo --steps 100000 --delay 10 --linger 5 || exit 1
started=$(date +%s%N)
"$PLOT" "$mnt" >"$dir/dumb2.out" 2>"$dir/dumb2.err" &
plot=$!
pids+=("$plot")
sleep 3
last=$(sequence)
echo 1 >"$mnt/ctl/terminate"
wait_pid "$plot" 30
status=${exit_status:-1}
elapsed_s=$((($(date +%s%N) - started) / 1000000000 + 1))
draws=$(grep -oE 'update [0-9]+' "$dir/dumb2.out" | wc -l)
final_drawn=$(grep -oE 'update [0-9]+' "$dir/dumb2.out" | tail -n1 | cut -d' ' -f2)
check "idict-plot (terminal): exits 0 after the final update, nothing on stderr" \
	bash -c "[ $status = 0 ] && [ ! -s '$dir/dumb2.err' ]"
check "idict-plot (terminal): $draws draws in at most $elapsed_s s: at most one a second, and the first" \
	bash -c "[ $draws -ge 2 ] && [ $draws -le $((elapsed_s + 1)) ]"
check "... the last one is of the final update (${final_drawn:-none} > $last)" \
	test "${final_drawn:-0}" -gt "$last"
wait_pid "$demo" 30

check "the demos had no sanitizer reports" bash -c "! grep -qE 'Sanitizer|runtime error' '$dir/demo.out'"

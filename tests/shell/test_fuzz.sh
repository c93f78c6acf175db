#!/bin/bash
# Runs every libFuzzer target (build/fuzz/fuzz_*, built by `make fuzz-build`)
# for a bounded time: first the inputs that once failed
# (tests/fuzz/regressions/TARGET/), then, in one libFuzzer run, the seed corpus
# (tests/fuzz/corpus/TARGET/) and new inputs for FUZZ_SECONDS seconds
# (default 10).  Prints "ok - ..." / "not ok - ..." per target; a crash, leak,
# timeout or failed check makes the line "not ok" and shows the report and the
# input, which is also copied to build/fuzz/crashes/.  Artifacts and new
# corpus entries go to a temporary directory, never into the tree.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fuzz_build=${FUZZ_BUILD:-$root/build/fuzz}
case $fuzz_build in /*) ;; *) fuzz_build=$root/$fuzz_build ;; esac
seconds=${FUZZ_SECONDS:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/idict-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
# The same in the plain and the sanitizer builds: GLib's slices as plain
# malloc, so that LeakSanitizer sees them.
export G_SLICE=always-malloc
failed=0

# Shows a failed run: the end of libFuzzer's log and every artifact, which is
# kept in build/fuzz/crashes/.
report() {
	local log=$1 target=$2
	tail -n 40 "$log" | sed 's/^/# /'
	for a in "$work/$target"-*; do
		[ -f "$a" ] || continue
		mkdir -p "$fuzz_build/crashes"
		cp "$a" "$fuzz_build/crashes/"
		echo "# input $(basename "$a") ($(stat -c %s "$a") bytes), kept in $fuzz_build/crashes/:"
		od -A d -c "$a" | head -n 20 | sed 's/^/#   /'
	done
}

for src in "$root"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	target=${name#fuzz_}
	bin=$fuzz_build/$name
	if [ ! -x "$bin" ]; then
		echo "not ok - $name: $bin is not built (make fuzz-build)"
		failed=1
		continue
	fi
	opts=(-artifact_prefix="$work/$target-" -timeout=60 -rss_limit_mb=2048 -max_len=4096)
	[ -f "$root/tests/fuzz/$target.dict" ] && opts+=(-dict="$root/tests/fuzz/$target.dict")

	regressions=()
	if [ -d "$root/tests/fuzz/regressions/$target" ]; then
		for f in "$root/tests/fuzz/regressions/$target"/*; do
			[ -f "$f" ] && regressions+=("$f")
		done
	fi
	if [ "${#regressions[@]}" -gt 0 ]; then
		# Given files, libFuzzer runs each once and stops.
		if "$bin" "${opts[@]}" "${regressions[@]}" >"$work/$target.replay.log" 2>&1; then
			echo "ok - $name: ${#regressions[@]} regression inputs pass"
		else
			echo "not ok - $name: a regression input fails"
			report "$work/$target.replay.log" "$target"
			failed=1
		fi
	fi

	mkdir -p "$work/$target.corpus"
	"$bin" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 \
		"$work/$target.corpus" "$root/tests/fuzz/corpus/$target" >"$work/$target.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log" | tail -n1)
	seeds=$(find "$root/tests/fuzz/corpus/$target" -type f | wc -l)
	found=$(find "$work/$target.corpus" -type f | wc -l)
	cov=$(grep -oE 'cov: [0-9]+' "$work/$target.log" | tail -n1)
	if [ "$rc" -eq 0 ]; then
		echo "ok - $name: ${seconds} s, ${runs:-?} runs, $seeds seeds + $found new inputs, ${cov:-cov: ?}, no failure"
	else
		echo "not ok - $name: libFuzzer exited $rc after ${runs:-?} runs"
		report "$work/$target.log" "$target"
		failed=1
	fi
done
exit "$failed"

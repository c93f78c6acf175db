#!/bin/bash
# Runs the benchmark harness (make bench) in private temporary directories,
# with a time limit.  Whatever a failed run leaves behind is cleaned up on
# exit: mounts below the private directory are unmounted (deepest first) and
# the directories removed.  The harness itself kills its child processes by
# id and unmounts its mounts, also on fatal signals and on its own watchdog;
# its children die with it (PR_SET_PDEATHSIG).
#   tests/bench/run-bench.sh BENCH_BINARY [harness options...]
set -u
bench=$1
shift
limit=${BENCH_TIME_LIMIT:-290}

work=$(mktemp -d "${TMPDIR:-/tmp}/idict-bench-run-XXXXXX")
tmpfs_base=""
for d in "${TMPDIR:-/tmp}" /dev/shm /run/shm; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ]; then
		tmpfs_base=$d
		break
	fi
done
if [ -z "$tmpfs_base" ]; then
	echo "run-bench: no tmpfs found (tried \$TMPDIR, /dev/shm, /run/shm)" >&2
	exit 1
fi
shm=$(mktemp -d "$tmpfs_base/idict-bench-run-XXXXXX")

cleanup() {
	awk -v w="$work" 'index($2, w "/") == 1 {print $2}' /proc/mounts | sort -r |
		while read -r m; do
			echo "run-bench: unmounting leftover $m" >&2
			fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
		done
	rm -rf --one-file-system "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TMPDIR=$work timeout --kill-after=10 "$limit" "$bench" --tmpfs "$shm" \
	--budget $((limit - 15)) "$@"
status=$?
[ "$status" -eq 124 ] && echo "run-bench: stopped after $limit s" >&2
exit "$status"

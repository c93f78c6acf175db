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

# Rows 10 (libidict-mpi, issue 15): idict-mpi-bench under mpirun -np 4, when
# it was built (WITH_MPI) and the sections asked for include "mpi"; its rows
# go into idict-bench's table.
mpi_bench=$(dirname "$bench")/idict-mpi-bench
mpi_rows=()
want_mpi=yes
quick=()
for a in "$@"; do
	case $a in
	--only=*) [[ ",${a#--only=}," == *,mpi,* ]] || want_mpi=no ;;
	--quick | -q) quick=(--quick) ;;
	esac
done
prev=""
for a in "$@"; do
	[ "$prev" = --only ] && { [[ ",$a," == *,mpi,* ]] || want_mpi=no; }
	prev=$a
done
if [ "$want_mpi" = yes ] && [ -x "$mpi_bench" ] && command -v mpirun >/dev/null; then
	echo "idict-bench: 10: idict_mpi_sync under mpirun -np 4" >&2
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TMPDIR=$work \
		timeout --kill-after=10 120 mpirun -np 4 --oversubscribe --bind-to none \
		--mca mpi_yield_when_idle 1 "$mpi_bench" "${quick[@]}" >"$work/mpi-rows.md" ||
		echo "run-bench: idict-mpi-bench failed" >&2
	mpi_rows=(--extra-rows "$work/mpi-rows.md")
fi

TMPDIR=$work timeout --kill-after=10 "$limit" "$bench" --tmpfs "$shm" \
	--budget $((limit - 15)) "${mpi_rows[@]}" "$@"
status=$?
[ "$status" -eq 124 ] && echo "run-bench: stopped after $limit s" >&2
exit "$status"

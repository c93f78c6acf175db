#!/bin/bash
# The README's "Remote access" table, measured in one run: the demo read
# locally, over sshfs (tests/shell/test_sshfs.sh), over nfs-ganesha with
# libnfs (tests/shell/test_nfs.sh) and over Linux's own NFS server and
# client, NFSv4 and NFSv3 (tests/shell/test_knfs.sh, in a VM).  Each path's
# test runs as in `make check`; this adds the local reads and collects the
# figures.  Prints every test's output to $OUT (default a temporary
# directory, kept) and the table, in Markdown, on stdout.
#
# Use: make remote-table   (root; about 5 minutes; `make` first)
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testlib.sh
. "$here/testlib.sh"
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(cd "$here/.." && pwd)/$BUILD ;; esac
export BUILD
DEMO=$BUILD/idict-demo
CHECK=$BUILD/tests/idict-remote-check
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/idict-remote-table-XXXXXX")}
mkdir -p "$OUT"
chmod 755 "$OUT"

# ---- local: the same reads as over sshfs and ganesha, and the steering ----
local_path() {
	local mnt=$OUT/local-mnt demo s1 s2
	mkdir -p "$mnt"
	"$DEMO" --delay 2 --points 200 --steps 1000000000 --linger 2 "$mnt" >"$OUT/local-demo.out" 2>&1 &
	demo=$!
	for _ in $(seq 100); do
		[ -e "$mnt/ctl/status" ] && break
		sleep 0.1
	done
	"$CHECK" read --count 2000 --local "$mnt" --fresh step --label local \
		"$mnt" residual step time u message ctl/status 2>&1 | grep '^#'
	check "steer: echo 0.3 > params/alpha sets it" \
		bash -c "echo 0.3 > '$mnt/params/alpha' && [ \"\$(cat '$mnt/params/alpha')\" = 0.3 ]"
	check "steer: /bin/echo 0.9 > params/alpha (refused) fails and changes nothing" \
		bash -c "! /bin/echo 0.9 > '$mnt/params/alpha' 2>/dev/null && [ \"\$(cat '$mnt/params/alpha')\" = 0.3 ]"
	check "steer: echo 1 > ctl/pause pauses" \
		bash -c "echo 1 > '$mnt/ctl/pause' && sleep 0.2 && grep -qx 'state paused' '$mnt/ctl/status'"
	check "steer: echo 0 > ctl/pause resumes" bash -c "echo 0 > '$mnt/ctl/pause'"
	check "follow: head -n1 updates gives the next update" \
		bash -c "timeout 10 head -n1 '$mnt/updates' | grep -q ."
	s1=$(cat "$mnt/ctl/sequence")
	sleep 0.5
	s2=$(cat "$mnt/ctl/sequence")
	check "follow: polling ctl/sequence advances ($s1, then $s2)" test "$s2" -gt "$s1"
	check "steer: echo 1 > ctl/terminate" bash -c "echo 1 > '$mnt/ctl/terminate'"
	wait_pid "$demo" 30 || kill -9 "$demo"
	check "steer: the demo exits 0 after terminate" test "${exit_status:-1}" = 0
}

echo "# remote-table: output in $OUT" >&2
start=$(date +%s)
local_path >"$OUT/local.out" 2>&1
for t in sshfs nfs knfs; do
	echo "# remote-table: running tests/shell/test_$t.sh" >&2
	t0=$(date +%s)
	TMPDIR=$OUT bash "$here/shell/test_$t.sh" >"$OUT/$t.out" 2>&1
	echo "# remote-table: test_$t.sh: $(($(date +%s) - t0)) s, $(grep -c '^ok - ' "$OUT/$t.out") ok, $(grep -c '^not ok - ' "$OUT/$t.out") not ok" >&2
done

# row FILE LABEL: "reads incomplete stale failed median" of figure line LABEL.
row() {
	sed -n "s/^# $2: \([0-9]*\) reads, \([0-9]*\) incomplete, \([0-9]*\) stale, \([0-9]*\) failed, median \([0-9.]*\) ms.*/\1 \2 \3 \4 \5/p" "$1" | head -n 1
}
# checks FILE REGEX: "P of N" of the ok / not ok lines matching REGEX.
checks() {
	local all ok
	all=$(grep -E '^(ok|not ok) - ' "$1" | grep -E -c "$2")
	ok=$(grep -E '^ok - ' "$1" | grep -E -c "$2")
	echo "$ok of $all pass"
}
# cells NAME FILE STEER_RE FOLLOW_RE KEYS LABEL...: one table row.  The
# first LABEL's reads check freshness on its reads of step (one key in
# KEYS, read round robin); incomplete counts are over every LABEL.
cells() {
	local name=$1 file=$2 steer=$3 follow=$4 keys=$5 n i s f m inc=0 total=0 medians=""
	shift 5
	read -r n _ s _ _ <<<"$(row "$file" "$1")"
	if [ -z "${n:-}" ]; then
		echo "| $name | no figures (see $file) | | | | |"
		return
	fi
	local step_reads=$(((n + keys - 1) / keys))
	for label in "$@"; do
		read -r n i _ f m <<<"$(row "$file" "$label")"
		total=$((total + n))
		inc=$((inc + i + f))
		if [ "$keys" -gt 1 ]; then
			medians="$m ($keys keys)"
		else
			medians="$medians${medians:+, }$m (${label##*-})"
		fi
	done
	printf '| %s | %s of %s | %s of %s | %s | %s | %s |\n' "$name" "$s" "$step_reads" \
		"$inc" "$total" "$(checks "$file" "$steer")" "$(checks "$file" "$follow")" "$medians"
}

steer_re='alpha|pause|resume|terminate|refus|writing|EINVAL|EACCES'
follow_re='sequence|updates'
echo "Measured by \`make remote-table\` in $(($(date +%s) - start)) s on $(date -u +%Y-%m-%d)" \
	"($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))."
echo
echo "| path | fresh: reads of step older than a local read just before | whole: incomplete or failed reads | steer checks | follow checks | median read, ms |"
echo "|---|---|---|---|---|---|"
cells "local (the mount itself)" "$OUT/local.out" "^(ok|not ok) - steer" "^(ok|not ok) - follow" \
	6 local
cells "sshfs" "$OUT/sshfs.out" "$steer_re" "$follow_re" 6 sshfs
cells "nfs-ganesha + libnfs (NFSv4)" "$OUT/nfs.out" "$steer_re" "$follow_re" 6 nfs
for v in 4 3; do
	cells "Linux nfsd + NFS client, NFSv$v" "$OUT/knfs.out" "NFSv$v steer|steer: .*NFSv$v" \
		"NFSv$v follow" 1 "knfs-v$v-step" "knfs-v$v-u" "knfs-v$v-residual"
done
echo
echo "Figure lines:"
echo
grep -h -E '^# (local|sshfs|nfs|knfs-v[34]-|knfs-2clients|knfs: the VM)' "$OUT"/{local,sshfs,nfs,knfs}.out |
	sed 's/^/    /'
! grep -q '^not ok - ' "$OUT"/{local,sshfs,nfs,knfs}.out

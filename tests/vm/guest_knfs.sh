#!/bin/bash
# In the test VM (tests/shell/test_knfs.sh boots it): the demo served through
# Linux's own NFS server and read through Linux's own NFS client, over the
# guest's loopback, set up as an administrator and a user would:
#
#   the computation, as an ordinary user (uid 1000), mounted allow_other;
#   /etc/exports:  MNT 127.0.0.1(rw,fsid=1,no_subtree_check,mp)
#   the client:    mount -t nfs server:MNT DIR   (default options: NFSv4.2)
#                  mount -t nfs -o vers=3 server:MNT DIR
#
# and, for each NFS version, as the same user on the client: fresh reads,
# whole reads, steering with echo, following with ctl/sequence.  Prints
# "ok - ..." / "not ok - ..." lines and "# knfs-vN: ..." lines with the
# measured figures.
#
# Use: guest_knfs.sh [--count N] [--versions "4 3"]
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/testlib.sh
. tests/testlib.sh
# shellcheck source=tests/vm/knfs-server.sh
. tests/vm/knfs-server.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
DEMO=$BUILD/idict-demo
CHECK=$BUILD/tests/idict-remote-check
count=2000
versions="4 3"
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift 2 ;;
	--versions) versions=$2; shift 2 ;;
	*) echo "guest_knfs.sh: unknown argument $1"; exit 2 ;;
	esac
done
USER_ID=1000
as_user() { setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups -- "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

dir=$(mktemp -d /tmp/knfs-XXXXXX)
chmod 755 "$dir"
mnt=$dir/mnt
mkdir "$mnt"
chown $USER_ID:$USER_ID "$mnt"

if ! knfs_start_server "$dir" >"$dir/server.out" 2>&1; then
	not_ok "the NFS server starts"
	cat "$dir/server.out"
	exit 1
fi
ok "the NFS server starts (nfsd versions: $(cat /proc/fs/nfsd/versions))"
echo "# knfs: fs.leases-enable = $(cat /proc/sys/fs/leases-enable)"

# ---- the computation, as a user, then the export ----
as_user "$DEMO" --delay 2 --tolerance 0 --steps 1000000000 --linger 2 --options allow_other "$mnt" \
	>"$dir/demo.out" 2>&1 &
demo=$!
for _ in $(seq 300); do
	[ -e "$mnt/ctl/status" ] && break
	sleep 0.1
done
if [ ! -e "$mnt/ctl/status" ]; then
	not_ok "the demo mounts"
	cat "$dir/demo.out"
	exit 1
fi
# fsid: FUSE has no device number nfsd could use; mp: export nothing while
# the computation is not mounted there (else the empty directory below).
knfs_export "$mnt" rw,fsid=1,no_subtree_check,mp
check "exportfs exports the mount" bash -c "exportfs -v | grep -q '$mnt'"
exportfs -v | sed 's/^/# knfs: /' | tr -s '\t\n' ' '
echo

# Reads as the user until one works: the first OPEN after the server's
# start waits for the end of its grace period.
first_read() {
	local start
	start=$(now_ms)
	for _ in $(seq 60); do
		as_user cat "$1/step" >/dev/null 2>&1 && break
		sleep 0.5
	done
	echo "# knfs: first read through $1 after $(($(now_ms) - start)) ms"
	as_user cat "$1/step" >/dev/null
}

states() { cat /proc/fs/nfsd/clients/*/states 2>/dev/null; }

run_checks() {
	local v=$1 c=$dir/v$1 status start
	echo "# ---- NFSv$v ----"
	if [ "$v" = 4 ]; then
		knfs_mount "$c" "$mnt" >"$dir/mount$v.out" 2>&1
	else
		knfs_mount "$c" "$mnt" vers=3 >"$dir/mount$v.out" 2>&1
	fi
	status=$?
	check "NFSv$v: the client mounts the export" test "$status" = 0
	if [ "$status" != 0 ]; then
		cat "$dir/mount$v.out"
		return
	fi
	local options
	options=$(awk -v c="$c" '$2 == c { print $4 }' /proc/mounts)
	echo "# knfs-v$v: mount options: $options"
	check "NFSv$v: the client uses NFSv$v" grep -q "vers=$v" <<<"$options"
	check "NFSv$v: reading works" first_read "$c"

	# ---- fresh: no remote read older than a local read just before ----
	as_user "$CHECK" read --count "$count" --local "$mnt" --fresh step --label "knfs-v$v-step" \
		"$c" step >"$dir/fresh$v.out" 2>&1
	status=$?
	grep '^#' "$dir/fresh$v.out"
	check "NFSv$v fresh: $count reads of step, none older than a local read just before" \
		test "$status" = 0
	[ "$status" = 0 ] || grep -v '^#' "$dir/fresh$v.out" | head -n 5
	# The server pins every file a kernel thread opens (src/pins.c), so
	# nfsd grants no read delegation, with leases enabled as by default.
	local delegations
	delegations=$(states | grep -c 'type: deleg')
	check "NFSv$v: no read delegation is held ($delegations; fs.leases-enable=$(cat /proc/sys/fs/leases-enable))" \
		test "$delegations" = 0
	states | grep -B1 -A4 'type: deleg' | head -n 10 | sed 's/^/#   /'

	# ---- whole: every read is one complete value ----
	local key
	for key in u residual; do
		as_user "$CHECK" read --count "$count" --local "$mnt" --label "knfs-v$v-$key" \
			"$c" "$key" >"$dir/whole$v-$key.out" 2>&1
		status=$?
		grep '^#' "$dir/whole$v-$key.out"
		check "NFSv$v whole: $count reads of $key, all complete" test "$status" = 0
		[ "$status" = 0 ] || grep -v '^#' "$dir/whole$v-$key.out" | head -n 5
	done

	# ---- steer: echo as the user; refusals fail and change nothing ----
	as_user bash -c "echo 0.3 > '$c/params/alpha'" 2>"$dir/echo$v.err"
	status=$?
	check "NFSv$v steer: echo 0.3 > params/alpha sets it" \
		test "$status/$(cat "$mnt/params/alpha")" = 0/0.3
	[ "$status" = 0 ] || cat "$dir/echo$v.err"
	# The NFS client writes back at close(): a refusal fails close(), which
	# /bin/echo (coreutils) reports and bash's builtin echo ignores.
	as_user bash -c "/bin/echo 0.9 > '$c/params/alpha'" 2>"$dir/refused$v.err"
	status=$?
	check "NFSv$v steer: /bin/echo 0.9 > params/alpha (refused by the check) fails with a message" \
		test "$status" != 0 -a -s "$dir/refused$v.err"
	sed 's/^/#   /' "$dir/refused$v.err"
	as_user bash -c "echo 0.9 > '$c/params/alpha'" 2>"$dir/builtin$v.err"
	status=$?
	echo "# knfs-v$v: bash's builtin echo 0.9 > params/alpha: exit $status," \
		"\"$(tr '\n' ' ' <"$dir/builtin$v.err")\""
	check "NFSv$v steer: refused values change nothing" test "$(cat "$mnt/params/alpha")" = 0.3
	check "NFSv$v steer: ... and the client reads the value kept, not the one it wrote" \
		test "$(as_user cat "$c/params/alpha")" = 0.3
	as_user bash -c "echo 1 > '$c/ctl/pause'" 2>"$dir/pause$v.err"
	status=$?
	check "NFSv$v steer: echo 1 > ctl/pause pauses" \
		bash -c "[ $status = 0 ] && grep -qx 'state paused' '$mnt/ctl/status'"
	[ "$status" = 0 ] || cat "$dir/pause$v.err"
	sleep 0.2 # a step under way has published its update
	check "NFSv$v steer: ctl/status read over NFS says paused" \
		bash -c "grep -qx 'state paused' '$c/ctl/status'"
	# No update comes while paused: a read of updates that reaches the
	# server (O_DIRECT ignores the size 0) is answered at once, never
	# parked in one of nfsd's few threads.
	start=$(now_ms)
	as_user timeout 20 dd if="$c/updates" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null
	status=$?
	check "NFSv$v follow: a read of updates while paused ends at once (exit $status after $(($(now_ms) - start)) ms)" \
		test "$status" = 0
	as_user bash -c "echo 0 > '$c/ctl/pause'" 2>"$dir/resume$v.err"
	status=$?
	check "NFSv$v steer: echo 0 > ctl/pause resumes" \
		bash -c "[ $status = 0 ] && grep -qx 'state running' '$mnt/ctl/status'"
	# root on the client is squashed to nobody (root_squash, the default).
	check "NFSv$v: root on the client reads" bash -c "grep -Eq '^[0-9]+\$' '$c/step'"
	check "NFSv$v: root on the client (squashed to nobody) may not write" \
		bash -c "! /bin/echo 0.2 > '$c/params/alpha' && [ \"\$(cat '$mnt/params/alpha')\" = 0.3 ]"
	# Another user on the client (uid 65534): the modes, checked by idictfs
	# itself (no default_permissions).  nfsd's ACCESS does not reach FUSE
	# without default_permissions, so test -w may say yes: printed, not
	# checked; the write itself is refused.
	check "NFSv$v: uid 65534 on the client reads" \
		setpriv --reuid=65534 --regid=65534 --clear-groups -- grep -Eq '^[0-9]+$' "$c/step"
	echo "# knfs-v$v: uid 65534: test -w params/alpha: $(setpriv --reuid=65534 --regid=65534 \
		--clear-groups -- bash -c "test -w '$c/params/alpha' && echo yes || echo no")"
	check "NFSv$v: uid 65534 may not write a key, ctl/pause or truncate; nothing changes" \
		setpriv --reuid=65534 --regid=65534 --clear-groups -- bash -c \
		"! /bin/echo 0.2 > '$c/params/alpha' && ! /bin/echo 1 > '$c/ctl/pause' &&
		 ! truncate -s 0 '$c/params/alpha' && [ \"\$(cat '$mnt/params/alpha') \$(cat '$mnt/ctl/pause')\" = '0.3 0' ]"

	# ---- follow ----
	local s1 s2 line
	s1=$(as_user cat "$c/ctl/sequence")
	sleep 0.5
	s2=$(as_user cat "$c/ctl/sequence")
	check "NFSv$v follow: polling ctl/sequence advances ($s1, then $s2)" \
		test "${s2:-0}" -gt "${s1:-0}"
	start=$(now_ms)
	line=$(as_user timeout 10 head -n1 "$c/updates")
	status=$?
	echo "# knfs-v$v: head -n1 updates: exit $status after $(($(now_ms) - start)) ms," \
		"\"$line\""
}

for v in $versions; do
	run_checks "$v"
done

# ---- two clients at once: a limit, measured, not checked ----
if [ -d "$dir/v4" ] && [ -d "$dir/v3" ] && grep -q " $dir/v3 " /proc/mounts; then
	as_user "$CHECK" read --count $((count / 2)) --local "$mnt" --label knfs-2clients-v4-u \
		"$dir/v4" u >"$dir/two4.out" 2>&1 &
	two=$!
	as_user "$CHECK" read --count $((count / 2)) --local "$mnt" --label knfs-2clients-v3-u \
		"$dir/v3" u >"$dir/two3.out" 2>&1
	wait "$two"
	grep -h '^#' "$dir/two4.out" "$dir/two3.out"
fi

# ---- leases on and no pins: the computation warns ----
# With default_permissions asked for, the kernel checks modes before the
# server's own write open of a read-only key: no pin, and a warning.
mnt2=$dir/mnt2
mkdir "$mnt2"
chown $USER_ID:$USER_ID "$mnt2"
as_user "$DEMO" --delay 20 --steps 1000000000 --options allow_other,default_permissions "$mnt2" \
	>"$dir/demo2.out" 2>&1 &
demo2=$!
for _ in $(seq 300); do
	[ -e "$mnt2/ctl/status" ] && break
	sleep 0.1
done
knfs_export "$mnt2" rw,fsid=2,no_subtree_check,mp
if knfs_mount "$dir/w4" "$mnt2" >"$dir/mount-w4.out" 2>&1; then
	as_user cat "$dir/w4/residual" >/dev/null
	sleep 0.5
	check "leases on, pins impossible: the computation warns once" \
		test "$(grep -c 'fs.leases-enable=1' "$dir/demo2.out")" = 1
	grep 'fs.leases-enable' "$dir/demo2.out" | sed 's/^/# demo2: /'
	umount "$dir/w4"
else
	not_ok "the second export mounts"
	cat "$dir/mount-w4.out"
fi
echo 1 >"$mnt2/ctl/terminate"
wait_pid "$demo2" 30 || kill -9 "$demo2"

echo "# ---- the end ----"
echo "# knfs: nfsd file cache: $(tr -s ' \n' ' ' </proc/fs/nfsd/filecache)"
last=$(echo "$versions" | awk '{ print $1 }')
as_user bash -c "echo 1 > '$dir/v$last/ctl/terminate'" 2>"$dir/terminate.err"
status=$?
check "steer: echo 1 > ctl/terminate over NFSv$last is taken" test "$status" = 0
[ "$status" = 0 ] || cat "$dir/terminate.err"
if wait_pid "$demo" 30; then
	check "the demo exits 0 after terminate" test "${exit_status:-1}" = 0
	# The export holds the mount, so it can only have been detached.
	check "no FUSE mount left behind while exported" bash -c "! grep -q ' $mnt ' /proc/mounts"
else
	not_ok "the demo exits after terminate"
fi
tail -n 3 "$dir/demo.out" | sed 's/^/# demo: /'
true

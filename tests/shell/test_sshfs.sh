#!/bin/bash
# Remote access over sshfs (issue 4): a private sshd on 127.0.0.1 (its own
# config, host key and client key in a temporary directory), the demo
# updating fast, and an sshfs mount of it with the README's options.
# Prints "ok - ..." / "not ok - ..." and "# sshfs: ..." lines with the
# measured read latency and rate of incomplete reads.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
CHECK=$(cd "$(dirname "$BUILD/tests/idict-remote-check")" && pwd)/idict-remote-check
SSHD=/usr/sbin/sshd
SFTP_SERVER=/usr/lib/openssh/sftp-server
# The options the README documents.
SSHFS_OPTS=direct_io,dir_cache=no,attr_timeout=0,entry_timeout=0,negative_timeout=0,sshfs_sync,max_conns=4


for tool in "$SSHD" "$SFTP_SERVER" sshfs ssh ssh-keygen setpriv; do
	if ! command -v "$tool" >/dev/null; then
		not_ok "sshfs tests: $tool is missing (contrib/install-deps.sh installs it)"
		exit 1
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	# sshd needs root to log a user in, and the tests log in as nobody too.
	echo "ok - sshfs tests # SKIP they need root"
	exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-sshfs-test-XXXXXX")
chmod 755 "$dir" # sftp-server runs as nobody for the permission tests
mnt=$dir/mnt
remote=$dir/remote
remote2=$dir/remote-nobody
mkdir -p "$remote" "$remote2"
pids=()  # every process started here, killed on exit
demo=
sshd=

# Unmounts @1 if mounted: sshfs forwards no interrupts, so a client blocked
# in a read keeps it busy for a while; retry, then detach.
unmount() {
	grep -q " $1 " /proc/mounts || return 0
	for _ in $(seq 20); do
		fusermount3 -u "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fusermount3 -u -z "$1" 2>/dev/null
}

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	unmount "$remote"
	unmount "$remote2"
	# sshd's per-connection processes end with their clients; kill any left.
	if [ -n "$sshd" ]; then
		for p in $(ps -o pid= --ppid "$sshd" 2>/dev/null); do kill "$p" 2>/dev/null; done
	fi
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	unmount "$mnt"
	rm -rf "$dir"
}
trap cleanup EXIT


# Prints a TCP port on 127.0.0.1 that nothing listens on or uses.
free_port() {
	local used port
	used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ local _; do
		[ "$local" = local_address ] || printf '%d\n' "0x${local##*:}"
	done)
	while :; do
		port=$((20000 + RANDOM % 40000))
		grep -qx "$port" <<<"$used" || break
	done
	echo "$port"
}

# ---- the computation ----
"$DEMO" --delay 2 --points 200 --steps 1000000000 --linger 2 --options allow_other "$mnt" \
	>>"$dir/demo.out" 2>&1 &
demo=$!
pids+=("$demo")
for _ in $(seq 200); do
	[ -e "$mnt/ctl/status" ] && break
	sleep 0.05
done
if [ ! -e "$mnt/ctl/status" ]; then
	not_ok "the demo mounts"
	cat "$dir/demo.out"
	exit 1
fi

# ---- a private sshd ----
ssh-keygen -q -t ed25519 -N '' -C idict-test-host -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -C idict-test-client -f "$dir/client_key"
cp "$dir/client_key.pub" "$dir/authorized_keys"
mkdir -p /run/sshd # sshd's privilege separation directory
for attempt in 1 2 3 4 5; do
	port=$(free_port)
	cat >"$dir/sshd_config" <<-EOF
		ListenAddress 127.0.0.1
		Port $port
		HostKey $dir/host_key
		AuthorizedKeysFile $dir/authorized_keys
		PidFile none
		UsePAM no
		StrictModes no
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		Subsystem sftp $SFTP_SERVER
		Match User nobody
		    ForceCommand internal-sftp
	EOF
	"$SSHD" -D -e -f "$dir/sshd_config" >>"$dir/sshd.log" 2>&1 &
	sshd=$!
	for _ in $(seq 100); do
		grep -q "Server listening" "$dir/sshd.log" && break
		kill -0 "$sshd" 2>/dev/null || break
		sleep 0.05
	done
	grep -q "Server listening on 127.0.0.1 port $port" "$dir/sshd.log" && break
	wait "$sshd" 2>/dev/null
	sshd=
done
if [ -z "$sshd" ]; then
	not_ok "a private sshd starts on 127.0.0.1"
	cat "$dir/sshd.log"
	exit 1
fi
pids+=("$sshd")
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
cat >"$dir/ssh_config" <<EOF
Host idict-test
	HostName 127.0.0.1
	Port $port
	User root
	IdentityFile $dir/client_key
	IdentitiesOnly yes
	UserKnownHostsFile $dir/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	LogLevel ERROR
EOF
ssh_test() { ssh -F "$dir/ssh_config" idict-test "$@"; }
check "ssh to the private sshd runs a command" test "$(ssh_test echo hello)" = hello

# Mounts $2 (user@host:dir) at $1 with sshfs; sets $sshfs_pid.
mount_sshfs() {
	sshfs -f -F "$dir/ssh_config" -o "$SSHFS_OPTS" "$2" "$1" >>"$dir/sshfs.log" 2>&1 &
	sshfs_pid=$!
	pids+=("$sshfs_pid")
	for _ in $(seq 200); do
		grep -q " $1 fuse.sshfs " /proc/mounts && return 0
		kill -0 "$sshfs_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$dir/sshfs.log" >&2
	return 1
}

start=$(date +%s%N)
if ! mount_sshfs "$remote" "idict-test:$mnt"; then
	not_ok "sshfs mounts the demo's directory"
	exit 1
fi
echo "# sshfs: mounted in $((($(date +%s%N) - start) / 1000000)) ms with -o $SSHFS_OPTS"

# ---- reading ----
listing=$(ls -l "$remote")
check "ls -l lists keys, ctl and updates" \
	bash -c "grep -q ' residual\$' <<<'$listing' && grep -q ' ctl\$' <<<'$listing' &&
		grep -q ' updates\$' <<<'$listing'"
check "ls ctl lists errors, pause, sequence, status, terminate" \
	test "$(ls "$remote/ctl" | tr '\n' ' ')" = "errors pause sequence status terminate "
check "stat gives the exact size" \
	test "$(stat -c %s "$remote/params/alpha")" = "$(wc -c <"$remote/params/alpha")"
check "the modes are the local ones" \
	test "$(stat -c %A "$remote/residual") $(stat -c %A "$remote/params/alpha")" = \
	"$(stat -c %A "$mnt/residual") $(stat -c %A "$mnt/params/alpha")"
check "cat u gives one line per point" test "$(wc -l <"$remote/u")" = 200

# Many reads while the demo updates every 2 ms: each must be complete (a
# newline at the end, the local number of lines) and not older than a local
# read of step just before it.
"$CHECK" read --count 2000 --local "$mnt" --fresh step --label sshfs \
	"$remote" residual step time u message ctl/status >"$dir/reads.out" 2>&1
status=$?
cat "$dir/reads.out" | grep '^#'
check "2000 reads through sshfs while values change: complete and current" test "$status" = 0
[ "$status" = 0 ] || head -n 12 "$dir/reads.out"

# ---- writing: the local results, but SFTP has no EINVAL ----
# A value is published when the server's file is closed, and sshfs sends
# SFTP's close asynchronously, after the writer's close() has returned:
# wait_value waits (up to 10 s) for the value to arrive.
wait_value() {
	for _ in $(seq 200); do
		[ "$(cat "$mnt/params/alpha")" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
echo 0.3 >"$remote/params/alpha"
check "echo 0.3 > params/alpha over sshfs sets it" wait_value 0.3
err=$( (echo x >"$remote/params/alpha") 2>&1)
rc=$?
# sftp-server reports EINVAL as SSH_FX_FAILURE, which sshfs turns into EIO;
# without sshfs_sync the write would "succeed" and only close() would fail.
check "a refused value fails in write() (sshfs_sync), with EIO over SFTP" \
	bash -c "[ $rc != 0 ] && [[ '$err' == *'Input/output error'* ]]"
err=$( (echo 0.9 >"$remote/params/alpha") 2>&1)
check "the computation's check refuses alpha 0.9 over sshfs too" bash -c "[ -n '$err' ]"
check "refused writes leave the value" test "$(cat "$mnt/params/alpha")" = 0.3
# A value in several writes (sftp-server writes what sshfs sends, at
# offsets, and closes): published whole at the close, never a fragment.
printf 0.125 | dd bs=1 of="$remote/params/alpha" 2>/dev/null
check "dd bs=1 over sshfs: the whole value" wait_value 0.125
err=$(printf 0.95 | dd bs=1 of="$remote/params/alpha" 2>&1)
# sshfs sends SFTP's close at release, whose error no one sees: a value
# refused only at close goes unreported over sshfs (the README says so).
case $err in
*error*) echo "# dd bs=1 of a refused value over sshfs: dd reports an error" ;;
*) echo "# dd bs=1 of a refused value over sshfs: no error reported (close is async)" ;;
esac
check "dd bs=1 of a refused value over sshfs: nothing of it is published" \
	test "$(cat "$mnt/params/alpha")" = 0.125
err=$( (printf '0.2\n0.3\n' >"$remote/params/alpha") 2>&1)
check "two lines (bash printf writes each) over sshfs: refused in write()" \
	bash -c "[ -n '$err' ] && [ \"\$(cat '$mnt/params/alpha')\" = 0.125 ]"
echo 0.3 >"$remote/params/alpha"
wait_value 0.3
err=$( (echo 1 >"$remote/residual") 2>&1)
check "writing a read-only key: Permission denied" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$( (echo 1 >"$remote/ctl/sequence") 2>&1)
check "writing ctl/sequence: Permission denied" bash -c "[[ '$err' == *'Permission denied'* ]]"
check "rm of a key is refused" bash -c "! rm -f '$remote/residual' 2>/dev/null"
check "the key is still there" test -e "$mnt/residual"
err=$( (echo 2 >"$remote/ctl/pause") 2>&1)
check "ctl/pause refuses 2" bash -c "[ -n '$err' ] && [ \"\$(cat '$mnt/ctl/pause')\" = 0 ]"

# ---- following updates ----
timeout 20 head -n 100 "$remote/updates" >"$dir/updates.out"
check "head -n 100 updates through sshfs: 100 lines" test "$(wc -l <"$dir/updates.out")" = 100
check "... with consecutive sequence numbers (no line lost to read-ahead)" \
	bash -c "awk 'NR > 1 && \$1 != prev + 1 { bad = 1 } { prev = \$1 } END { exit bad }' \
		'$dir/updates.out'"
line=$(timeout 20 ssh -F "$dir/ssh_config" idict-test head -n1 "$mnt/updates")
check "ssh host head -n1 MNT/updates gives an update line" \
	bash -c "[[ '$line' =~ ^[0-9]+\ update(\ [a-z/]+)*\$ ]]"
s1=$(cat "$remote/ctl/sequence")
sleep 0.2
s2=$(cat "$remote/ctl/sequence")
check "ctl/sequence over sshfs advances ($s1, then $s2)" test "$s2" -gt "$s1"

# ---- the mount stays responsive while someone follows updates on it ----
echo 1 >"$remote/ctl/pause"
check "echo 1 > ctl/pause over sshfs pauses" grep -qx "state paused" "$mnt/ctl/status"
sleep 0.1 # a step under way when the pause came has published its update
paused_seq=$(cat "$mnt/ctl/sequence")
cat "$remote/updates" >"$dir/follow.out" &
follower=$!
pids+=("$follower")
sleep 0.5 # the follower's read is now parked in the computation
start=$(date +%s%N)
value=$(timeout 10 cat "$remote/residual")
elapsed=$((($(date +%s%N) - start) / 1000000))
check "with a blocked reader of updates, cat of a key works (${elapsed} ms)" test -n "$value"
echo "# sshfs: cat of a key while a reader of updates is blocked: $elapsed ms"
check "... and ctl/sequence does not change while paused" \
	test "$(timeout 10 cat "$remote/ctl/sequence")" = "$paused_seq"
timeout 10 bash -c "echo 0 > '$remote/ctl/pause'"
check "echo 0 > ctl/pause over sshfs resumes, with the reader still blocked" \
	grep -qx "state running" "$mnt/ctl/status"
for _ in $(seq 100); do
	[ -s "$dir/follow.out" ] && break
	sleep 0.05
done
check "the blocked reader gets the updates after the resume" \
	bash -c "head -n1 '$dir/follow.out' | grep -Eq '^$((paused_seq + 1)) update'"
kill "$follower" 2>/dev/null
wait_pid "$follower" 10

# ---- another user: allow_other (with default_permissions) ----
if mount_sshfs "$remote2" "nobody@idict-test:$mnt"; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "$1" 2>&1 >/dev/null; }
	check "as nobody over sshfs: keys read" test -n "$(cat "$remote2/residual")"
	err_remote=$( (echo 0.2 >"$remote2/params/alpha") 2>&1)
	err_local=$(as_nobody "echo 0.2 > '$mnt/params/alpha'")
	check "as nobody: writing a key is refused over sshfs and locally (EACCES)" \
		bash -c "[[ '$err_remote' == *'Permission denied'* && '$err_local' == *'Permission denied'* ]]"
	err_remote=$( (echo 1 >"$remote2/ctl/pause") 2>&1)
	check "as nobody: ctl/pause is refused over sshfs (EACCES)" \
		bash -c "[[ '$err_remote' == *'Permission denied'* ]]"
	check "as nobody: nothing changed" test "$(cat "$mnt/params/alpha") $(cat "$mnt/ctl/pause")" = "0.3 0"
	unmount "$remote2"
else
	not_ok "sshfs mounts as user nobody (internal-sftp)"
fi

# ---- the end ----
unmount "$remote"
check "the sshfs mount is gone" bash -c "! grep -q ' $remote ' /proc/mounts"
kill "$sshd"
wait_pid "$sshd" 10
echo 1 >"$mnt/ctl/terminate"
wait_pid "$demo" 30
check "the demo exits 0 after terminate" test "${exit_status:-1}" = 0
check "the demo's run had no sanitizer reports" \
	bash -c "! grep -qE 'Sanitizer|runtime error' '$dir/demo.out'"

#!/bin/bash
# Remote access over NFS (issue 4): the kernel here has neither an NFS server
# nor an NFS client, so a private nfs-ganesha (NFSv4 over TCP on 127.0.0.1,
# no rpcbind) exports the demo's mount, and libnfs is the client (nfs-ls,
# nfs-cat and tests/idict-remote-check.c).  File handles are also tested
# directly with name_to_handle_at()/open_by_handle_at() after dropping the
# kernel's caches.  Prints "ok - ..." / "not ok - ..." and "# nfs: ..." lines
# with the measured read latency and rate of incomplete reads.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
CHECK=$(cd "$(dirname "$BUILD/tests/idict-remote-check")" && pwd)/idict-remote-check


for tool in ganesha.nfsd nfs-ls nfs-cat setpriv; do
	if ! command -v "$tool" >/dev/null; then
		not_ok "NFS tests: $tool is missing (contrib/install-deps.sh installs it)"
		exit 1
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	# ganesha exports with root's rights; dropping caches needs root.
	echo "ok - NFS tests # SKIP they need root"
	exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-nfs-test-XXXXXX")
chmod 755 "$dir"
mnt=$dir/mnt
pids=() # every process started here, killed on exit
demo=
ganesha=

cleanup() {
	# ganesha first (it holds the export), then the computation.
	for p in "$ganesha" "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "$ganesha" "${pids[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
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

# TRUE if something listens on 127.0.0.1:$1 (ganesha's socket is an IPv6
# one, bound to the IPv4-mapped address).
listening() {
	grep -Eq "^ *[0-9]+: [0-9A-F]*0100007F:$(printf '%04X' "$1") [0:]+ 0A " \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# ---- the computation, mounted first: ganesha binds to its device ----
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

# ---- file handles, as the kernel's nfsd would use them ----
"$CHECK" handles "$mnt" . ctl ctl/status ctl/sequence ctl/pause updates params params/alpha \
	residual u >"$dir/handles.out" 2>&1
check "file handles of every kind of file open again after dropping the caches" test $? = 0
cat "$dir/handles.out"
check "the mount works after the kernel forgot its inodes" \
	bash -c "grep -Eq '^[0-9]+\$' '$mnt/step' && test -n \"\$(ls '$mnt/params')\""

# ---- a private nfs-ganesha ----
mkdir -p "$dir/ganesha/recovery" "$dir/ganesha/krb5"
for attempt in 1 2 3 4 5; do
	port=$(free_port)
	cat >"$dir/ganesha/ganesha.conf" <<-EOF
		NFS_CORE_PARAM {
			Protocols = 4;
			NFS_Port = $port;
			Bind_addr = 127.0.0.1;
			Enable_UDP = false;
			Enable_NLM = false;
			Enable_RQUOTA = false;
		}
		NFSV4 {
			Graceless = true;
			RecoveryRoot = $dir/ganesha/recovery;
		}
		NFS_KRB5 {
			Active_krb5 = false;
			CCacheDir = $dir/ganesha/krb5;
		}
		EXPORT {
			Export_Id = 1;
			Path = $mnt;
			Pseudo = /idict;
			Protocols = 4;
			Transports = TCP;
			Access_Type = RW;
			Squash = No_Root_Squash;
			SecType = sys;
			Attr_Expiration_Time = 0;
			FSAL { Name = VFS; }
			CLIENT { Clients = 127.0.0.1; Access_Type = RW; }
		}
	EOF
	ganesha.nfsd -F -f "$dir/ganesha/ganesha.conf" -L "$dir/ganesha/log" \
		-p "$dir/ganesha/pid" &
	ganesha=$!
	for _ in $(seq 100); do
		listening "$port" && break
		kill -0 "$ganesha" 2>/dev/null || break
		sleep 0.05
	done
	listening "$port" && break
	kill "$ganesha" 2>/dev/null
	wait "$ganesha" 2>/dev/null
	ganesha=
done
if [ -z "$ganesha" ]; then
	not_ok "a private nfs-ganesha starts on 127.0.0.1"
	tail -n 20 "$dir/ganesha/log"
	exit 1
fi
url="nfs://127.0.0.1/idict?version=4&nfsport=$port"
file_url() { echo "nfs://127.0.0.1/idict/$1?version=4&nfsport=$port"; }
# nfs-cat reads until it has st_size bytes: it would loop forever on a file
# that came out shorter.  Bounded, so that such a bug fails instead of hangs.
nfs_cat() { timeout 10 nfs-cat "$@"; }

# ---- reading ----
listing=$(timeout 10 nfs-ls "$url" 2>&1)
check "nfs-ls lists keys, ctl and updates" \
	bash -c "grep -q ' residual\$' <<<'$listing' && grep -q ' ctl\$' <<<'$listing' &&
		grep -q ' updates\$' <<<'$listing'"
check "nfs-cat of a key prints its value" \
	bash -c "timeout 10 nfs-cat '$(file_url residual)' | grep -Eq '^[-+0-9.e]+\$'"
check "nfs-cat of u gives one line per point" test "$(nfs_cat "$(file_url u)" | wc -l)" = 200
# nfs-cat reads st_size bytes and loops while it has fewer: a value that
# shrank between its GETATTR and READ used to hang it.
bad=0
for _ in $(seq 50); do
	[ "$(nfs_cat "$(file_url u)" | wc -l)" = 200 ] || bad=$((bad + 1))
done
echo "# nfs: nfs-cat of u 50 times while it changes: $bad incomplete or hung"
check "50 nfs-cat of u while it changes: all complete, none hangs" test "$bad" = 0

# Many reads of exactly st_size bytes while the demo updates every 2 ms.
"$CHECK" nfs-read --count 2000 --local "$mnt" --fresh step --label nfs \
	"$url" residual step time u message ctl/status >"$dir/reads.out" 2>&1
status=$?
grep '^#' "$dir/reads.out"
check "2000 reads of st_size bytes over NFS while values change: complete and current" \
	test "$status" = 0
[ "$status" = 0 ] || head -n 12 "$dir/reads.out"
# Two clients at once: one's GETATTR falls between the other's.
"$CHECK" nfs-read --count 1000 --local "$mnt" --label nfs-2-clients "$url" residual u \
	>"$dir/reads1.out" 2>&1 &
other=$!
pids+=("$other")
"$CHECK" nfs-read --count 1000 --local "$mnt" --label nfs-2-clients "$url" residual u \
	>"$dir/reads2.out" 2>&1
status=$?
wait_pid "$other" 60
grep -h '^#' "$dir/reads1.out" "$dir/reads2.out"
check "two clients reading at once: complete" \
	test "$status/${exit_status:-1}" = 0/0

# ---- writing: the same errors as locally ----
w() { "$CHECK" nfs-write "$@" 2>&1; }
check "writing 0.3 to params/alpha over NFS sets it" \
	bash -c "[ \"\$('$CHECK' nfs-write '$url' /params/alpha 0.3)\" = ok ] &&
		[ \"\$(cat '$mnt/params/alpha')\" = 0.3 ]"
# Text ending in a newline, as echo writes it, is judged in the WRITE.
check "writing x to params/alpha: EINVAL" test "$(w "$url" /params/alpha $'x\n')" = EINVAL
check "alpha 0.9, refused by the computation's check: EINVAL" \
	test "$(w "$url" /params/alpha $'0.9\n')" = EINVAL
# Without the newline it is judged at COMMIT and close, whose errors
# nfs-ganesha does not pass on: refused all the same.
w "$url" /params/alpha 0.9 >/dev/null
w "$url" /params/alpha x >/dev/null
check "refused writes leave the value" test "$(cat "$mnt/params/alpha")" = 0.3
check "writing a read-only key: EACCES" test "$(w "$url" /residual 1)" = EACCES
check "writing ctl/sequence: EACCES" test "$(w "$url" /ctl/sequence 1)" = EACCES
check "ctl/pause refuses 2: EINVAL" test "$(w "$url" /ctl/pause 2)" = EINVAL

# ---- following progress: statelessly, and the blocking stream ----
s1=$(nfs_cat "$(file_url ctl/sequence)")
sleep 0.2
s2=$(nfs_cat "$(file_url ctl/sequence)")
check "ctl/sequence over NFS advances ($s1, then $s2)" test "$s2" -gt "$s1"
timeout 20 "$CHECK" nfs-follow --lines 100 "$url" >"$dir/updates.out"
check "100 lines of updates with blocking NFS reads" test "$(wc -l <"$dir/updates.out")" = 100
check "... with consecutive sequence numbers" \
	bash -c "awk 'NR > 1 && \$1 != prev + 1 { bad = 1 } { prev = \$1 } END { exit bad }' \
		'$dir/updates.out'"

check "writing 1 to ctl/pause over NFS pauses" \
	bash -c "[ \"\$('$CHECK' nfs-write '$url' /ctl/pause 1)\" = ok ] &&
		grep -qx 'state paused' '$mnt/ctl/status'"
sleep 0.1 # a step under way when the pause came has published its update
paused_seq=$(cat "$mnt/ctl/sequence")
"$CHECK" nfs-follow --lines 1 "$url" >"$dir/follow.out" 2>&1 &
follower=$!
pids+=("$follower")
sleep 0.5 # its READ is now parked in the computation, holding a ganesha thread
start=$(date +%s%N)
value=$(nfs_cat "$(file_url residual)")
elapsed=$((($(date +%s%N) - start) / 1000000))
check "with a blocked NFS reader of updates, nfs-cat of a key works (${elapsed} ms)" \
	test -n "$value"
echo "# nfs: nfs-cat of a key while a reader of updates is blocked: $elapsed ms"
check "writing 0 to ctl/pause over NFS resumes" \
	test "$(w "$url" /ctl/pause 0)" = ok
wait_pid "$follower" 20
check "the blocked NFS reader gets the update after the resume" \
	grep -Eq "^$((paused_seq + 1)) update" "$dir/follow.out"

# ---- another user: the same results as locally ----
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "$1" 2>&1 >/dev/null; }
check "as uid 65534 over NFS: keys read" \
	bash -c "'$CHECK' nfs-cat --uid 65534 '$url' /residual | grep -Eq '^[-+0-9.e]+\$'"
err_local=$(as_nobody "echo 0.2 > '$mnt/params/alpha'")
check "as uid 65534: writing a key is refused over NFS and locally (EACCES)" \
	bash -c "[ \"\$('$CHECK' nfs-write --uid 65534 '$url' /params/alpha 0.2)\" = EACCES ] &&
		[[ '$err_local' == *'Permission denied'* ]]"
check "as uid 65534: ctl/pause is refused (EACCES)" \
	test "$(w --uid 65534 "$url" /ctl/pause 1)" = EACCES

# ---- handles held by ganesha survive the kernel dropping its caches ----
echo 2 >/proc/sys/vm/drop_caches
"$CHECK" nfs-read --count 200 --local "$mnt" --label nfs-after-drop-caches \
	"$url" residual params/alpha u >"$dir/reads3.out" 2>&1
check "NFS reads work after the kernel dropped its caches" test $? = 0
grep '^#' "$dir/reads3.out"

# ---- the end: ganesha first, then the computation ----
kill "$ganesha"
wait_pid "$ganesha" 20
check "ganesha stops" test -n "${exit_status:-}"
ganesha=
echo 1 >"$mnt/ctl/terminate"
wait_pid "$demo" 30
check "the demo exits 0 after terminate" test "${exit_status:-1}" = 0
check "no mount left behind" bash -c "! grep -q ' $mnt ' /proc/mounts"
check "the demo's run had no sanitizer reports" \
	bash -c "! grep -qE 'Sanitizer|runtime error' '$dir/demo.out'"

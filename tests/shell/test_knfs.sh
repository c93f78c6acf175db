#!/bin/bash
# The demo exported by Linux's own NFS server and read by Linux's own NFS
# client (issue 11), in a throwaway VM (tests/vm/vm.sh): this machine's kernel
# need have neither.  The checks run in the guest (tests/vm/guest_knfs.sh);
# this prints their "ok - ..." / "not ok - ..." lines and figures.  Fails,
# never skips, when something it needs is missing, and says what to install.
#
# In `make check-sanitize` (SANITIZE set) the guest reads 200 times per row
# instead of 2,000: that pass is for the memory checks of the code only
# kernel threads reach (src/pins.c, the kernel's rules in src/clients.c and
# src/fs.c), and the counts are the plain pass's.
#
# Use: test_knfs.sh [--count N] [--versions "4 3"]   (run as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testlib.sh
. "$here/../testlib.sh"
# shellcheck source=tests/vm/vm.sh
. "$here/../vm/vm.sh"
BUILD=${BUILD:-build}

fail() {
	not_ok "$1"
	exit 1
}

[ "$(id -u)" = 0 ] || fail "the kernel NFS test: run it as root (qemu reads the kernel image, the guest runs as root)"
why=$(vm_require) || fail "the kernel NFS test: $why"
missing=()
for tool in exportfs rpc.nfsd rpc.mountd rpc.statd rpcbind mount.nfs; do
	command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null ||
		missing+=("$tool")
done
[ "${#missing[@]}" = 0 ] ||
	fail "the kernel NFS test: ${missing[*]} missing: apt-get install nfs-kernel-server rpcbind (contrib/install-deps.sh)"
case $BUILD in /*) ;; *) BUILD=$VM_SRC/$BUILD ;; esac
export BUILD
for f in "$BUILD/idict-demo" "$BUILD/tests/idict-remote-check"; do
	[ -x "$f" ] || fail "the kernel NFS test: $f is not built (make)"
done

job=$(mktemp -d "${TMPDIR:-/tmp}/idict-knfs-XXXXXX")
trap 'rm -rf "$job"' EXIT
start=$(date +%s)
args=("$@")
[ -z "${SANITIZE:-}" ] || [[ " $* " == *" --count "* ]] || args=(--count 200 "$@")
vm_run "$job" 900 tests/vm/guest_knfs.sh "${args[@]}"
status=$?
cat "$job/log" 2>/dev/null
echo "# knfs: the VM ran $(($(date +%s) - start)) s (boot, NFS server, both versions)"
case $status in
0) ;;
124) not_ok "the kernel NFS test ends within 900 s" ;;
125) not_ok "the VM boots and runs the guest script" ;;
*) grep -q '^not ok - ' "$job/log" || not_ok "the guest script exits 0 (it exited $status)" ;;
esac
[ "$status" = 0 ] && ! grep -q '^not ok - ' "$job/log"

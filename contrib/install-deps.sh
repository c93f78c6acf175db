#!/bin/bash
# Installs what idictfs needs on Debian 12 (bookworm) or later: only Debian
# packages.  Uses sudo when not run as root.
#   contrib/install-deps.sh           everything: build, tools and `make check`
#   contrib/install-deps.sh --build   what `make`, the demo and the tools in
#                                     contrib/ need, without the test suite's
set -euo pipefail
build_packages=(
	make gcc g++ pkg-config    # the build (g++: src/format_double.cc)
	libfmt-dev                 # {fmt}: shortest digits of doubles (libfmt9 at run time)
	libfuse3-dev fuse3         # FUSE: library, fusermount3, /dev/fuse users
	libglib2.0-dev             # GLib
	libmount-dev               # libmount (util-linux): reading /proc/self/mountinfo
	libopenmpi-dev openmpi-bin # libidict-mpi and its demo (mpicc, mpirun); WITH_MPI=no builds without
	python3 python3-numpy gnuplot-nox      # contrib/python/idict.py, idict-plot
	jq rsync procps                        # the README's recipes (procps: watch)
)
test_packages=(
	check                      # unit tests
	locales                    # de_DE.UTF-8 (decimal comma), for the locale test
	psmisc                     # tests: fuser
	clang libclang-rt-14-dev   # libFuzzer targets (make fuzz, make check): compiler, runtime
	# Remote access tests (tests/shell/test_sshfs.sh, test_nfs.sh) run
	# private instances of these servers on 127.0.0.1; a system service
	# the install may start does not get in their way.
	openssh-server openssh-client sshfs        # sshd, ssh, ssh-keygen, sshfs
	nfs-ganesha nfs-ganesha-vfs                # a userspace NFSv4 server
	libnfs-utils libnfs-dev                    # a userspace NFS client
	# The kernel NFS test (tests/shell/test_knfs.sh, tests/vm/) boots a VM under qemu's
	# software emulation with Debian's own kernel, which has nfsd and the NFS
	# client; its root is this machine's /, so the guest runs these tools.
	qemu-system-x86 linux-image-amd64 busybox-static   # the VM, its kernel, its init
	nfs-kernel-server nfs-common rpcbind               # exportfs, rpc.nfsd/mountd/statd, mount.nfs
)
case ${1:-} in
--build) packages=("${build_packages[@]}"); tests=0 ;;
"") packages=("${build_packages[@]}" "${test_packages[@]}"); tests=1 ;;
*) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

# tests/test_format.c checks that a decimal-comma LC_NUMERIC changes nothing.
add_comma_locale() {
	[ "$tests" = 1 ] || return 0
	locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' ||
		$sudo localedef -i de_DE -c -f UTF-8 de_DE.UTF-8
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	add_comma_locale
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
add_comma_locale

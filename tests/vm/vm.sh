# shellcheck shell=bash
# tests/vm/vm.sh - runs a script as root in a throwaway Linux VM; sourced.
#
# The VM is what the machine running the tests may lack: a kernel with the
# NFS server and client (Debian's own, from linux-image-amd64), under qemu's
# software emulation (TCG; no KVM needed).  Its root is this machine's own /,
# read-only over 9p, so the guest runs the tools installed here and the
# project's build from the source tree; the guest writes only to tmpfs
# (/tmp, /run, /var/lib/nfs) and to the job directory.  There is
# no network device: whatever the script serves stays on the guest's
# loopback.  See tests/vm/init for the guest's side.
#
#   vm_require            checks for qemu, the guest kernel and busybox;
#                         prints what to install and returns 1 if one is
#                         missing
#   vm_run JOB TIMEOUT SCRIPT [ARG...]
#                         boots the VM, runs `bash SCRIPT ARG...` in it as
#                         root from the source tree (with $BUILD passed
#                         on if set), with JOB (an empty
#                         directory, here and in the guest) for its files;
#                         its output goes to JOB/log.  Returns the script's
#                         exit status, or 124 if the VM ran longer than
#                         TIMEOUT seconds, or 125 if it did not get as far as
#                         running the script (JOB/console has the boot log).
#
# The initramfs (busybox, tests/vm/init and the modules that mount 9p) is
# cached in $IDICT_VM_CACHE (default ~/.cache/idictfs-vm), one per kernel
# version and content of tests/vm/init.

VM_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_CACHE=${IDICT_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/idictfs-vm}
# Modules the initramfs loads to reach the host's root; everything else the
# guest loads itself with modprobe from the host's /lib/modules.
VM_MODULES="virtio_pci 9pnet_virtio 9p"

# The newest installed Debian kernel image.
vm_kernel() {
	find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1
}

vm_require() {
	local missing=() kernel
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	kernel=$(vm_kernel)
	if [ -z "$kernel" ] || [ ! -d "/lib/modules/${kernel#/boot/vmlinuz-}" ]; then
		missing+=(linux-image-amd64)
	elif [ ! -r "$kernel" ]; then
		echo "the guest kernel $kernel is not readable (run as root)"
		return 1
	fi
	[ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' ||
		missing+=(busybox-static)
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "the VM needs: apt-get install ${missing[*]} (contrib/install-deps.sh installs them)"
		return 1
	fi
}

# Prints the path of the initramfs for kernel image $1 (version $2),
# building it if it is not in the cache.
vm_initramfs() {
	local kernel=$1 kver=$2 key out root m modules
	key=$({ cat "$VM_SRC/tests/vm/init" /bin/busybox; echo "$VM_MODULES"; stat -c '%s %Y' "$kernel"; } |
		sha256sum | cut -c1-12)
	out=$VM_CACHE/initramfs-$kver-$key.cpio.gz
	[ -s "$out" ] && { echo "$out"; return 0; }
	# Every module with its dependencies before it, each once.
	modules=$(for m in $VM_MODULES; do modprobe -S "$kver" --show-depends "$m" || echo fail; done |
		awk '$1 == "fail" { print "fail"; exit } $1 == "insmod" && !seen[$2]++ { print $2 }')
	case $modules in "" | *fail*) echo "vm: modprobe cannot resolve $VM_MODULES for $kver" >&2; return 1 ;; esac
	mkdir -p "$VM_CACHE" && root=$(mktemp -d "$VM_CACHE/build-XXXXXX") || return 1
	mkdir -p "$root"/{bin,dev,host,modules,proc,sys}
	cp /bin/busybox "$root/bin/" && cp "$VM_SRC/tests/vm/init" "$root/init" && chmod 755 "$root/init" &&
		(for m in $modules; do
			# busybox's insmod takes plain modules; Debian after 12 compresses them.
			case $m in
			*.xz) xz -dc "$m" >"$root/modules/$(basename "$m" .xz)" ;;
			*.zst) zstd -qdc "$m" >"$root/modules/$(basename "$m" .zst)" ;;
			*) cp "$m" "$root/modules/" ;;
			esac || exit 1
			basename "${m%.xz}" | sed 's/\.zst$//'
		done) >"$root/modules/order" &&
		(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$root.cpio.gz" &&
		mv "$root.cpio.gz" "$out"
	local status=$?
	rm -rf "$root" "$root.cpio.gz"
	[ "$status" = 0 ] && echo "$out"
}

vm_run() {
	local job=$1 limit=$2 script=$3 kernel kver initramfs status q
	shift 3
	vm_require || return 125
	kernel=$(vm_kernel)
	kver=${kernel#/boot/vmlinuz-}
	initramfs=$(vm_initramfs "$kernel" "$kver") || { echo "vm: cannot build the initramfs"; return 125; }
	case "$job$VM_SRC" in *[[:space:]]*)
		echo "vm: paths with blanks cannot go on the kernel command line: $job $VM_SRC"
		return 125 ;;
	esac
	{
		echo "cd $(printf %q "$VM_SRC") || exit 125"
		[ -z "${BUILD:-}" ] || echo "export BUILD=$(printf %q "$BUILD")"
		printf 'exec bash'
		for q in "$script" "$@"; do printf ' %q' "$q"; done
		echo
	} >"$job/job"
	rm -f "$job/status" "$job/log"
	# TCG with one host thread per guest CPU: both cores of a small
	# machine, for as long as the script runs.
	timeout "$limit" qemu-system-x86_64 -nodefaults -no-user-config -display none \
		-accel tcg,thread=multi -cpu max -m 1024 -smp 2 -no-reboot \
		-kernel "$kernel" -initrd "$initramfs" \
		-append "console=ttyS0 quiet panic=-1 idict.job=$job idict.src=$VM_SRC" \
		-serial "file:$job/console" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$VM_SRC,mount_tag=src,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$job,mount_tag=job,security_model=none,multidevs=remap" \
		</dev/null >"$job/qemu.out" 2>&1
	status=$?
	if [ "$status" = 124 ]; then
		echo "vm: still running after $limit s, stopped"
		return 124
	fi
	if [ ! -s "$job/status" ]; then
		echo "vm: the guest did not run the script (qemu exit $status); its console:"
		tail -n 30 "$job/console" "$job/qemu.out" 2>/dev/null
		return 125
	fi
	return "$(cat "$job/status")"
}

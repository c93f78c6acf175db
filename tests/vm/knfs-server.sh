# shellcheck shell=bash
# tests/vm/knfs-server.sh - Linux's own NFS server and client, set up in the
# test VM as an administrator would on an installed system; sourced by
# guest scripts (tests/vm/guest_knfs.sh), run as root in the guest.
#
#   knfs_start_server DIR  loads the modules and starts rpcbind, rpc.statd,
#                          nfsd (NFSv3 and v4) and rpc.mountd, with
#                          /etc/exports and /etc/fuse.conf replaced by files
#                          in DIR (the guest's /etc is the host's, read-only)
#   knfs_export PATH OPTS  exports PATH to 127.0.0.1 with OPTS (an
#                          /etc/exports line, then exportfs -ra)
#   knfs_mount DIR PATH [MOUNT_OPTION...]
#                          mounts 127.0.0.1:PATH on DIR with the kernel's
#                          NFS client (default options unless given)
#
# Only the lease and grace times differ from a default server: 10 s instead
# of 90 s, the shortest nfsd takes, so that the first OPEN after the start
# does not wait out a 90 s grace period.

knfs_start_server() {
	local dir=$1
	modprobe -a fuse nfsd nfsv3 nfsv4 || return 1
	# udev does this on an installed system; devtmpfs leaves it 0600.
	chmod 666 /dev/fuse
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || return 1

	# The configuration files an administrator edits.
	: >"$dir/exports"
	mount --bind "$dir/exports" /etc/exports || return 1
	# allow_other for mounts by users: the server's threads are not the
	# user who mounted the FUSE filesystem.
	echo user_allow_other >"$dir/fuse.conf"
	mount --bind "$dir/fuse.conf" /etc/fuse.conf || return 1

	# NFSv3 needs rpcbind (and the client's default "lock" option statd).
	mkdir -p /run/rpcbind /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery
	chown _rpc /run/rpcbind 2>/dev/null
	chown statd /var/lib/nfs/sm /var/lib/nfs/sm.bak 2>/dev/null
	touch /var/lib/nfs/etab /var/lib/nfs/rmtab
	rpcbind || return 1
	rpc.statd --no-notify || return 1
	rpc.nfsd --lease-time 10 --grace-time 10 8 || return 1
	rpc.mountd --no-udp || return 1
}

knfs_export() {
	echo "$1 127.0.0.1($2)" >>/etc/exports
	exportfs -ra
}

knfs_mount() {
	local dir=$1 path=$2
	shift 2
	mkdir -p "$dir"
	if [ $# -gt 0 ]; then
		mount -t nfs -o "$(
			IFS=,
			echo "$*"
		)" "127.0.0.1:$path" "$dir"
	else
		mount -t nfs "127.0.0.1:$path" "$dir"
	fi
}

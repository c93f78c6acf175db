#!/bin/bash
# Who may see and change what: the default mount is private to the user
# who runs the computation; with allow_other, everyone may read and only
# the owner may write, unless write_mode says otherwise.  The other user is
# "nobody", reached with setpriv.  Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
DEMO=$(cd "$(dirname "$BUILD/idict-demo")" && pwd)/idict-demo
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-perm-test-XXXXXX")
chmod 755 "$dir"
mnt=$dir/mnt
demo=

cleanup() {
	[ -n "$demo" ] && kill -9 "$demo" 2>/dev/null
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT


if [ "$(id -u)" -ne 0 ]; then
	echo "not ok - the permission tests need root, to act as a second user with setpriv"
	exit 1
fi
# Runs a shell command as nobody; prints its stderr.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "$1" 2>&1 >/dev/null
}

start_demo() {
	"$DEMO" --delay 20 --linger 1 "$@" "$mnt" >>"$dir/demo.out" 2>&1 &
	demo=$!
	for _ in $(seq 200); do
		[ -e "$mnt/ctl/status" ] && return 0
		sleep 0.05
	done
	cat "$dir/demo.out" >&2
	return 1
}

stop_demo() {
	echo 1 >"$mnt/ctl/terminate"
	wait "$demo"
	demo=
}

# ---- the default: private ----
start_demo || exit 1
err=$(as_nobody "cat '$mnt/residual'")
check "default: another user cannot read a key (EACCES)" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$(as_nobody "ls '$mnt'")
check "default: another user cannot list the mount" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
check "default: the owner reads" test -n "$(cat "$mnt/residual")"
stop_demo

# ---- allow_other: read by all, written by the owner ----
start_demo --options allow_other || exit 1
# No default_permissions: the filesystem checks the modes itself (so that
# the server may hold its own files open: src/pins.c), with the kernel's
# answers.
check "allow_other: mounted without default_permissions" \
	bash -c "grep ' $mnt ' /proc/mounts | grep -v -q default_permissions"
check "allow_other: another user lists the mount" \
	test "$(setpriv --reuid=65534 --regid=65534 --clear-groups -- ls "$mnt" | grep -c -x -e residual -e params -e ctl)" = 3
check "allow_other: test -r, not -w or -x, for another user on a read-only key" \
	as_nobody "test -r '$mnt/residual' && ! test -w '$mnt/residual' && ! test -x '$mnt/residual'"
check "allow_other: test -r, not -w, for another user on a writable key (0644)" \
	as_nobody "test -r '$mnt/params/alpha' && ! test -w '$mnt/params/alpha'"
check "allow_other: test -r and -x on directories, not -w" \
	as_nobody "test -r '$mnt/params' && test -x '$mnt/params' && ! test -w '$mnt/params' && cd '$mnt/params'"
check "allow_other: access() answers as the modes say (Python os.access)" \
	test "$(setpriv --reuid=65534 --regid=65534 --clear-groups -- /usr/bin/python3 -c "
import os
p = '$mnt/params/alpha'
print(os.access(p, os.R_OK), os.access(p, os.W_OK), os.access(p, os.X_OK), os.access('$mnt/ctl/pause', os.W_OK))")" \
	= "True False False False"
check "allow_other: the owner may test -w a writable key, nobody a read-only one" \
	bash -c "test -w '$mnt/params/alpha' && ! test -w '$mnt/residual'"
err=$(as_nobody "truncate -s 0 '$mnt/params/alpha'")
check "allow_other: another user cannot truncate a writable key (EACCES)" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$(as_nobody "touch '$mnt/residual'")
check "allow_other: another user cannot touch a key (EACCES)" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$(as_nobody "chmod 666 '$mnt/params/alpha'")
check "allow_other: another user cannot chmod (EPERM)" \
	bash -c "[[ '$err' == *'Operation not permitted'* ]]"
err=$(as_nobody "cat '$mnt/residual' '$mnt/u' '$mnt/ctl/status' >/dev/null")
check "allow_other: another user reads keys and ctl/status" test -z "$err"
err=$(as_nobody "echo 0.3 > '$mnt/params/alpha'")
check "allow_other: another user cannot write a writable key (EACCES)" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$(as_nobody "echo 1 > '$mnt/ctl/pause'")
check "allow_other: another user cannot pause" bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$(as_nobody "echo 1 > '$mnt/ctl/terminate'")
check "allow_other: another user cannot terminate" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
check "allow_other: nothing changed" bash -c "[ \"\$(cat '$mnt/ctl/pause')\" = 0 ] && [ \"\$(cat '$mnt/params/alpha')\" = 0.25 ]"
echo 0.3 >"$mnt/params/alpha"
check "allow_other: the owner writes" test "$(cat "$mnt/params/alpha")" = 0.3
stop_demo

# ---- allow_other,write_mode=0666: the computation lets everyone steer ----
start_demo --options allow_other,write_mode=0666 || exit 1
check "write_mode=0666: params/alpha is -rw-rw-rw-" \
	test "$(stat -c %A "$mnt/params/alpha")" = "-rw-rw-rw-"
check "write_mode=0666: read-only keys stay -r--r--r--" \
	test "$(stat -c %A "$mnt/residual")" = "-r--r--r--"
err=$(as_nobody "echo 0.4 > '$mnt/params/alpha'")
check "write_mode=0666: another user writes a writable key" test -z "$err"
check "... and the value changed" test "$(cat "$mnt/params/alpha")" = 0.4
err=$(as_nobody "echo 1 > '$mnt/residual'")
check "write_mode=0666: read-only keys are still refused" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
err=$(as_nobody "echo 1 > '$mnt/ctl/pause'")
check "write_mode=0666: another user pauses" test -z "$err"
echo 0 >"$mnt/ctl/pause"
check "write_mode=0666: test -w for another user on a writable key, not a read-only one" \
	as_nobody "test -w '$mnt/params/alpha' && ! test -w '$mnt/residual'"

# ctl/errors: each user reads why their own writes were refused; the owner
# reads everyone's.
echo 0.7 >"$mnt/params/alpha" 2>/dev/null
# (dash's echo says "I/O error" for any failed write)
err=$(as_nobody "/bin/echo 0.9 > '$mnt/params/alpha'")
check "write_mode=0666: another user's refused value fails (EINVAL)" \
	bash -c "[[ '$err' == *'Invalid argument'* ]]"
seen=$(setpriv --reuid=65534 --regid=65534 --clear-groups -- cat "$mnt/ctl/errors")
check "ctl/errors: the other user reads the reason of their own refusal" \
	bash -c "grep -q ' 65534 params/alpha \"0.9\" alpha must lie in (0, 0.5]' <<<'$seen'"
check "ctl/errors: ... and nothing of the owner's" bash -c "! grep -qF '\"0.7\"' <<<'$seen'"
check "ctl/errors: the other user's stat size is their own text's" \
	test "$(setpriv --reuid=65534 --regid=65534 --clear-groups -- stat -c %s "$mnt/ctl/errors")" \
	= "$(printf '%s\n' "$seen" | wc -c)"
check "ctl/errors: the owner reads both" \
	bash -c "grep -q ' 0 params/alpha \"0.7\" ' '$mnt/ctl/errors' && grep -q ' 65534 params/alpha \"0.9\" ' '$mnt/ctl/errors'"
check "the demo printed both refusals" \
	bash -c "grep -q 'refused params/alpha = \"0.7\" from uid 0' '$dir/demo.out' &&
		grep -q 'refused params/alpha = \"0.9\" from uid 65534' '$dir/demo.out'"
stop_demo

# ---- allow_other,write_mode=0600: writable keys private to the owner ----
start_demo --options allow_other,write_mode=0600 || exit 1
err=$(as_nobody "cat '$mnt/params/alpha'")
check "write_mode=0600: another user cannot read a writable key (EACCES)" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
check "write_mode=0600: ... and test -r says so" as_nobody "! test -r '$mnt/params/alpha'"
err=$(as_nobody "cat '$mnt/residual' >/dev/null")
check "write_mode=0600: read-only keys stay readable by all" test -z "$err"
err=$(as_nobody "cat '$mnt/ctl/pause'")
check "write_mode=0600: another user cannot read ctl/pause either" \
	bash -c "[[ '$err' == *'Permission denied'* ]]"
check "write_mode=0600: the owner reads and writes" \
	bash -c "echo 0.3 > '$mnt/params/alpha' && [ \"\$(cat '$mnt/params/alpha')\" = 0.3 ]"
stop_demo

"$DEMO" --options write_mode=abc "$mnt" >"$dir/bad.out" 2>&1
rc=$?
check "a bad write_mode is refused (exit 1)" test "$rc" = 1
check "... with a message naming it" grep -q "bad option write_mode=abc" "$dir/bad.out"

#!/bin/bash
# The shape of src/ (tests/layout.py): no include cycle, no cycle between
# modules (dependencies run one way), libfuse seen only by the modules that
# serve files, and the store free of the filesystem's notions.
# Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)

check "no cycle among src/'s #includes" /usr/bin/python3 "$root/tests/layout.py" includes
check "no cycle among src/'s modules: dependencies run one way" \
	/usr/bin/python3 "$root/tests/layout.py" modules
check "libfuse's headers only in fs.h, pins.h, updates.h and server.c" \
	test "$(/usr/bin/python3 "$root/tests/layout.py" fuse | tr '\n' ' ')" = \
	"fs.h pins.h server.c updates.h "
store_files="store.c tree.c control.c notify.c value.c store.h store-internal.h value.h texts.h"
check "no store file mentions inodes, errno or FUSE" \
	bash -c "cd '$root/src' && ! grep -nwE 'ino|inodes?|errno|E[A-Z]{3,}|nlink' $store_files &&
		! grep -nwi 'fuse[a-z_]*' $store_files"

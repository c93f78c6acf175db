#!/bin/bash
# The public header as a GLib programmer uses it: every symbol documented
# (tests/api_docs.py), the version macros agree with the build, and the
# compiler enforces what the header promises (G_GNUC_WARN_UNUSED_RESULT,
# g_autoptr).  Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-api-test-XXXXXX")
trap 'rm -rf "$dir"' EXIT

/usr/bin/python3 "$root/tests/api_docs.py" "$root/include/idict.h" "$root/contrib/man/idict.3" \
	"$root/include/idict-mpi.h" "$root/contrib/man/idict-mpi.3"

cflags=$(PKG_CONFIG_PATH=$BUILD pkg-config --cflags idict)
version=$(PKG_CONFIG_PATH=$BUILD pkg-config --modversion idict)
header=$(printf '#include <idict.h>\nIDICT_MAJOR_VERSION.IDICT_MINOR_VERSION.IDICT_MICRO_VERSION\n' |
	cc -E -P $cflags - 2>/dev/null | tail -n1 | tr -d ' ')
check "the header's version ($header) is the library's (pkg-config: $version)" \
	test -n "$version" -a "$header" = "$version"
IFS=. read -r major minor micro <<<"$header"
cat >"$dir/version.c" <<C
#include <idict.h>
#if !IDICT_CHECK_VERSION($major, $minor, $micro) || !IDICT_CHECK_VERSION($major, 0, 0) || \
	!IDICT_CHECK_VERSION(0, 0, 0)
#error "IDICT_CHECK_VERSION refuses this version or an older one"
#endif
#if IDICT_CHECK_VERSION($major, $minor, $((micro + 1))) || IDICT_CHECK_VERSION($major, $((minor + 1)), 0) || \
	IDICT_CHECK_VERSION($((major + 1)), 0, 0)
#error "IDICT_CHECK_VERSION accepts a later version"
#endif
int main(void) { return 0; }
C
check "IDICT_CHECK_VERSION accepts this and older versions, refuses later ones" \
	cc -fsyntax-only $cflags "$dir/version.c"

# Ignoring a result that must be freed is a compiler warning.
for call in 'idict_new()' 'idict_keys(d)' 'idict_get_value(d, "k")' 'idict_dup_string(d, "k", NULL)' \
	'idict_serve(d, "m", NULL, NULL)' 'idict_load("f", NULL)' 'idict_check_key_name("k", NULL)'; do
	printf '#include <idict.h>\nvoid f(IDict *d);\nvoid f(IDict *d) { (void)d; %s; }\n' "$call" >"$dir/unused.c"
	cc -c -o /dev/null -Werror=unused-result $cflags "$dir/unused.c" >"$dir/unused.out" 2>&1
	status=$?
	check "ignoring the result of $call is a warning" \
		bash -c "[ $status != 0 ] && grep -q 'unused-result' '$dir/unused.out'"
done

# g_autoptr for both types: the server is closed (unmounted) at the end of
# its scope, the dictionary freed after it.
cat >"$dir/autoptr.c" <<'C'
#include <idict.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	(void)argc;
	g_autoptr(IDict) dict = idict_new();
	idict_set_int(dict, "x", 42, NULL);
	{
		g_autoptr(IDictServer) server = idict_serve(dict, argv[1], NULL, NULL);
		if (server == NULL)
			return 1;
		char path[4096];
		snprintf(path, sizeof path, "%s/x", argv[1]);
		FILE *f = fopen(path, "r");
		int x = 0;
		if (f == NULL || fscanf(f, "%d", &x) != 1 || x != 42)
			return 2;
		fclose(f);
	}
	puts("closed");
	return 0;
}
C
san=${SANITIZE:+-fsanitize=$SANITIZE}
# shellcheck disable=SC2046
cc $san -Wall -Werror -o "$dir/autoptr" "$dir/autoptr.c" $(PKG_CONFIG_PATH=$BUILD pkg-config --cflags --libs idict) \
	>"$dir/cc.out" 2>&1
check "g_autoptr(IDict) and g_autoptr(IDictServer) compile" test $? = 0
mkdir "$dir/mnt"
timeout 30 "$dir/autoptr" "$dir/mnt" >"$dir/autoptr.out" 2>&1
status=$?
check "g_autoptr(IDictServer) closes the server at the end of its scope (exit $status)" \
	bash -c "[ $status = 0 ] && grep -qx closed '$dir/autoptr.out' && ! grep -q ' $dir/mnt ' /proc/mounts"

#!/bin/bash
# make install into a temporary PREFIX (and a DESTDIR), then build and run a
# small computation against the installed library with pkg-config only.
# Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/idict-install-test-XXXXXX")
mnt=$dir/mnt
app=
cleanup() {
	[ -n "$app" ] && kill -9 "$app" 2>/dev/null
	if grep -q " $mnt " /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null; fi
	rm -rf "$dir"
}
trap cleanup EXIT

prefix=$dir/prefix
make -s -C "$root" install BUILD="$BUILD" SANITIZE="${SANITIZE:-}" PREFIX="$prefix" >"$dir/install.log" 2>&1
check "make install PREFIX=... succeeds" test $? = 0
for f in lib/libidict.a lib/libidict.so lib/libidict.so.0 include/idict.h lib/pkgconfig/idict.pc \
	bin/idict-demo share/man/man3/idict.3 share/man/man7/idictfs.7; do
	check "installed $f" test -e "$prefix/$f"
done
check "the shared library has the soname libidict.so.0" \
	bash -c "objdump -p '$prefix/lib/libidict.so' | grep -q 'SONAME *libidict.so.0'"
exported=$(nm -D --defined-only "$prefix/lib/libidict.so" | awk '$2 ~ /[TDBR]/ {print $3}' |
	grep -v '^idict_' | grep -v '^_' | tr '\n' ' ')
check "libidict.so exports only idict_* (others: ${exported:-none})" test -z "$exported"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
check "pkg-config knows idict" pkg-config --exists idict
cat >"$dir/app.c" <<'C'
#include <idict.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	(void)argc;
	g_autoptr(IDict) dict = idict_new();
	idict_set_double(dict, "x", 0.5, NULL);
	g_autoptr(GError) error = NULL;
	IDictServer *server = idict_serve(dict, argv[1], NULL, &error);
	if (server == NULL) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	puts("ready");
	fflush(stdout);
	while (!idict_terminated(dict))
		idict_wait(dict, 0.05), g_usleep(10000);
	idict_notify_update(dict, TRUE);
	idict_server_wait_then_close(server, 5);
	return 0;
}
C
san=${SANITIZE:+-fsanitize=$SANITIZE}
# shellcheck disable=SC2046
cc $san -o "$dir/app" "$dir/app.c" $(pkg-config --cflags --libs idict) -Wl,-rpath,"$prefix/lib" \
	>"$dir/cc.log" 2>&1
check "a computation builds with pkg-config --cflags --libs idict" test $? = 0
"$dir/app" "$mnt" >"$dir/app.out" 2>&1 &
app=$!
for _ in $(seq 100); do [ -e "$mnt/x" ] && break; sleep 0.05; done
check "... and serves its dictionary" test "$(cat "$mnt/x" 2>/dev/null)" = 0.5
echo 1 >"$mnt/ctl/terminate"
wait "$app"
check "... and ends cleanly" test $? = 0
app=
# The README's static line: libidict.a by name (pkg-config cannot choose it
# over libidict.so beside it), the rest from pkg-config --static.
# shellcheck disable=SC2046
cc $san -o "$dir/app-static" "$dir/app.c" $(pkg-config --cflags idict) -Wl,-Bstatic -lidict -Wl,-Bdynamic -Wl,--as-needed \
	$(pkg-config --static --libs idict) >"$dir/cc2.log" 2>&1
check "a computation links libidict.a with the README's line (pkg-config --static)" test $? = 0
check "... and does not need libidict.so.0" \
	bash -c "! objdump -p '$dir/app-static' | grep NEEDED | grep -q libidict"
# Where it runs, no libidict.so: neither installed nor on any path.
mv "$prefix/lib" "$prefix/lib.away"
env -u LD_LIBRARY_PATH "$dir/app-static" "$mnt" >"$dir/app-static.out" 2>&1 &
app=$!
for _ in $(seq 100); do [ -e "$mnt/x" ] && break; sleep 0.05; done
check "... and runs without it (no LD_LIBRARY_PATH, no libidict.so anywhere)" \
	test "$(cat "$mnt/x" 2>/dev/null)" = 0.5
echo 1 >"$mnt/ctl/terminate" 2>/dev/null
wait "$app"
check "... and ends cleanly" test $? = 0
app=
mv "$prefix/lib.away" "$prefix/lib"

# libidict-mpi: its own library, header, pkg-config file and man page.
for f in lib/libidict-mpi.a lib/libidict-mpi.so lib/libidict-mpi.so.0 include/idict-mpi.h \
	lib/pkgconfig/idict-mpi.pc bin/idict-mpi-demo share/man/man3/idict-mpi.3; do
	check "installed $f" test -e "$prefix/$f"
done
check "libidict-mpi.so has the soname libidict-mpi.so.0" \
	bash -c "objdump -p '$prefix/lib/libidict-mpi.so' | grep -q 'SONAME *libidict-mpi.so.0'"
exported=$(nm -D --defined-only "$prefix/lib/libidict-mpi.so" | awk '$2 ~ /[TDBR]/ {print $3}' |
	grep -v '^idict_mpi_' | grep -v '^_' | tr '\n' ' ')
check "libidict-mpi.so exports only idict_mpi_* (others: ${exported:-none})" test -z "$exported"
check "libidict.so does not depend on MPI" \
	bash -c "! objdump -p '$prefix/lib/libidict.so' | grep NEEDED | grep -qi mpi"
cat >"$dir/mpiapp.c" <<'C'
#include <idict-mpi.h>
int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	g_autoptr(IDict) dict = idict_new();
	IDictMpi *mpi = idict_mpi_new(dict, MPI_COMM_WORLD);
	idict_set_int(dict, "n", 1, NULL);
	idict_mpi_reduce(mpi, "n", IDICT_MPI_SUM, NULL);
	gboolean ok = idict_mpi_sync(mpi, TRUE, NULL);
	gint64 n = 0;
	idict_get_int(dict, "n", &n, NULL);
	int size;
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	idict_mpi_free(mpi);
	MPI_Finalize();
	return ok && n == size ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc $san -o "$dir/mpiapp" "$dir/mpiapp.c" $(pkg-config --cflags --libs idict-mpi) \
	-Wl,-rpath,"$prefix/lib" >"$dir/cc3.log" 2>&1
check "an MPI computation builds with pkg-config --cflags --libs idict-mpi" test $? = 0
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 \
	timeout 60 mpirun -np 2 --oversubscribe --mca mpi_yield_when_idle 1 "$dir/mpiapp" \
	>"$dir/mpiapp.out" 2>&1
check "... and runs under mpirun -np 2 against the installed libraries" test $? = 0

make -s -C "$root" install BUILD="$BUILD" SANITIZE="${SANITIZE:-}" PREFIX=/usr/local \
	DESTDIR="$dir/dest" >"$dir/install2.log" 2>&1
check "make install DESTDIR=... puts files under DESTDIR" \
	test -e "$dir/dest/usr/local/lib/pkgconfig/idict.pc" -a -e "$dir/dest/usr/local/include/idict.h"
check "... with the final prefix in idict.pc" grep -qx "prefix=/usr/local" "$dir/dest/usr/local/lib/pkgconfig/idict.pc"
make -s -C "$root" uninstall BUILD="$BUILD" PREFIX=/usr/local DESTDIR="$dir/dest" >/dev/null 2>&1
left=$(find "$dir/dest" -type f | wc -l)
check "make uninstall removes every file ($left left)" test "$left" = 0

# ---- the loader finds the installed library, or the install says how ----
grep -q "the dynamic loader does not search $prefix/lib" "$dir/install.log"
check "make install into a PREFIX the loader does not search says what to do" test $? = 0
check "... naming rpath and LD_LIBRARY_PATH" \
	bash -c "grep -q -- '-Wl,-rpath,$prefix/lib' '$dir/install.log' && grep -q 'LD_LIBRARY_PATH=$prefix/lib' '$dir/install.log'"
# Python: the module goes to PREFIX/lib/python3.X/dist-packages, which
# Debian's python3 searches for /usr/local only; the install says so.
pydir=$(sed -n 's/^import idict finds the module there with PYTHONPATH=\(.*\)\.$/\1/p' "$dir/install.log")
check "make install into a PREFIX Python does not search names PYTHONPATH ($pydir)" \
	test -n "$pydir" -a -e "$pydir/idict.py"
if [ -z "${SANITIZE:-}" ]; then # an ASan library cannot be loaded into python3
	PYTHONPATH=$pydir /usr/bin/python3 -c 'import idict; d = idict.IDict(); d["x"] = 0.5; print(d["x"])' \
		>"$dir/py.out" 2>&1
	check "... and with it, python3 imports idict and uses the installed library" \
		test "$(cat "$dir/py.out")" = 0.5
fi

# A stand-in for ldconfig, whose cache lists the new library: as if PREFIX
# were a system directory.
cat >"$dir/ldconfig" <<SH
#!/bin/sh
if [ "\$1" = -p ]; then echo "	libidict.so.0 (libc6,x86-64) => $dir/sys/lib/libidict.so.0"; else echo "\$@" >>"$dir/ldconfig.calls"; fi
SH
chmod +x "$dir/ldconfig"
make -s -C "$root" install BUILD="$BUILD" SANITIZE="${SANITIZE:-}" PREFIX="$dir/sys" \
	LDCONFIG="$dir/ldconfig" >"$dir/install3.log" 2>&1
check "make install into the system runs ldconfig (as root)" \
	bash -c "[ \"\$(id -u)\" != 0 ] || [ -e '$dir/ldconfig.calls' ]"
check "... and then has nothing to say about the loader" \
	bash -c "! grep -q 'dynamic loader' '$dir/install3.log'"
make -s -C "$root" install BUILD="$BUILD" SANITIZE="${SANITIZE:-}" PREFIX=/usr/local \
	DESTDIR="$dir/dest2" LDCONFIG="$dir/ldconfig-not-there" >"$dir/install4.log" 2>&1
status=$?
check "make install DESTDIR=... neither runs ldconfig nor says a word about it" \
	bash -c "[ $status = 0 ] && ! grep -q 'Note' '$dir/install4.log'"

# ---- make builds without the test dependencies (Check, libnfs, clang) ----
# A pkg-config that knows nothing of check and libnfs.
cat >"$dir/pkg-config" <<'SH'
#!/bin/sh
for a in "$@"; do case $a in check | libnfs) exit 1 ;; esac; done
exec pkg-config "$@"
SH
chmod +x "$dir/pkg-config"
make -n -B -C "$root" all BUILD="$dir/nobuild" PKG_CONFIG="$dir/pkg-config" FUZZ_CC=no-clang \
	>"$dir/make-n.log" 2>&1
check "make (all) works out without Check, libnfs or clang" test $? = 0
check "... and builds no test program" \
	bash -c "! grep -E 'tests/|fuzz|-lcheck|-lnfs|no-clang' '$dir/make-n.log'"
make -s -C "$root" check-test-deps PKG_CONFIG="$dir/pkg-config" FUZZ_CC=no-clang \
	>"$dir/deps.log" 2>&1
status=$?
check "make check names the missing test dependencies first" \
	bash -c "[ $status != 0 ] && grep -q 'make check needs: check libnfs-dev clang' '$dir/deps.log'"

#!/bin/bash
# The README's code blocks, run as a newcomer would run them: its C program
# built with its build line and steered, its Python computation, its shell
# recipes against the demo (tests/readme_test.py says how blocks are marked).
# Prints "ok - ..." / "not ok - ...".
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/../testlib.sh"
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$BUILD" && pwd)

# The first lines a newcomer runs on a fresh Debian machine.
first=$(awk '/^    / { print; n++ } n == 2 { exit }' "$root/README.md")
check "README: its first commands install and build the demo, then run the test suite" \
	bash -c "printf '%s\n' \"\$1\" | grep -q '^ *contrib/install-deps.sh --build && make demo ' &&
		printf '%s\n' \"\$1\" | grep -q '^ *contrib/install-deps.sh && make check '" _ "$first"
check "... and install-deps.sh takes --build" bash -c "grep -q -- '^--build)' '$root/contrib/install-deps.sh'"

# The Python block loads the plain build's library (see test_python.sh).
if ! make -C "$root" --no-print-directory SANITIZE= BUILD=build build/libidict.so >/dev/null 2>&1; then
	not_ok "build/libidict.so builds"
fi
san=${SANITIZE:+-fsanitize=$SANITIZE}
/usr/bin/python3 "$root/tests/readme_test.py" "$root" "$build" "$san"

#!/bin/sh
# The Python binding's tests (tests/python/, pytest) with Debian's /usr/bin/python3 against
# the build tree, nothing installed: the package's sources and the built extension are put
# side by side in a temporary directory on PYTHONPATH (the extension finds libcfgpool in the
# build tree through its run path). Prints TAP, one line per test (tests/python/conftest.py).
#
# Skipped (TAP "1..0 # SKIP", with the reason) when the binding was not built (no python3-dev,
# or --without-python), when pytest is missing, and in an address or thread sanitizer build:
# the sanitizer's runtime must be the first library of the process, which Python's is not, so
# ASan refuses to start and TSan cannot be loaded late. LD_PRELOAD of the runtime would start,
# but then every leak and race of the interpreter itself is reported too; the binding's C code
# is exercised under the sanitizers by nothing else, and its memory is checked by the leak
# test (tracemalloc and the C heap, see tests/python/test_leaks.py) instead.
#
# Under `make check-valgrind` (CFGPOOL_VALGRIND=1) the interpreter runs under valgrind's
# memcheck, with Python's allocations going through malloc so that it sees them: a memory
# error in the extension fails the run. The leak and numba tests are left out there (the
# first runs the others' body 130 times, the second compiles with LLVM), and so are leak
# reports: the interpreter keeps much of its memory to the end by design.
#
# With --run SCRIPT [ARGS] it runs SCRIPT the same way instead (`make bench`: perf/bench_python.py).
build=${CFGPOOL_BUILD:-.}
src=${CFGPOOL_PYTHON_SRC:-python}
data=${CFGPOOL_TEST_DATA:-tests}
python=${CFGPOOL_PYTHON:-/usr/bin/python3}
ext=$build/python/cfgpool/.libs/_cfgpool.so
lib=$build/.libs/libcfgpool.so

skip() {
	echo "1..0 # SKIP $*"
	exit 0
}
[ -f "$ext" ] || skip "the Python binding was not built (configure found no python3-dev, or --without-python)"
[ -x "$python" ] || skip "no $python"
if command -v readelf >/dev/null 2>&1 && readelf -dW "$lib" | grep -qE 'NEEDED.*\[lib(a|t|hwa)san\.'; then
	skip "a sanitizer build: its runtime cannot be loaded into $python"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfgpool-python.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cfgpool"
for f in "$src"/cfgpool/*.py; do
	ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$tmp/cfgpool/"
done
ln -s "$(cd "$(dirname "$ext")" && pwd)/_cfgpool.so" "$tmp/cfgpool/_cfgpool.so"
PYTHONPATH=$tmp${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE

if [ "${1:-}" = --run ]; then
	shift
	"$python" "$@"
	exit $?
fi

"$python" -c "import pytest" 2>/dev/null || skip "pytest is missing for $python (install python3-pytest)"
CFGPOOL_TAP=$tmp/tap
export CFGPOOL_TAP
: >"$CFGPOOL_TAP"
# pytest's own report goes to stderr, into the log; the TAP lines are the result.
set -- "$python" -m pytest -q -p no:cacheprovider --rootdir "$data/python"
if [ "${CFGPOOL_VALGRIND:-0}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
	PYTHONMALLOC=malloc
	export PYTHONMALLOC
	set -- valgrind --quiet --error-exitcode=99 --leak-check=no "$@" \
		--ignore="$data/python/test_leaks.py" --ignore="$data/python/test_numba.py"
fi
"$@" "$data/python" >&2
rc=$?
cat "$CFGPOOL_TAP"
n=$(grep -cE '^(not )?ok ' "$CFGPOOL_TAP")
if [ "$n" -eq 0 ]; then
	echo "not ok 1 - pytest ran no test (exit $rc)"
	n=1
elif [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$CFGPOOL_TAP"; then
	n=$((n + 1))
	echo "not ok $n - pytest exited with status $rc"
fi
echo "1..$n"

#!/bin/sh
# Debian's own Python loads the shared library with ctypes.CDLL and drives a pool through
# it (tests/ctypes_host.py). Prints TAP; skipped when /usr/bin/python3 is absent, and in
# an address or thread sanitizer build, whose runtime must be the first library of the
# process: Python does not have it, so ASan refuses to start and TSan cannot be loaded late.
lib=${CFGPOOL_LIB:-.libs/libcfgpool.so}
data=${CFGPOOL_TEST_DATA:-tests}
python=/usr/bin/python3
if [ ! -x "$python" ] || [ ! -f "$lib" ]; then
	echo "1..0 # SKIP no $python or no shared library built"
	exit 0
fi
if command -v readelf >/dev/null 2>&1 && readelf -dW "$lib" | grep -qE 'NEEDED.*\[lib(a|t|hwa)san\.'; then
	echo "1..0 # SKIP a sanitizer build: its runtime cannot be loaded into $python"
	exit 0
fi
exec "$python" "$data/ctypes_host.py" "$lib"

#!/bin/sh
# Debian's own Python loads the shared library with ctypes.CDLL and drives a pool through
# it (tests/ctypes_host.py). Prints TAP; skipped when /usr/bin/python3 is absent.
lib=${CFGPOOL_LIB:-.libs/libcfgpool.so}
data=${CFGPOOL_TEST_DATA:-tests}
python=/usr/bin/python3
if [ ! -x "$python" ] || [ ! -f "$lib" ]; then
	echo "1..0 # SKIP no $python or no shared library built"
	exit 0
fi
exec "$python" "$data/ctypes_host.py" "$lib"

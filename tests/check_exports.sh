#!/bin/sh
# The shared library exports exactly the public API listed in tests/exports.txt: no
# internal cfgpool__ helper, no symbol of a dependency, nothing without the cfgpool_ prefix.
# Prints TAP so it counts as one test.
lib=${CFGPOOL_LIB:-.libs/libcfgpool.so}
want=${CFGPOOL_EXPORTS:-tests/exports.txt}
echo "1..2"
if [ ! -f "$lib" ]; then
	echo "ok 1 - exported symbols match the public API # SKIP no shared library built"
	echo "ok 2 - every exported symbol has the cfgpool_ prefix # SKIP no shared library built"
	exit 0
fi
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort)
if [ "$got" = "$(sort "$want")" ]; then
	echo "ok 1 - exported symbols match the public API"
else
	echo "not ok 1 - exported symbols match the public API"
	printf '%s\n' "$got" | diff "$want" - | sed 's/^/# /'
fi
bad=$(printf '%s\n' "$got" | grep -v '^cfgpool_' | grep -v '^$' || true)
bad2=$(printf '%s\n' "$got" | grep '^cfgpool__' || true)
if [ -z "$bad$bad2" ]; then
	echo "ok 2 - every exported symbol has the cfgpool_ prefix"
else
	echo "not ok 2 - every exported symbol has the cfgpool_ prefix"
	printf '%s\n' $bad $bad2 | sed 's/^/# /'
fi

#!/bin/sh
# The shared library loads at run time into a program not linked with it, as into a plug-in
# host or a language binding: tests/dlopen_host dlopen()s it, resolves the API with dlsym()
# and runs a pool. A library that needs the static TLS block (initial-exec TLS relocations,
# the DF_STATIC_TLS flag) loads only while glibc's small surplus of static TLS lasts, so
# the host also runs with that surplus withheld (glibc.rtld.optional_static_tls=0), and
# the ELF itself is checked. Prints TAP.
lib=${CFGPOOL_LIB:-.libs/libcfgpool.so}
host=${CFGPOOL_BUILD:-.}/tests/dlopen_host
echo "1..3"
if [ ! -f "$lib" ] || [ ! -x "$host" ]; then
	for n in 1 2 3; do echo "ok $n - dlopen # SKIP no shared library or no tests/dlopen_host built"; done
	exit 0
fi

if out=$("$host" "$lib" 2>&1); then
	echo "ok 1 - a host not linked with the library dlopen()s it and runs a pool"
else
	echo "not ok 1 - a host not linked with the library dlopen()s it and runs a pool"
	printf '%s\n' "$out" | sed 's/^/# /'
fi

if out=$(GLIBC_TUNABLES="glibc.rtld.optional_static_tls=0${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}" "$host" "$lib" 2>&1); then
	echo "ok 2 - it loads with no static TLS surplus left for dlopen"
else
	echo "not ok 2 - it loads with no static TLS surplus left for dlopen"
	printf '%s\n' "$out" | sed 's/^/# /'
fi

if ! command -v readelf >/dev/null 2>&1; then
	echo "ok 3 - no STATIC_TLS flag, no initial-exec TLS relocation # SKIP no readelf"
	exit 0
fi
# Initial-exec relocations are the TPOFF/TPREL kinds (R_X86_64_TPOFF64, R_AARCH64_TLS_TPREL,
# ...); DTPOFF/DTPREL belong to the dynamic models and are fine.
flags=$(readelf -dW "$lib" | grep -E 'STATIC_TLS')
relocs=$(readelf -rW "$lib" | grep -E '(^|[^D])TP(OFF|REL)')
if [ -z "$flags$relocs" ]; then
	echo "ok 3 - no STATIC_TLS flag, no initial-exec TLS relocation"
else
	echo "not ok 3 - no STATIC_TLS flag, no initial-exec TLS relocation"
	printf '%s\n' "$flags" "$relocs" | sed '/^$/d; s/^/# /'
fi

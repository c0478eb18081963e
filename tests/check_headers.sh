#!/bin/sh
# Every installed header compiles on its own, first and alone in a translation unit, as
# C11 and as C++ (with -Wall -Wextra -Werror and -pedantic), so a user may include any one
# of them without the others; then <cfgpool/holder.h> with CFGPOOL_INLINE_READ, the inline
# read side a host opts in to, with nothing but liburcu-memb's include flags added, both
# ways too. Prints TAP, one test per header and language.
src=${CFGPOOL_TEST_DATA:-tests}/../include
build=${CFGPOOL_BUILD:-.}/include
cc=${CC:-cc}
cxx=${CXX:-c++}
headers="cfgpool.h error.h config.h holder.h codec.h kernel.h pool.h plugin.h version.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
urcu=$(${PKG_CONFIG:-pkg-config} --cflags liburcu-memb 2>/dev/null)
total=$(($(echo $headers | wc -w) * 2 + 2))
echo "1..$total"
for h in $headers; do
	printf '#include <cfgpool/%s>\ntypedef int not_empty;\n' "$h" >"$tmp/t.c"
	cp "$tmp/t.c" "$tmp/t.cpp"
	for lang in c c++; do
		n=$((n + 1))
		if [ "$lang" = c ]; then
			cmd="$cc -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I$src -I$build $tmp/t.c"
		else
			cmd="$cxx -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I$src -I$build $tmp/t.cpp"
		fi
		if out=$($cmd 2>&1); then
			echo "ok $n - <cfgpool/$h> alone compiles as $lang"
		else
			echo "not ok $n - <cfgpool/$h> alone compiles as $lang"
			printf '%s\n' "$out" | sed 's/^/# /'
		fi
	done
done
printf '#define CFGPOOL_INLINE_READ\n#include <cfgpool/holder.h>\ntypedef int not_empty;\n' >"$tmp/t.c"
cp "$tmp/t.c" "$tmp/t.cpp"
for lang in c c++; do
	n=$((n + 1))
	if [ "$lang" = c ]; then
		cmd="$cc -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I$src -I$build $urcu $tmp/t.c"
	else
		cmd="$cxx -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I$src -I$build $urcu $tmp/t.cpp"
	fi
	if out=$($cmd 2>&1); then
		echo "ok $n - <cfgpool/holder.h> with CFGPOOL_INLINE_READ compiles as $lang"
	else
		echo "not ok $n - <cfgpool/holder.h> with CFGPOOL_INLINE_READ compiles as $lang"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done

#!/bin/sh
# `./quickstart --help` (and -h, help) prints the usage text of the script's header comment
# and nothing else, and exits 0. Prints TAP.
src=${CFGPOOL_TEST_DATA:-tests}/..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The usage text: the comment block after the "#!" line, without its "# " prefixes.
awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$src/quickstart" > "$tmp/want"
echo "1..4"
if [ "$(head -n 1 "$tmp/want")" = "cfgpool quick start. On a fresh Debian 12 machine:" ]; then
	echo "ok 1 - the usage text starts the script"
else
	echo "not ok 1 - the usage text starts the script"
fi
n=2
for arg in --help -h help; do
	if "$src/quickstart" "$arg" > "$tmp/out" 2> "$tmp/err" && cmp -s "$tmp/want" "$tmp/out" && [ ! -s "$tmp/err" ]; then
		echo "ok $n - quickstart $arg prints the usage text only"
	else
		echo "not ok $n - quickstart $arg prints the usage text only"
		diff "$tmp/want" "$tmp/out" | sed 's/^/# /'
		sed 's/^/# stderr: /' "$tmp/err"
	fi
	n=$((n + 1))
done

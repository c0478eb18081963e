#!/bin/sh
# The plug-in path is the built-in path: the built-in mc_option kernel compiled from its own
# source into a plug-in (tests/plugins/mc_option_twin.so) gives, through `cfgpool run`, the
# built-in kernel's result lines bit for bit (everything but elapsed_us), on the same
# configuration and inputs. perf/bench_plugin.sh measures the two side by side. Prints TAP.
build=${CFGPOOL_BUILD:-.}
data=${CFGPOOL_TEST_DATA:-tests}
bin=${CFGPOOL_BIN:-$build/cfgpool}
twin=$build/tests/plugins/.libs/mc_option_twin.so
echo "1..3"
if [ ! -x "$bin" ] || [ ! -f "$twin" ]; then
	for n in 1 2 3; do echo "ok $n - plug-in twin # SKIP no cfgpool or no tests/plugins/mc_option_twin.so built"; done
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The shipped example's kernel section, with fewer paths so that the test stays short.
cat >"$tmp/builtin.json" <<JSON
{"kernel": {"name": "mc_option", "rate": 0.03, "volatility": 0.2, "paths": 4000, "seed": 42}}
JSON
sed "s|\"name\": \"mc_option\"|\"plugin\": \"$twin\", \"name\": \"mc_option\"|" "$tmp/builtin.json" >"$tmp/twin.json"
"$data/../examples/gen-inputs" 500 7 >"$tmp/in.jsonl"
printf '%s\n' '{"id": "bad", "spot": -1, "strike": 100, "maturity": 1, "type": "call"}' >>"$tmp/in.jsonl"

strip() { sed 's/"elapsed_us": *[0-9.e+-]*, *//' "$1"; }
for k in builtin twin; do
	"$bin" run -c "$tmp/$k.json" --quiet "$tmp/in.jsonl" >"$tmp/$k.out" 2>"$tmp/$k.err"
	echo $? >"$tmp/$k.rc"
done
if grep -q "$twin" "$tmp/twin.err" 2>/dev/null || [ ! -s "$tmp/twin.out" ]; then
	echo "not ok 1 - the twin plug-in loads and runs"
	sed 's/^/# /' "$tmp/twin.err"
else
	echo "ok 1 - the twin plug-in loads and runs"
fi
strip "$tmp/builtin.out" >"$tmp/builtin.stripped"
strip "$tmp/twin.out" >"$tmp/twin.stripped"
if [ "$(wc -l <"$tmp/twin.out")" -eq 501 ] && cmp -s "$tmp/builtin.stripped" "$tmp/twin.stripped"; then
	echo "ok 2 - 501 result lines, equal to the built-in kernel's but for elapsed_us"
else
	echo "not ok 2 - 501 result lines, equal to the built-in kernel's but for elapsed_us"
	diff "$tmp/builtin.stripped" "$tmp/twin.stripped" | head -n 10 | sed 's/^/# /'
fi
# The bad input gets the same error line from both (the codec moved, the message did not).
if [ "$(cat "$tmp/builtin.rc")" = 1 ] && [ "$(cat "$tmp/twin.rc")" = 1 ] &&
	grep -q '"id":"bad".*"error"' "$tmp/twin.out"; then
	echo "ok 3 - both exit 1 and answer the bad input with an error line"
else
	echo "not ok 3 - both exit 1 and answer the bad input with an error line (exits $(cat "$tmp/builtin.rc") and $(cat "$tmp/twin.rc"))"
fi

#!/bin/sh
# What the plug-in path costs: `cfgpool run` on the same inputs with the built-in mc_option
# kernel and with the same kernel built as a plug-in from its own source
# (tests/plugins/mc_option_twin.so, `make check` or `make bench` builds it), alternated
# run by run, lines per second from the start of the command to its exit. Two settings:
#   kernel  paths 100000 (the shipped example's), the kernel's time dominates
#   codec   paths 64, the line path itself (read, decode, dispatch, encode, write) dominates
# One JSON line per setting and kernel, then a ratio line per setting (plugin_over_builtin:
# 1.0 = the same throughput; above 1, the plug-in is faster).
#   perf/bench_plugin.sh [--quick] [--workers N] [--runs N]
set -eu
build=${CFGPOOL_BUILD:-.}
bin=${CFGPOOL_BIN:-$build/cfgpool}
twin=${CFGPOOL_TWIN:-$build/tests/plugins/.libs/mc_option_twin.so}
gen=$(dirname "$0")/../examples/gen-inputs
scale=1 runs=7 workers=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) scale=10 runs=3 ;;
	--workers) workers=$2; shift ;;
	--runs) runs=$2; shift ;;
	-h | --help) sed -n '2,/^set/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
	*) echo "bench_plugin: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
for f in "$bin" "$twin"; do
	[ -e "$f" ] || { echo "bench_plugin: $f is missing (make check builds it)" >&2; exit 2; }
done
# A relative plug-in path would be relative to the configuration's directory.
twin=$(cd "$(dirname "$twin")" && pwd)/$(basename "$twin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pool='"pool": {"idle_spin_us": 50'${workers:+', "workers": '$workers}'}'
now() { date +%s%N; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for setting in kernel codec; do
	case $setting in
	kernel) paths=100000 lines=$((4000 / scale)) ;;
	codec) paths=64 lines=$((200000 / scale)) ;;
	esac
	"$gen" "$lines" 3 >"$tmp/in.jsonl"
	k='"rate": 0.03, "volatility": 0.2, "paths": '$paths', "seed": 42'
	echo "{$pool, \"kernel\": {\"name\": \"mc_option\", $k}}" >"$tmp/builtin.json"
	echo "{$pool, \"kernel\": {\"plugin\": \"$twin\", \"name\": \"mc_option\", $k}}" >"$tmp/plugin.json"
	[ -t 2 ] && echo "bench_plugin: $setting: $lines lines, $runs runs of each" >&2
	: >"$tmp/builtin.rates"
	: >"$tmp/plugin.rates"
	i=0
	while [ $i -lt "$runs" ]; do
		for kind in builtin plugin; do
			t0=$(now)
			"$bin" run -c "$tmp/$kind.json" --quiet "$tmp/in.jsonl" >"$tmp/out" ||
				{ echo "bench_plugin: cfgpool run failed ($kind, $setting)" >&2; exit 1; }
			t1=$(now)
			[ "$(wc -l <"$tmp/out")" -eq "$lines" ] || { echo "bench_plugin: lines lost ($kind)" >&2; exit 1; }
			echo "$lines $t0 $t1" | awk '{printf "%.1f\n", $1 / (($3 - $2) / 1e9)}' >>"$tmp/$kind.rates"
		done
		i=$((i + 1))
	done
	for kind in builtin plugin; do
		m=$(median <"$tmp/$kind.rates")
		lo=$(sort -n "$tmp/$kind.rates" | head -n1)
		hi=$(sort -n "$tmp/$kind.rates" | tail -n1)
		eval "med_$kind=$m"
		printf '{"bench": "plugin", "config": "%s %s", "unit": "lines/s", "median": %s, "min": %s, "max": %s, "samples": %s, "lines": %s, "paths": %s, "workers": "%s", "ncpu": %s}\n' \
			"$setting" "$kind" "$m" "$lo" "$hi" "$runs" "$lines" "$paths" "${workers:-default}" "$(nproc)"
	done
	printf '{"bench": "plugin", "config": "ratios %s", "unit": "ratio", "plugin_over_builtin": %s}\n' \
		"$setting" "$(awk -v a="$med_plugin" -v b="$med_builtin" 'BEGIN {printf "%.3f", a / b}')"
done

#!/bin/sh
# `cfgpool check` runs every validation `cfgpool run` does short of starting threads, and
# both name the configuration file: a pool.cpus entry outside the affinity mask is
# refused by check (exit 1) and by run (exit 2) with FILE: pool.cpus[N]: ... on stderr.
# Prints TAP.
bin=${CFGPOOL_BIN:-./cfgpool}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfg=$tmp/cpus.json
printf '{"kernel": {"name": "spin"}, "pool": {"cpus": [0, 1023]}}\n' >"$cfg"
echo "1..4"
if taskset -c 1023 true 2>/dev/null; then
	for i in 1 2 3 4; do echo "ok $i # SKIP CPU 1023 is in the affinity mask"; done
	exit 0
fi
out=$("$bin" check "$cfg" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "ok 1 - check refuses a CPU outside the mask (exit 1)" ||
	{ echo "not ok 1 - check refuses a CPU outside the mask (exit 1)"; echo "# exit $rc: $out"; }
case $out in
*"$cfg: pool.cpus[1]: CPU 1023 is not in this process's affinity mask"*) echo "ok 2 - check names the file and the path" ;;
*) echo "not ok 2 - check names the file and the path"; echo "# $out" ;;
esac
out=$(echo '{"iterations": 1}' | "$bin" run -q -c "$cfg" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && echo "ok 3 - run refuses it as a configuration error (exit 2)" ||
	{ echo "not ok 3 - run refuses it as a configuration error (exit 2)"; echo "# exit $rc: $out"; }
case $out in
*"$cfg: pool.cpus[1]: CPU 1023"*) echo "ok 4 - run names the file and the path, as check does" ;;
*) echo "not ok 4 - run names the file and the path, as check does"; echo "# $out" ;;
esac

#!/bin/sh
# A cfgpool built without Redis support (tests/cfgpool-noredis: the command's sources
# with CFGPOOL_NO_REDIS) refuses --source, --sink, a config's source section, feed and
# collect with exit status 2 and says why. Prints TAP.
src=${CFGPOOL_TEST_DATA:-tests}/..
bin=${CFGPOOL_BUILD:-.}/tests/cfgpool-noredis
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfg=$src/examples/config.json
sed 's/^{/{"source": {"url": "redis:\/\/127.0.0.1:1\/s?group=g"},/' "$cfg" >"$tmp/section.json"
echo "1..5"
n=1
check() {
	what=$1
	shift
	out=$("$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	case $rc:$out in
	2:*"built without Redis support"*) echo "ok $n - $what: exit 2, built without Redis support" ;;
	*) echo "not ok $n - $what: exit 2, built without Redis support"; echo "# exit $rc: $out" ;;
	esac
	n=$((n + 1))
}
check "run --source" "$bin" run -c "$cfg" --source 'redis://127.0.0.1:1/s?group=g'
check "run --sink" "$bin" run -c "$cfg" --sink 'redis://127.0.0.1:1/s'
check "a config's source section" "$bin" run -c "$tmp/section.json"
check "feed" "$bin" feed 'redis://127.0.0.1:1/s'
check "collect" "$bin" collect 'redis://127.0.0.1:1/s'

#!/bin/sh
# perf/run, on stand-in benchmarks that print their lines at once (no benchmark runs here):
# it passes --workers N to a program it does not know and collects its lines, retries a
# program that refuses the options (exit 2, no line) without them, reports a program that
# fails and still runs the others (exit status 1), runs perf/bench_*.py with Debian's
# python, writes the machine line first and a suite line per run with others_cpu, prints the
# tables, and writes a README.md that links every chart it drew; without gnuplot the charts
# are skipped with a note and the tables are still there. Prints TAP.
src=${CFGPOOL_TEST_DATA:-tests}/..
if [ ! -x /usr/bin/python3 ]; then
	echo "1..0 # SKIP no /usr/bin/python3"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/perf" "$tmp/build/perf" "$tmp/nobin"
cp "$src/perf/run" "$src/perf"/plot_*.gp "$tmp/src/perf/"

# Knows --workers and --quick, prints lines of the kinds perf/run charts.
cat > "$tmp/build/perf/bench_stand_in" <<'EOF'
#!/bin/sh
echo "stand-in: progress note" >&2
echo "not a JSON line"
for p in cfgpool tbb; do
	echo "{\"bench\": \"regimes\", \"config\": \"b2b_tiny $p\", \"unit\": \"us\", \"median\": 0.5, \"p99\": 0.9, \"min\": 0.3, \"samples\": 9, \"iterations\": 9, \"regime\": \"b2b_tiny\", \"peer\": \"$p\", \"ncpu\": 2, \"threads\": 2, \"others_cpu\": 0.01}"
	for t in 1 10 100; do
		echo "{\"bench\": \"regimes\", \"config\": \"sweep_task ${t}us $p\", \"unit\": \"us\", \"median\": 50, \"p99\": 60, \"min\": 40, \"samples\": 9, \"iterations\": 9, \"regime\": \"sweep_task\", \"peer\": \"$p\", \"ncpu\": 2, \"threads\": 2, \"tasks_per_batch\": 8, \"task_us\": $t, \"efficiency\": 0.5, \"sweep\": \"task_us\", \"task_us_nominal\": $t, \"others_cpu\": 0.5}"
	done
done
echo "{\"bench\": \"stand_in\", \"config\": \"args $*\", \"unit\": \"ns\", \"median\": 7, \"p99\": 8, \"min\": 6, \"samples\": 3, \"iterations\": 3}"
EOF
# Refuses every option, as a program with its own strict parser would.
cat > "$tmp/build/perf/bench_strict" <<'EOF'
#!/bin/sh
if [ $# -gt 0 ]; then echo "usage: bench_strict" >&2; exit 2; fi
echo '{"bench": "strict", "config": "no options", "unit": "ns", "median": 1, "p99": 2, "min": 1, "samples": 1, "iterations": 1}'
EOF
cat > "$tmp/build/perf/bench_broken" <<'EOF'
#!/bin/sh
echo '{"bench": "broken", "config": "before failing", "unit": "ns", "median": 1, "p99": 1, "min": 1, "samples": 1, "iterations": 1}'
echo "bench_broken: watchdog: no progress" >&2
exit 3
EOF
# Named as the program perf/run measures in rounds. Without --regime: one b2b_tiny line
# whose median is 4, 10, then 1 (round by round), with the scale it was run at.
cat > "$tmp/build/perf/bench_regimes" <<'EOF'
#!/bin/sh
case "$*" in *--regime*) exit 0 ;; esac
n=0
[ -f "${0%/*}/count" ] && read -r n < "${0%/*}/count"
echo $((n + 1)) > "${0%/*}/count"
set -- 4 10 1
shift $((n % 3))
m=$1
echo "{\"bench\": \"regimes\", \"config\": \"b2b_tiny cfgpool\", \"unit\": \"us\", \"median\": $m, \"p99\": $((m + 1)), \"min\": $m, \"samples\": 5, \"iterations\": 5, \"regime\": \"b2b_tiny\", \"peer\": \"cfgpool\", \"ncpu\": 2, \"threads\": 2, \"others_cpu\": 0.0$n, \"scale\": \"$CFGPOOL_BENCH_SCALE\"}"
EOF
cat > "$tmp/src/perf/bench_stand_in.py" <<'EOF'
import sys
print('{"bench": "stand_in_py", "config": "python %s", "unit": "us", "median": 3, "p99": 4, "min": 2, "samples": 1, "iterations": 1}' % sys.executable)
EOF
chmod +x "$tmp/build/perf"/bench_*

run() { # run OUTDIR PATH: perf/run from the stand-in build directory
	(cd "$tmp/build" && PATH=$2 /usr/bin/python3 "$tmp/src/perf/run" --srcdir "$tmp/src" --workers 3 --out "$1" \
		--progs "perf/bench_stand_in perf/bench_strict perf/bench_broken perf/bench_missing" \
		> "$1.stdout" 2> "$1.stderr")
}
n=0
ok() { # ok DESCRIPTION: the status of the command before decides
	rc=$?
	n=$((n + 1))
	if [ "$rc" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; fi
}
res=$tmp/out/results.jsonl

echo "1..20"
run "$tmp/out" "$PATH"
[ "$?" -eq 1 ]
ok "exit status 1 when a program failed"
head -n 1 "$res" | grep '"bench": "machine"' | grep '"ncpu": ' | grep '"model": ' | grep '"kernel": ' |
	grep '"date": ' | grep -q '"git_commit": '
ok "the machine line comes first, with ncpu, model, kernel, date and git_commit"
grep '"bench": "stand_in"' "$res" | grep '"config": "args --workers 3"' | grep -q '"program": "perf/bench_stand_in"'
ok "an unknown program is run with --workers N, its lines collected with program and argv"
! grep -q 'not a JSON line' "$res"
ok "a line that is not JSON is passed over"
grep '"bench": "strict"' "$res" | grep -q '"argv": ""'
ok "a program that refuses the options (exit 2, no line) is run again without them"
grep -q 'perf/bench_broken.*failed (exit 3)' "$tmp/out.stderr" && grep -q '"bench": "broken"' "$res" &&
	grep -q 'failed:  perf/bench_broken' "$tmp/out.stdout"
ok "a failing program is reported, its lines kept, and the programs after it still run"
grep -q "perf/bench_missing: not built, skipped" "$tmp/out.stderr"
ok "a program that is not built is skipped with a note"
grep -q '"config": "python /usr/bin/python3"' "$res"
ok "perf/bench_*.py runs with /usr/bin/python3"
[ "$(grep -c '"bench": "suite"' "$res")" -eq 4 ] && grep '"bench": "suite"' "$res" | grep -q '"exit": 3, .*"others_cpu": '
ok "one suite line per run, with its exit status and others_cpu"
grep -q '| 8 tiny tasks, back to back (us)' "$tmp/out.stdout" && grep -q '| args --workers 3 ' "$tmp/out.stdout"
ok "the table of the regimes is printed, and the generic table of a program perf/run does not know"
grep -q "stand-in: progress note" "$tmp/out/logs/bench_stand_in.stderr"
ok "the stand-in's stderr is kept in logs/"
if command -v gnuplot > /dev/null 2>&1; then
	(cd "$tmp/out" && grep -q '](regimes\.' README.md && grep -q '](task_efficiency\.' README.md &&
		for f in $(sed -n 's/^!\[.*\](\(.*\))$/\1/p' README.md); do [ -s "$f" ] || exit 1; done)
	ok "every chart README.md links exists, among them the regimes and the task sweep"
	grep -q '](disturbance\.' "$tmp/out/README.md" &&
		{ [ -s "$tmp/out/disturbance.png" ] || [ -s "$tmp/out/disturbance.svg" ]; }
	ok "the disturbance chart is drawn and linked"
else
	echo "ok 12 # SKIP no gnuplot"
	echo "ok 13 # SKIP no gnuplot"
	n=13
fi

# Without gnuplot on PATH (nor git): the charts are skipped with a note, the tables remain.
run "$tmp/out2" "$tmp/nobin"
grep -q 'gnuplot not found: charts skipped' "$tmp/out2.stdout" &&
	grep -q 'gnuplot not found: charts skipped' "$tmp/out2/README.md" && ! ls "$tmp/out2" | grep -q '\.png$'
ok "without gnuplot: a note on stdout and in README.md, and no chart"
grep -q '| 8 tiny tasks, back to back (us)' "$tmp/out2.stdout" &&
	grep -q '| 8 tiny tasks, back to back (us)' "$tmp/out2/README.md"
ok "without gnuplot: the tables are still printed and written"
# Rounds: bench_regimes' plain run three times over at a third of the samples each; one
# line per peer in the tables, with the median of the rounds' medians (4, not the last 1).
(cd "$tmp/build" && /usr/bin/python3 "$tmp/src/perf/run" --srcdir "$tmp/src" --workers 2 --no-charts \
	--out "$tmp/out4" --progs "perf/bench_regimes" > "$tmp/out4.stdout" 2> "$tmp/out4.stderr")
[ "$(grep -c '"config": "b2b_tiny cfgpool"' "$tmp/out4/results.jsonl")" -eq 3 ] &&
	grep '"config": "b2b_tiny cfgpool"' "$tmp/out4/results.jsonl" | grep '"round": 3' | grep -q '"scale": "0.333333"' &&
	head -n 1 "$tmp/out4/results.jsonl" | grep -q '"rounds": 3'
ok "bench_regimes runs in 3 rounds, each at a third of the samples, every line marked with its round"
grep -q '| 8 tiny tasks, back to back (us) *| *\*\*4\*\* *|' "$tmp/out4.stdout"
ok "the table shows one line per peer: the median of the rounds' medians"
rm -f "$tmp/build/perf/count"
(cd "$tmp/build" && /usr/bin/python3 "$tmp/src/perf/run" --srcdir "$tmp/src" --workers 2 --quick --no-charts \
	--out "$tmp/out5" --progs "perf/bench_regimes" > "$tmp/out5.stdout" 2> "$tmp/out5.stderr")
[ "$(grep -c '"config": "b2b_tiny cfgpool"' "$tmp/out5/results.jsonl")" -eq 1 ] &&
	! grep -q '"round": ' "$tmp/out5/results.jsonl"
ok "--quick runs one round, unmarked"
(cd "$tmp/build" && /usr/bin/python3 "$tmp/src/perf/run" --workers -1 --out "$tmp/out3" --progs "" 2>/dev/null)
[ "$?" -eq 2 ]
ok "a bad --workers is refused with exit status 2"
# git_dirty: the report directory's own files (rewritten by every run) are no local change;
# any other tracked file that differs is.
if command -v git > /dev/null 2>&1; then
	(cd "$tmp/src" && git init -q . && mkdir -p perf/report && echo old > perf/report/README.md &&
		git add -A && git -c user.name=t -c user.email=t@t commit -qm t) &&
		dirty() { (cd "$tmp/build" && /usr/bin/python3 "$tmp/src/perf/run" --srcdir "$tmp/src" --workers 2 \
			--no-charts --out "$tmp/src/perf/report" --progs "perf/bench_strict" > /dev/null 2>&1)
			head -n 1 "$tmp/src/perf/report/results.jsonl" | grep -o '"git_dirty": [a-z]*'; } &&
		[ "$(dirty)" = '"git_dirty": false' ] && [ "$(dirty)" = '"git_dirty": false' ] &&
		echo '# changed' >> "$tmp/src/perf/plot_lines.gp" && [ "$(dirty)" = '"git_dirty": true' ]
	ok "git_dirty ignores the report directory a run rewrites, not another change"
else
	echo "ok 20 # SKIP no git"
fi

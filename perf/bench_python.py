#!/usr/bin/env python3
"""Question: what does the Python binding give the seed question's user, against the answer
they were given? cfgpool.Pool.map against multiprocessing.Pool(initializer, initargs).map,
on the same batch of 8 inputs, side by side in one run:

  latency   8 tiny items a batch, 2000 batches back to back (b2b_tiny: dispatch and
            conversion with awake workers) and 200 batches one every 10 ms (periodic_tiny:
            the workers have gone idle in between), after a warm-up. cfgpool runs them
            through the codec (dicts: Pool.map) and as a NumPy array (Pool.map_array);
            multiprocessing runs perf/bench_pool_mp.py's task, which reads the configuration.
  memory    a large configuration (the seed's logging dict plus a table of records,
            --config-mb, default 8 MB of JSON) with 8 workers: the summed RSS and PSS of
            every process (for multiprocessing the parent and its 8 children), each peer in
            a fresh process of its own, 3 times; the parent's own figures before the pool
            was made are reported too.

One JSON line per figure on stdout, in perf/bench.h's format (bench, config, unit, median,
p99, min, samples, iterations, then extra members), then a ratios line per regime:
multiprocessing's median over cfgpool's (above 1: cfgpool is faster or smaller).
Needs the cfgpool module (`make bench` runs it from the build tree through
tests/check_python.sh --run) and, for map_array, NumPy.
Usage: bench_python.py [--quick] [--config-mb N]   (CFGPOOL_BENCH_SCALE multiplies the counts)
"""
import json
import multiprocessing
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pool_mp  # noqa: E402  (the multiprocessing peer: its configuration and task)

import cfgpool  # noqa: E402

BATCH = 8
REPS = 3


def pool_config(filler_bytes, workers):
    bench_pool_mp.FILLER_BYTES = filler_bytes
    config = bench_pool_mp.make_config()
    config["pool"] = {"workers": workers, "pin": False}
    config["kernel"] = {"name": "spin"}
    return config


def report(config, unit, samples, extra):
    bench_pool_mp.report(config, unit, samples, extra, bench="python")
    return sorted(samples)[len(samples) // 2]


def latency_peers(scale, ncpu):
    """The latency regimes: every peer's pool made for the regime and closed after it."""
    items = list(range(BATCH))
    inputs = [{"iterations": i} for i in items]
    regimes = [("b2b_tiny", max(100, int(2000 * scale)), 50, 0),
               ("periodic_tiny", max(20, int(200 * scale)), 3, 10_000_000)]
    config = pool_config(1 << 20, ncpu)
    bench_pool_mp._config = config  # so that task() computes the expected results here
    expected_mp = [bench_pool_mp.task(i) for i in items]
    try:
        import numpy as np
    except ImportError:
        np = None
        print("bench_python: numpy not found, Pool.map_array skipped", file=sys.stderr)

    for regime, batches, warmup, period in regimes:
        medians = {}
        with cfgpool.Pool(config) as pool:
            want = [r.value for r in pool.map(inputs)]

            def check_map(out):
                if [r.value for r in out] != want:
                    sys.exit("bench_python: wrong results from Pool.map")

            s = bench_pool_mp.latencies(lambda: pool.map(inputs), check_map, batches, warmup, period)
            common = {"regime": regime, "ncpu": ncpu, "tasks_per_batch": BATCH, "workers": pool.workers}
            medians["cfgpool"] = report("%s cfgpool.Pool.map" % regime, "us", s, dict(
                common, peer="cfgpool.Pool.map", setting="Pool(config dict, spin kernel), map of 8 dicts"))
            if np is not None:
                arr = np.zeros(BATCH, cfgpool.input_dtype("spin"))
                arr["iterations"] = items

                def check_array(out):
                    if list(out[0]["value"]) != [w["value"] for w in want]:
                        sys.exit("bench_python: wrong results from Pool.map_array")

                s = bench_pool_mp.latencies(lambda: pool.map_array(arr), check_array, batches, warmup, period)
                medians["cfgpool_array"] = report("%s cfgpool.Pool.map_array" % regime, "us", s, dict(
                    common, peer="cfgpool.Pool.map_array", setting="map_array of a structured array of 8"))
        method = multiprocessing.get_start_method()
        with multiprocessing.Pool(processes=ncpu, initializer=bench_pool_mp.init, initargs=(config,)) as mp:
            mp.map(bench_pool_mp.worker_info, range(ncpu * 4), chunksize=1)  # every initializer has run

            def check_mp(out):
                if out != expected_mp:
                    sys.exit("bench_python: wrong results from multiprocessing")

            s = bench_pool_mp.latencies(lambda: mp.map(bench_pool_mp.task, items), check_mp, batches, warmup, period)
            medians["mp"] = report("%s multiprocessing.Pool.map" % regime, "us", s, {
                "regime": regime, "ncpu": ncpu, "tasks_per_batch": BATCH, "workers": ncpu,
                "peer": "python multiprocessing",
                "setting": "Pool(processes=%d, initializer, initargs=(config,)), start method %s" % (ncpu, method)})
        ratios = {"bench": "python", "config": "ratios %s" % regime, "unit": "ratio",
                  "mp_over_cfgpool_map": round(medians["mp"] / medians["cfgpool"], 2)}
        if "cfgpool_array" in medians:
            ratios["mp_over_cfgpool_map_array"] = round(medians["mp"] / medians["cfgpool_array"], 2)
        print(json.dumps(ratios), flush=True)


def memory_kb(pids):
    """Summed Rss and Pss (kB) of the processes, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss, pss


def memory_child(peer, config_bytes, workers):
    """In a fresh process: make the configuration, then the peer's pool, use it, measure."""
    config = pool_config(config_bytes, workers)
    base = memory_kb([os.getpid()])
    if peer == "cfgpool":
        with cfgpool.Pool(config, workers=workers) as pool:
            for _ in range(20):
                pool.map([{"iterations": i} for i in range(BATCH)])
            total = memory_kb([os.getpid()])
            procs = 1
    else:
        with multiprocessing.Pool(processes=workers, initializer=bench_pool_mp.init, initargs=(config,)) as mp:
            mp.map(bench_pool_mp.worker_info, range(workers * 4), chunksize=1)
            for _ in range(20):
                mp.map(bench_pool_mp.task, range(BATCH))
            children = [p.pid for p in multiprocessing.active_children()]
            total = memory_kb([os.getpid()] + children)
            procs = 1 + len(children)
    print(json.dumps({"rss": total[0], "pss": total[1], "base_rss": base[0], "base_pss": base[1],
                      "processes": procs, "config_json_bytes": len(json.dumps(config))}))


def memory_peers(config_mb, workers):
    medians = {}
    for peer, name in (("cfgpool", "cfgpool.Pool"), ("mp", "multiprocessing.Pool")):
        runs = []
        for _ in range(REPS):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", peer,
                                  str(int(config_mb * (1 << 20))), str(workers)],
                                 capture_output=True, text=True, timeout=1200)
            if out.returncode != 0:
                sys.exit("bench_python: the %s memory child failed: %s" % (peer, out.stderr[-2000:]))
            runs.append(json.loads(out.stdout.splitlines()[-1]))
        for what in ("pss", "rss"):
            samples = [r[what] for r in runs]
            medians[peer, what] = sorted(samples)[len(samples) // 2]
            base = sorted(r["base_" + what] for r in runs)[len(runs) // 2]
            bench_pool_mp.report("memory %s %s %d workers" % (what, name, workers), "kB", samples, {
                "what": "summed %s of all %d processes, config made and pool used" % (
                    what.upper(), runs[0]["processes"]),
                "peer": name, "workers": workers, "processes": runs[0]["processes"],
                "parent_before_pool_kb": base, "config_json_bytes": runs[0]["config_json_bytes"]},
                bench="python")
    print(json.dumps({"bench": "python", "config": "ratios memory %d workers" % workers, "unit": "ratio",
                      "mp_over_cfgpool_pss": round(medians["mp", "pss"] / medians["cfgpool", "pss"], 2),
                      "mp_over_cfgpool_rss": round(medians["mp", "rss"] / medians["cfgpool", "rss"], 2)}),
          flush=True)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--memory-child"]:
        memory_child(args[1], int(args[2]), int(args[3]))
        return
    quick = "--quick" in args
    config_mb = 8.0
    if "--config-mb" in args:
        config_mb = float(args[args.index("--config-mb") + 1])
    known = {"--quick", "--config-mb", str(args[args.index("--config-mb") + 1]) if "--config-mb" in args else ""}
    if any(a not in known for a in args):
        print("usage: bench_python.py [--quick] [--config-mb N]", file=sys.stderr)
        sys.exit(2)  # a usage error, as perf/run expects of a program that refuses its options
    scale = float(os.environ.get("CFGPOOL_BENCH_SCALE", "1") or 1)
    scale = (scale if scale > 0 else 1.0) * (0.1 if quick else 1.0)
    ncpu = len(os.sched_getaffinity(0))
    latency_peers(scale, ncpu)
    memory_peers(config_mb * (0.25 if quick else 1.0), 8)


if __name__ == "__main__":
    main()

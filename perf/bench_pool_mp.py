#!/usr/bin/env python3
"""Question: what does the seed question's own answer cost? multiprocessing.Pool with the
configuration handed to every worker process through the initializer (initargs), then
pool.map over a batch of 8 tiny items, as the application does for every batch it reads
from its topic. Measured back to back (2000 batches: dispatch cost while the workers are
awake) and periodically, one batch every 10 ms (200 batches: the workers have gone back to
sleep in between), like perf/bench_regimes' b2b_tiny and periodic_tiny regimes.

The configuration is the seed's logging dict plus a filler table of about 1 MB, so that
the per-process copy the initializer makes has a realistic size; its size in each worker
is reported. The task reads two values of the configuration and returns a number.

Prints one JSON line per configuration in perf/bench.h's format (bench, config, unit,
median, p99, min, samples, iterations, then extra members). Standard library only.
Usage: bench_pool_mp.py [--quick] [--workers N]   (CFGPOOL_BENCH_SCALE multiplies the batch
counts; --workers sets the processes, default one per CPU)
"""
import json
import multiprocessing
import os
import sys
import time

BATCH = 8
FILLER_BYTES = 1 << 20

_config = None  # this worker's copy of the configuration, set by init()


def make_config():
    """The seed's logging dict, plus a table of records filling about 1 MB of JSON."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "": {"level": "INFO"},
            "another.module": {"level": "DEBUG"},
        },
    }
    records, size, i = [], 0, 0
    while size < FILLER_BYTES:
        rec = {
            "id": i,
            "name": "instrument-%06d" % i,
            "weight": (i % 1000) / 997.0,
            "enabled": i % 3 != 0,
            "tags": ["fx", "tier%d" % (i % 5)],
            "limits": {"lo": -(i % 100), "hi": i % 1000 + 100},
        }
        records.append(rec)
        size += len(json.dumps(rec)) + 2
        i += 1
    config["app"] = {"records": records}
    return config


def init(config):
    """Pool initializer: keep this worker's copy of the configuration."""
    global _config
    _config = config


def task(item):
    """A tiny task that reads the configuration, as cpu_bound() in the seed would."""
    records = _config["app"]["records"]
    level = _config["loggers"]["another.module"]["level"]
    return records[item % len(records)]["weight"] * item + len(level)


def private_kb():
    """This process's private (unshared) resident memory in kB, from smaps_rollup."""
    total = 0
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        return -1
    return total


def worker_info(_):
    """A worker's private memory once its initializer ran, then the pickled size of its
    configuration (what the spawn start method would copy to it)."""
    import pickle

    private = private_kb()
    return os.getpid(), (private, len(pickle.dumps(_config, protocol=pickle.HIGHEST_PROTOCOL)))


def quantile(sorted_values, q):
    i = int(q * (len(sorted_values) - 1) + 0.5)
    return sorted_values[min(i, len(sorted_values) - 1)]


def report(config, unit, samples, extra, bench="pool_mp"):
    v = sorted(samples)
    line = {
        "bench": bench,
        "config": config,
        "unit": unit,
        "median": float("%.4g" % quantile(v, 0.5)),
        "p99": float("%.4g" % quantile(v, 0.99)),
        "min": float("%.4g" % v[0]),
        "samples": len(v),
        "iterations": len(v),
    }
    line.update(extra)
    print(json.dumps(line), flush=True)


def latencies(run_batch, check, batches, warmup, period_ns):
    """Latencies in us of `batches` calls of run_batch() after `warmup` untimed ones, back to
    back or on a period_ns grid; check() sees every call's result."""
    samples = []
    nxt = time.monotonic_ns()
    for i in range(warmup + batches):
        if period_ns:
            nxt += period_ns
            delay = nxt - time.monotonic_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
        t0 = time.perf_counter_ns()
        out = run_batch()
        t1 = time.perf_counter_ns()
        check(out)
        if i >= warmup:
            samples.append((t1 - t0) / 1e3)
    return samples


def run(pool, batches, warmup, period_ns):
    """Latencies in us of `batches` maps of 8 items, back to back or on a period_ns grid."""
    items = list(range(BATCH))
    expected = [task(i) for i in items]

    def check(out):
        if out != expected:
            sys.exit("bench_pool_mp: wrong results %r" % (out,))

    return latencies(lambda: pool.map(task, items), check, batches, warmup, period_ns)


def main():
    argv, quick, ncpu = sys.argv[1:], False, len(os.sched_getaffinity(0))
    while argv:
        a = argv.pop(0)
        if a == "--quick":
            quick = True
        elif a == "--workers" and argv and argv[0].isdigit() and int(argv[0]) > 0:
            ncpu = int(argv.pop(0))
        else:
            print("usage: bench_pool_mp.py [--quick] [--workers N]", file=sys.stderr)
            sys.exit(2)
    scale = float(os.environ.get("CFGPOOL_BENCH_SCALE", "1") or 1)
    scale = (scale if scale > 0 else 1.0) * (0.1 if quick else 1.0)
    method = multiprocessing.get_start_method()

    global _config
    config = make_config()
    _config = config  # so that task() can compute the expected results here
    config_json_bytes = len(json.dumps(config))

    t0 = time.perf_counter_ns()
    pool = multiprocessing.Pool(processes=ncpu, initializer=init, initargs=(config,))
    # The pool is usable once every worker has run the initializer: one map per worker.
    info = dict(pool.map(worker_info, range(ncpu * 4), chunksize=1))
    startup_ms = (time.perf_counter_ns() - t0) / 1e6

    common = {
        "peer": "python multiprocessing",
        "setting": "Pool(processes=%d, initializer, initargs=(config,)), start method %s, map of %d"
        % (ncpu, method, BATCH),
        "ncpu": ncpu,
        "tasks_per_batch": BATCH,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "config_json_bytes": config_json_bytes,
        "config_pickle_bytes": max(v[1] for v in info.values()),
        "worker_private_kb": max(v[0] for v in info.values()),
        "startup_ms": round(startup_ms, 2),
    }
    try:
        batches = max(100, int(2000 * scale))
        samples = run(pool, batches, warmup=50, period_ns=0)
        report("b2b_tiny python multiprocessing", "us", samples, dict(common, regime="b2b_tiny"))
        batches = max(20, int(200 * scale))
        samples = run(pool, batches, warmup=3, period_ns=10_000_000)
        report("periodic_tiny python multiprocessing", "us", samples, dict(common, regime="periodic_tiny"))
    finally:
        pool.close()
        pool.join()


if __name__ == "__main__":
    main()

"""No leaked references or memory: the body of the other tests runs again and again in one
process, and neither the Python heap (tracemalloc) nor the C heap (glibc's mallinfo2(),
which counts the library's and the extension's own allocations) nor the number of live
objects may grow between the later rounds. Debian has no debug interpreter installed here,
so sys.gettotalrefcount() is used only where it exists."""
import concurrent.futures
import ctypes
import gc
import sys
import tracemalloc

import pytest

import cfgpool
from conftest import mc_config, option


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


_libc = ctypes.CDLL(None)
if hasattr(_libc, "mallinfo2"):
    _libc.mallinfo2.restype = _Mallinfo2


def c_heap():
    if not hasattr(_libc, "mallinfo2"):
        return 0
    m = _libc.mallinfo2()
    return m.uordblks + m.hblkhd


def body(pool):
    inputs = [option(i) for i in range(8)] + [{"spot": "bad"}, 3, {"x": {1}}]
    results = pool.map(inputs)
    assert len(results) == 11 and results[0].ok and not results[-1].ok
    futures = [pool.submit(x) for x in inputs]
    concurrent.futures.wait(futures, timeout=600)
    assert [f.result().value for f in futures] == [r.value for r in results]
    for r in results:
        try:
            r.get()
        except cfgpool.ItemError:
            pass
    pool.stats()
    cfg = pool.config()
    assert cfg["loggers"]["another.module"]["level"] == "DEBUG"
    list(cfg.items())
    cfg.to_python()
    pool.reload(mc_config(seed=len(futures)), sync=True)  # the old snapshot is freed on return
    with pytest.raises(cfgpool.ConfigError):
        pool.reload(mc_config(volatility=-1))
    try:
        import numpy as np

        arr = np.zeros(8, cfgpool.input_dtype("mc_option"))
        arr["spot"], arr["strike"], arr["maturity"] = 100, 90, 1
        pool.map_array(arr)
    except ImportError:
        pass
    with pytest.raises(cfgpool.ConfigError):
        cfgpool.Config({"a": [float("inf")]})


def measure(pool, rounds):
    for _ in range(rounds):
        body(pool)
    gc.collect()
    return tracemalloc.get_traced_memory()[0], c_heap(), len(gc.get_objects()), getattr(sys, "gettotalrefcount",
                                                                                    lambda: 0)()


def test_suite_body_leaks_nothing():
    """Three windows of 40 rounds after a warm-up: a leak grows every window, a cache that
    fills once (the interpreter has some that grow in one step, ~1 MB at a time) only one,
    so the smallest growth of the three is what is asserted on. The thresholds leave room
    for what a busy machine leaves in flight (the completer thread's last batch, glibc's
    per-thread caches) and are below what one leaked object or frozen tree per item gives
    (40 rounds convert 880 items and 440 futures)."""
    with cfgpool.Pool(mc_config(), workers=2) as pool:
        tracemalloc.start()
        try:
            last = measure(pool, 10)  # warm-up: caches, interned strings, the completer thread
            growth = []
            for _ in range(3):
                now = measure(pool, 40)
                growth.append([b - a for a, b in zip(last, now)])
                last = now
        finally:
            tracemalloc.stop()
    py, c, objs, refs = (min(g[i] for g in growth) for i in range(4))
    assert py < 32 * 1024, growth
    assert c < 64 * 1024, growth
    assert objs < 200, growth
    assert refs < 200, growth


def test_inputs_keep_their_reference_counts():
    inputs = [option(i) for i in range(8)]
    before = [sys.getrefcount(x) for x in inputs] + [sys.getrefcount(v) for x in inputs for v in x.values()]
    with cfgpool.Pool(mc_config()) as pool:
        for _ in range(50):
            pool.map(inputs)
            pool.submit(inputs[0]).result(timeout=600)
    after = [sys.getrefcount(x) for x in inputs] + [sys.getrefcount(v) for x in inputs for v in x.values()]
    assert before == after

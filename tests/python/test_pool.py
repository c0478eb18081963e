"""cfgpool.Pool: map against the command's own answers, per-item errors, submit and its
futures, reload under running maps, errors with their locations, close."""
import concurrent.futures
import json
import math
import os
import subprocess
import threading

import pytest

import cfgpool
from conftest import BIN, TOP, mc_config, option, python_progress_during


def test_map_equals_cfgpool_run():
    """The same inputs through `cfgpool run` and Pool.map give the same values, bit for bit."""
    config = TOP / "examples" / "config.json"
    lines = (TOP / "examples" / "inputs.jsonl").read_text().splitlines()
    inputs = [json.loads(line) for line in lines if line.strip()]
    run = subprocess.run([str(BIN), "run", "-c", str(config), "--quiet", "-"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    expected = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(expected) == len(inputs) > 0
    with cfgpool.Pool(str(config), workers=2) as pool:
        results = pool.map(inputs)
    assert [r.value for r in results] == [e["result"] for e in expected]
    assert all(r.ok and r.error is None and r.config_version == 1 for r in results)


def test_per_item_errors_keep_every_answer():
    good = option(0)
    inputs = [good, {"strike": 90, "maturity": 1}, {"spot": -1, "strike": 90, "maturity": 1},
              {"spot": float("nan"), "strike": 90, "maturity": 1}, 7, {"spot": 1, "strike": 1, "maturity": 1,
                                                                        "tags": {1, 2}},
              {"spot": 100, "strike": 90, "maturity": 1, "type": "straddle"}, {1: 2}, good]
    with cfgpool.Pool(mc_config()) as pool:
        results = pool.map(inputs)
    assert len(results) == len(inputs)
    assert results[0].ok and results[-1].ok and results[0].value == results[-1].value
    errors = [r.error for r in results[1:-1]]
    assert all(isinstance(e, cfgpool.InputError) and isinstance(e, ValueError) for e in errors)
    assert all(r.value is None and r.config_version == 0 for r in results[1:-1])
    assert str(errors[0]) == 'missing field "spot": expected a positive number'
    assert errors[0].field == "spot" and errors[0].errname == "ENOENT"
    assert str(errors[1]) == 'field "spot": expected a positive number' and errors[1].errname == "ERANGE"
    assert errors[2].field == "spot" and errors[2].errname == "EDOM" and "not finite" in str(errors[2])
    assert str(errors[3]) == "expected a dict, got int" and errors[3].field is None
    assert errors[4].field == "tags" and "set" in str(errors[4])
    assert str(errors[5]) == 'field "type": expected "call" or "put"'
    assert "JSON keys are strings" in str(errors[6])
    with pytest.raises(cfgpool.InputError):
        results[1].get()
    assert results[0].get() == results[0].value


def test_nested_path_in_conversion_errors():
    with cfgpool.Pool(mc_config()) as pool:
        (r,) = pool.map([{"spot": 1, "strike": 1, "maturity": 1, "meta": {"a.b": [0, {"x": object()}]}}])
    assert r.error.field == 'meta["a.b"][1].x'


def test_kernel_error_and_result_error():
    """A kernel's failure is a KernelError worded as `cfgpool run` words it; an output JSON
    cannot hold (a NaN) is a ResultError naming the field. Both items ran: they have a version."""
    with cfgpool.Pool(mc_config()) as pool:
        ok, overflow = pool.map([option(0), {"spot": 1e300, "strike": 1, "maturity": 1000}])
    assert ok.ok
    assert isinstance(overflow.error, cfgpool.KernelError) and overflow.config_version == 1
    assert str(overflow.error) == "kernel mc_option: value out of range (ERANGE)"
    assert overflow.error.errname == "ERANGE" and overflow.error.code == -34
    with cfgpool.Pool(mc_config(paths=1, antithetic=False)) as pool:
        (one,) = pool.map([option(0)])
        fut = pool.submit(option(0)).result(timeout=600)
    for r in (one, fut):
        assert isinstance(r.error, cfgpool.ResultError) and r.config_version == 1
        assert str(r.error) == "result field std_error is not finite (nan)"


def test_empty_map_and_generators():
    with cfgpool.Pool(mc_config()) as pool:
        assert pool.map([]) == []
        assert len(pool.map(option(i) for i in range(3))) == 3


def test_submit_futures_match_map():
    inputs = [option(i) for i in range(8)]
    with cfgpool.Pool(mc_config()) as pool:
        expected = [r.value for r in pool.map(inputs)]
        futures = [pool.submit(x) for x in inputs]
        done, _ = concurrent.futures.wait(futures, timeout=600)
        assert len(done) == 8
        assert [f.result().value for f in futures] == expected
        refused = pool.submit({"spot": "x"})
        assert refused.done() and isinstance(refused.result().error, cfgpool.InputError)


def test_close_drains_pending_futures():
    with cfgpool.Pool(mc_config(paths=200000), workers=1) as pool:
        futures = [pool.submit(option(i)) for i in range(40)]
    assert all(f.done() and not f.cancelled() for f in futures)
    assert all(f.result().ok for f in futures)


def test_close_cancel_cancels_queued_futures():
    pool = cfgpool.Pool(mc_config(paths=2000000), workers=1)
    futures = [pool.submit(option(i)) for i in range(20)]
    pool.close(cancel=True)
    assert all(f.done() for f in futures)
    cancelled = [f for f in futures if f.cancelled()]
    finished = [f for f in futures if not f.cancelled()]
    assert len(cancelled) > 0
    assert all(f.result().ok for f in finished)
    with pytest.raises(concurrent.futures.CancelledError):
        cancelled[0].result()
    assert pool.closed
    with pytest.raises(cfgpool.ClosedError):
        pool.submit(option(0))
    with pytest.raises(cfgpool.ClosedError):
        pool.map([option(0)])
    with pytest.raises(RuntimeError):
        pool.reload(mc_config())
    pool.close()  # a second close does nothing


def test_reload_under_running_maps():
    """Maps on four threads while the main thread reloads with another seed each time: every
    result is the one its config_version's seed gives."""
    inputs = [option(i) for i in range(4)]
    seeds = {}
    with cfgpool.Pool(mc_config(seed=0)) as pool:
        # The reference values of each seed, from a pool of their own.
        for s in range(6):
            with cfgpool.Pool(mc_config(seed=s)) as ref:
                seeds[s] = [r.value for r in ref.map(inputs)]
        seen = []
        failures = []
        stop = threading.Event()

        def mapper():
            while not stop.is_set():
                for r in pool.map(inputs):
                    seen.append((r.config_version, r.value))

        threads = [threading.Thread(target=mapper) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for s in range(1, 6):
                version = pool.reload(mc_config(seed=s))
                assert version == s + 1
                with pytest.raises(cfgpool.ConfigError):
                    pool.reload(mc_config(volatility=-1))
                assert pool.version == s + 1
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert len(seen) > 0
        for version, value in seen:
            if value not in seeds[version - 1]:
                failures.append((version, value))
        assert failures == []
        st = pool.stats()
        assert st["reloads"] == 5 and st["reload_failures"] == 5 and st["config_version"] == 6


def test_config_errors_carry_locations(write_config):
    bad = write_config('{\n  "kernel": {"name": "mc_option",\n    "paths": 10,,\n  }\n}\n')
    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Pool(bad)
    err = e.value
    assert err.file == bad and err.line == 3 and err.column > 0 and err.errname == "ESYNTAX"
    assert str(err).startswith("%s:3:" % bad)

    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Pool(mc_config(paths="many"))
    assert e.value.path == "kernel.paths" and e.value.file == "<string>" and e.value.line == 0

    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Pool(mc_config(), workers=100000)
    assert e.value.path == "opts.workers" and e.value.errname == "EINVAL"

    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Pool(os.path.join(os.path.dirname(bad), "missing.json"))
    assert e.value.errname == "ENOENT" and e.value.file.endswith("missing.json")

    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Pool({"kernel": {"name": "mc_option", "rate": float("inf")}})
    assert e.value.path == "kernel.rate" and e.value.file == "<dict>" and e.value.errname == "EDOM"

    with cfgpool.Pool(mc_config()) as pool:
        with pytest.raises(cfgpool.ConfigError) as e:
            pool.reload({"kernel": {"name": "spin"}})
        assert e.value.path == "kernel.name" and e.value.errname == "ESCHEMA"
        with pytest.raises(cfgpool.ConfigError) as e:
            pool.reload(bad)
        assert e.value.line == 3 and e.value.file == bad
        assert pool.version == 1
        good = write_config(mc_config(seed=7), "good.json")
        assert pool.reload(good, sync=True) == 2
        assert pool.config()["kernel"]["seed"] == 7


def test_accessors_and_stats():
    with cfgpool.Pool(mc_config(), workers=2) as pool:
        assert pool.workers == 2 and pool.kernel == "mc_option" and pool.version == 1 and not pool.closed
        pool.map([option(i) for i in range(8)])
        st = pool.stats()
        assert st["submitted"] == st["completed"] == 8 and st["failed"] == 0
        assert len(st["workers"]) == 2
        assert sum(w["tasks"] for w in st["workers"]) + st["caller_tasks"] == 8
        cfg = pool.config()
        assert cfg.version == 1 and cfg["loggers"]["another.module"]["level"] == "DEBUG"
        assert "workers=2" in repr(pool)
    assert pool.closed and repr(pool) == "<cfgpool.Pool closed>"
    for call in (lambda: pool.version, lambda: pool.workers, lambda: pool.kernel, lambda: pool.struct_sizes,
                 pool.stats, pool.config, lambda: pool.map([]), lambda: pool.submit(option(0)),
                 lambda: pool.reload(mc_config())):
        with pytest.raises(cfgpool.ClosedError):
            call()
    pool.close()


def test_gil_released_during_map():
    """A Python thread keeps running while map computes: it counts while the pool works."""
    with cfgpool.Pool(mc_config(paths=2000000), workers=1) as pool:
        during, _ = python_progress_during(lambda: pool.map([option(i) for i in range(4)]))
    assert during > 1000

"""Shared fixtures of the binding's tests, and their TAP report for `make check`.

tests/check_python.sh sets CFGPOOL_TAP to a file; every test's outcome is written there as
one TAP line ("ok N - file::test", "not ok N - ...", "ok N - ... # SKIP reason").
"""
import json
import os
import pathlib
import threading

import pytest

DATA = pathlib.Path(os.environ.get("CFGPOOL_TEST_DATA", pathlib.Path(__file__).resolve().parent.parent))
TOP = DATA.parent
BIN = pathlib.Path(os.environ.get("CFGPOOL_BIN", "cfgpool"))

_tap = {"n": 0}


def pytest_runtest_logreport(report):
    path = os.environ.get("CFGPOOL_TAP")
    if not path:
        return
    line = None
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _tap["n"] += 1
        name = report.nodeid
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            line = "ok %d - %s # SKIP %s" % (_tap["n"], name, reason)
        elif report.passed:
            line = "ok %d - %s" % (_tap["n"], name)
        else:
            line = "not ok %d - %s" % (_tap["n"], name)
    elif report.when == "teardown" and report.failed:
        _tap["n"] += 1
        line = "not ok %d - %s (teardown)" % (_tap["n"], report.nodeid)
    if line is not None:
        with open(path, "a") as f:
            f.write(line + "\n")


def mc_config(**kernel):
    """A small mc_option configuration as a dict: 2 workers, cheap tasks."""
    k = {"name": "mc_option", "rate": 0.03, "volatility": 0.2, "paths": 2000, "seed": 42}
    k.update(kernel)
    return {"version": 1, "loggers": {"": {"level": "INFO"}, "another.module": {"level": "DEBUG"}},
            "pool": {"workers": 2, "pin": False}, "kernel": k}


def option(i):
    return {"spot": 100.0, "strike": 80.0 + 5 * i, "maturity": 1.0, "type": "put" if i % 2 else "call"}


@pytest.fixture
def write_config(tmp_path):
    """Writes a document (a dict, or text) to a file and returns its path."""
    def write(doc, name="config.json"):
        p = tmp_path / name
        p.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
        return str(p)
    return write


def python_progress_during(work):
    """How many times a Python thread got the GIL while work() ran on this one."""
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        before = counter[0]
        result = work()
        return counter[0] - before, result
    finally:
        stop.set()
        t.join()

"""A Python host: loads the built shared library with ctypes.CDLL, as a language binding
does, and uses the public API through it: error texts, a pool of the built-in spin kernel
opened from a string (and a located error for a bad one), a batch mapped and checked
against the kernel's arithmetic redone here, a read from a Python thread, a reload, close.
Prints TAP: one test per step; a failed load fails the first and skips the rest.
  python3 ctypes_host.py path/to/libcfgpool.so
"""
import ctypes
import os
import signal
import sys
import threading

PLAN = 6
SPIN_COS = 0.5403023058681398  # src/kernels/spin.c
SPIN_SIN = 0.8414709848078965


class Error(ctypes.Structure):
    """cfgpool_error_t of <cfgpool/error.h>."""
    _fields_ = [("code", ctypes.c_int), ("line", ctypes.c_int), ("column", ctypes.c_int),
                ("position", ctypes.c_long), ("source", ctypes.c_char * 160),
                ("path", ctypes.c_char * 256), ("text", ctypes.c_char * 320)]


class Result(ctypes.Structure):
    """cfgpool_result_t of <cfgpool/pool.h>."""
    _fields_ = [("status", ctypes.c_int), ("worker", ctypes.c_uint), ("version", ctypes.c_uint64),
                ("elapsed_ns", ctypes.c_uint64)]


def spin(iterations):
    x, y = 1.0, 0.0
    for _ in range(iterations):
        x, y = SPIN_COS * x - SPIN_SIN * y, SPIN_SIN * x + SPIN_COS * y
    return x


def declare(lib):
    p = ctypes.c_void_p
    sigs = {
        "cfgpool_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "cfgpool_err_name": (ctypes.c_char_p, [ctypes.c_int]),
        "cfgpool_error_init": (None, [ctypes.POINTER(Error)]),
        "cfgpool_pool_open_string": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, p, p,
                                                    ctypes.POINTER(p), ctypes.POINTER(Error)]),
        "cfgpool_pool_map": (ctypes.c_int, [p, p, ctypes.c_size_t, p, ctypes.c_size_t, ctypes.c_size_t,
                                            ctypes.POINTER(Result), ctypes.c_uint]),
        "cfgpool_pool_reload_string": (ctypes.c_int, [p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                                      ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(Error)]),
        "cfgpool_pool_holder": (p, [p]),
        "cfgpool_pool_close": (ctypes.c_int, [p, ctypes.c_int]),
        "cfgpool_holder_read_begin": (p, [p]),
        "cfgpool_holder_read_end": (None, [p]),
        "cfgpool_config_version": (ctypes.c_uint64, [p]),
        "cfgpool_config_root": (p, [p]),
        "cfgpool_get_int": (ctypes.c_int, [p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64)]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args


def read_in_thread(lib, holder):
    seen = {}

    def reader():
        snap = lib.cfgpool_holder_read_begin(holder)
        answer = ctypes.c_int64()
        seen["rc"] = lib.cfgpool_get_int(lib.cfgpool_config_root(snap), b"app.answer", ctypes.byref(answer))
        seen["version"] = lib.cfgpool_config_version(snap)
        seen["answer"] = answer.value
        lib.cfgpool_holder_read_end(holder)

    t = threading.Thread(target=reader)
    t.start()
    t.join()
    return seen


def main(path):
    n = 0

    def check(ok, what, detail=""):
        nonlocal n
        n += 1
        print(("ok" if ok else "not ok"), n, "-", what)
        if not ok and detail:
            print("# " + str(detail).replace("\n", "\n# "))
        return ok

    print("1..%d" % PLAN)
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        check(False, "ctypes.CDLL loads the library", e)
        for i in range(2, PLAN + 1):
            print("ok", i, "- # SKIP the library did not load")
        return
    check(True, "ctypes.CDLL loads the library")
    declare(lib)

    check(lib.cfgpool_strerror(-22) == b"invalid argument" and lib.cfgpool_err_name(-22) == b"EINVAL" and
          lib.cfgpool_strerror(-4002) == b"JSON syntax error",
          "cfgpool_strerror and cfgpool_err_name give the table's texts")

    err = Error()
    pool = ctypes.c_void_p()
    bad = b'{"kernel": {"name": "spin"},\n "pool": {"workers": "two"}}'
    lib.cfgpool_error_init(ctypes.byref(err))
    rc = lib.cfgpool_pool_open_string(bad, len(bad), None, None, ctypes.byref(pool), ctypes.byref(err))
    schema = (rc, err.code, err.path)
    broken = b'{"kernel": {"name": "spin"},\n "pool": {"workers": }}'
    lib.cfgpool_error_init(ctypes.byref(err))
    rc = lib.cfgpool_pool_open_string(broken, len(broken), None, None, ctypes.byref(pool), ctypes.byref(err))
    syntax = (rc, err.code, err.line)
    check(schema == (-4003, -4003, b"pool.workers") and syntax == (-4002, -4002, 2),
          "bad documents are refused with located errors",
          "schema error %r, syntax error %r" % (schema, syntax))

    doc = b'{"kernel": {"name": "spin"}, "pool": {"workers": 2}, "app": {"answer": 42}}'
    rc = lib.cfgpool_pool_open_string(doc, len(doc), None, None, ctypes.byref(pool), ctypes.byref(err))
    if not check(rc == 0 and pool.value, "a spin pool opens from a string", "rc %d: %r" % (rc, err.text)):
        for i in range(n + 1, PLAN + 1):
            print("ok", i, "- # SKIP no pool")
        return

    iters = [300 * (i + 1) for i in range(16)]
    inputs = (ctypes.c_uint64 * 16)(*iters)
    outputs = (ctypes.c_double * 16)()
    results = (Result * 16)()
    rc = lib.cfgpool_pool_map(pool, inputs, 8, outputs, 8, 16, results, 0)
    want = [spin(k) for k in iters]
    check(rc == 0 and list(outputs) == want and all(r.status == 0 and r.version == 1 for r in results),
          "a mapped batch gives the kernel's values at version 1", "rc %d: %r != %r" % (rc, list(outputs), want))

    holder = lib.cfgpool_pool_holder(pool)
    before = read_in_thread(lib, holder)
    doc2 = doc.replace(b"42", b"43")
    version = ctypes.c_uint64()
    rc = lib.cfgpool_pool_reload_string(pool, doc2, len(doc2), 1, ctypes.byref(version), ctypes.byref(err))
    after = read_in_thread(lib, holder)
    closed = lib.cfgpool_pool_close(pool, 0)
    check(before == {"rc": 0, "version": 1, "answer": 42} and rc == 0 and version.value == 2 and
          after == {"rc": 0, "version": 2, "answer": 43} and closed == 0,
          "a Python thread reads the configuration before and after a reload; close returns 0",
          "before %r, reload rc %d version %d, after %r, close %d" % (before, rc, version.value, after, closed))


if __name__ == "__main__":
    # A hang is a failure: SIGALRM ends the run after 60 s, times the multiplier.
    scale = float(os.environ.get("CFGPOOL_TEST_TIMEOUT_MULTIPLIER") or 1)
    signal.alarm(max(1, int(60 * (scale if scale > 0 else 1))))
    main(sys.argv[1])

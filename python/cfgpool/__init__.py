"""cfgpool from Python: one frozen configuration shared by a pool of pinned worker threads.

    import cfgpool
    with cfgpool.Pool("config.json") as pool:    # the kernel is named in the configuration
        results = pool.map(inputs)               # dicts like `cfgpool run`'s JSON lines
        values = [r.get() for r in results]      # r.value, r.error, r.config_version

Pool(config, *, workers=None, cpus=None, pin=None, queue_capacity=None, section=None)
    config is a path or a dict; the options override the document's `pool` section as
    cfgpool_pool_opts_t does. A refused document or option raises ConfigError.
Pool.map(inputs) -> [Result]          in input order; the GIL is released while the pool computes
Pool.submit(input) -> Future          a concurrent.futures.Future whose result is the Result
Pool.map_array(array) -> (outputs, results)
                                      NumPy structured arrays of the kernel's own structs
Pool.reload(config, *, sync=False)    a path or a dict, while maps run; returns the new version
Pool.version, .workers, .kernel, .stats(), .config(), .close(cancel=False), with-statement
Config(path_or_dict)                  a frozen configuration, read as a mapping without copies
Kernel(name, run, input_dtype, output_dtype, params_dtype=None)
                                      a kernel whose run is a numba.cfunc (Pool(..., kernel=k))

Every input gets exactly one Result: its value (a dict, as the kernel's codec encodes it)
or its error (InputError, KernelError or ResultError, all ItemError), never both.
"""
import atexit
import collections.abc
import concurrent.futures
import threading
import weakref

from cfgpool._cfgpool import (  # noqa: F401  (re-exported)
    CALLER_WORKER,
    MAX_DEPTH,
    ClosedError,
    Config,
    ConfigArray,
    ConfigError,
    Error,
    InputError,
    ItemError,
    KernelError,
    Result,
    ResultError,
    kernel_layouts,
    library_version,
    result_layout,
    strerror,
)
from cfgpool import _cfgpool

__all__ = [
    "Pool", "Config", "ConfigArray", "Result", "Error", "ConfigError", "ClosedError", "ItemError",
    "InputError", "KernelError", "ResultError", "input_dtype", "output_dtype", "RESULT_DTYPE", "Kernel",
    "KERNEL_SIGNATURE",
]
__version__ = library_version

collections.abc.Mapping.register(Config)
collections.abc.Sequence.register(ConfigArray)

# Pools still open when the interpreter exits are closed (draining what was submitted),
# so that every future gets its answer, as concurrent.futures does for its executors.
_open_pools = weakref.WeakSet()


@atexit.register
def _close_open_pools():
    for pool in list(_open_pools):
        pool.close()


class Pool(_cfgpool.Pool):
    """A cfgpool pool: see the module's documentation."""

    def __init__(self, config, *, workers=None, cpus=None, pin=None, queue_capacity=None, section=None,
                 kernel=None):
        super().__init__(config, workers=workers, cpus=cpus, pin=pin, queue_capacity=queue_capacity,
                         section=section, kernel=kernel)
        self._kernel = kernel
        self._lock = threading.Lock()
        self._completer = None
        _open_pools.add(self)

    def submit(self, input):
        """Queues one input; returns a concurrent.futures.Future whose result() is its Result.

        An input refused before it is queued has its Result, with its InputError, at once. A
        future cancelled by its caller still runs (its result is then dropped); close(cancel=True)
        cancels the futures of the tasks it cancels.
        """
        future = concurrent.futures.Future()
        with self._lock:
            if self._completer is None and not self.closed:
                self._completer = threading.Thread(target=_complete, args=(self,),
                                                   name="cfgpool-completer", daemon=True)
                self._completer.start()
        refused = self._submit(input, future)
        if refused is not None:
            future.set_result(refused)
        return future

    def map_array(self, inputs, output_dtype=None):
        """Runs the kernel on a NumPy array of its input structs: (outputs, results).

        `inputs` has the dtype input_dtype(kernel) (or any dtype of the kernel's input size for a
        plug-in); outputs has output_dtype(kernel), results RESULT_DTYPE (status, worker,
        config_version, elapsed_ns). No dict per item and no codec: the kernel sees these bytes
        as they are, and its run refuses what it refuses (status < 0, say -EINVAL).
        """
        import numpy as np

        in_size, out_size = self.struct_sizes
        k = self._kernel
        want = k.input_dtype if k is not None else input_dtype(self.kernel)
        arr = np.ascontiguousarray(inputs)
        if want is not None and arr.dtype != want:
            raise TypeError("map_array: kernel %s takes dtype %r, got %r" % (self.kernel, want, arr.dtype))
        if arr.dtype.itemsize != in_size or arr.ndim != 1:
            raise TypeError("map_array: a one-dimensional array of %d-byte items is needed, got %d-byte items"
                            % (in_size, arr.dtype.itemsize))
        if output_dtype is None:
            output_dtype = k.output_dtype if k is not None else globals()["output_dtype"](self.kernel)
        odt = np.dtype(output_dtype) if output_dtype is not None else np.dtype("V%d" % out_size)
        if odt.itemsize != out_size:
            raise TypeError("map_array: output items are %d bytes, not %d" % (out_size, odt.itemsize))
        out = np.zeros(len(arr), odt)
        res = np.zeros(len(arr), _dtype(result_layout, {"version": "config_version"}))
        self.map_into(arr, out, res)
        return out, res

    def close(self, cancel=False):
        """Stops the pool: drains what is queued (or, with cancel=True, cancels it: those futures
        are cancelled), waits for every call in flight, frees the workers. Every future submitted
        is done when close returns (but from the completer thread, inside a future's callback)."""
        self._close(cancel=cancel)
        _open_pools.discard(self)
        completer = self._completer
        if completer is not None and completer is not threading.current_thread():
            completer.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        if self.closed:
            return "<cfgpool.Pool closed>"
        return "<cfgpool.Pool kernel=%s workers=%d version=%d>" % (self.kernel, self.workers, self.version)


def _complete(pool):
    """The completer thread: hands every completed task's Result to its future."""
    completions = pool._completions
    del pool  # only the bound method keeps it alive while the thread waits
    while True:
        batch = completions()
        if batch is None:
            return
        for future, result in batch:
            if future.cancelled():
                continue
            if result is None:
                future.cancel()
            else:
                future.set_result(result)
        batch = future = result = None  # hold nothing while waiting for the next batch


# --- NumPy: the kernels' structs as dtypes -------------------------------------------------------

def _dtype(layout, rename=None):
    import numpy as np

    fields, size = layout
    rename = rename or {}
    return np.dtype({"names": [rename.get(f[0], f[0]) for f in fields], "formats": [f[1] for f in fields],
                     "offsets": [f[2] for f in fields], "itemsize": size})


def input_dtype(kernel):
    """The NumPy dtype of a built-in kernel's input struct (offsets and size from the C
    compiler), None for another kernel."""
    layout = kernel_layouts.get(kernel)
    return _dtype(layout[0]) if layout else None


def output_dtype(kernel):
    """The NumPy dtype of a built-in kernel's output struct, None for another kernel."""
    layout = kernel_layouts.get(kernel)
    return _dtype(layout[1]) if layout else None


def __getattr__(name):
    if name == "RESULT_DTYPE":
        return _dtype(result_layout, {"version": "config_version"})
    raise AttributeError("module 'cfgpool' has no attribute %r" % name)


# --- kernels compiled from Python ----------------------------------------------------------------

# The C signature of a Kernel's run, as numba.cfunc takes it: int32 run(params, input, output).
KERNEL_SIGNATURE = "int32(voidptr, voidptr, voidptr)"


def _fields(dtype, what):
    """A flat structured dtype as the extension's (name, kind, size, offset) list."""
    if dtype.names is None:
        raise TypeError("Kernel: %s_dtype must be a structured dtype, got %r" % (what, dtype))
    fields = []
    for name in dtype.names:
        ft, offset = dtype.fields[name][:2]
        if ft.subdtype is not None or ft.names is not None or ft.kind not in "fiub" or not ft.isnative:
            raise TypeError("Kernel: field %s of %s_dtype is %r: only native numbers and bools" % (name, what, ft))
        fields.append((name, ft.kind, ft.itemsize, offset))
    return fields


class Kernel(_cfgpool.Kernel):
    """A kernel whose run is native code compiled from Python, for Pool(config, kernel=k).

    run           a numba.cfunc(KERNEL_SIGNATURE) (or an int address of a C function with that
                  signature): int32 run(params, input, output), called on the pool's workers
                  with no GIL. 0 or a negative errno code (the item's status); a positive one
                  becomes -EINVAL.
    input_dtype, output_dtype
                  flat structured NumPy dtypes of one input and one output: inputs are read
                  field by field from dicts (Pool.map) or taken as arrays (Pool.map_array), and
                  outputs written back the same way.
    params_dtype  the kernel section compiled once per load and reload: each field is a
                  required member of `kernel`, and run gets a pointer to that struct.
    The configuration's kernel.name, if it has one, must be `name`. In run, read the structs
    with numba.carray(ptr, 1, dtype)[0].
    """

    def __init__(self, name, run, input_dtype, output_dtype, params_dtype=None):
        import numpy as np

        self.input_dtype = np.dtype(input_dtype)
        self.output_dtype = np.dtype(output_dtype)
        self.params_dtype = np.dtype(params_dtype if params_dtype is not None else [])
        address = getattr(run, "address", run)
        if not isinstance(address, int):
            raise TypeError("Kernel: run must be a numba.cfunc or an address, not %r" % (run,))
        super().__init__(name=name, address=address, keep=run,
                         input=_fields(self.input_dtype, "input"), input_size=self.input_dtype.itemsize,
                         output=_fields(self.output_dtype, "output"), output_size=self.output_dtype.itemsize,
                         params=_fields(self.params_dtype, "params"), params_size=self.params_dtype.itemsize)

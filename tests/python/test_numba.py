"""cfgpool.Kernel: a kernel whose run is a numba.cfunc, with its structs as NumPy dtypes."""
import re
import textwrap

import pytest

import cfgpool
from conftest import TOP, python_progress_during

np = pytest.importorskip("numpy")
numba = pytest.importorskip("numba")

IN = np.dtype([("x", "f8"), ("n", "i4"), ("flag", "?")], align=True)
OUT = np.dtype([("y", "f8"), ("k", "i8"), ("small", "f4")])
PAR = np.dtype([("scale", "f8"), ("loops", "u4")], align=True)


@numba.cfunc(cfgpool.KERNEL_SIGNATURE, nopython=True)
def affine(params, inp, out):
    p = numba.carray(params, 1, PAR)[0]
    i = numba.carray(inp, 1, IN)[0]
    o = numba.carray(out, 1, OUT)[0]
    if i.n < 0:
        return -33  # EDOM
    acc = 0.0
    for j in range(p.loops):  # work without the GIL
        acc += (j % 7) * 1e-9
    o.y = i.x * p.scale + i.n + (1.0 if i.flag else 0.0) + acc * 0.0
    o.k = i.n * 2
    o.small = 0.5
    return 0


def config(scale=3.0, loops=0):
    return {"pool": {"workers": 2, "pin": False}, "kernel": {"name": "affine", "scale": scale, "loops": loops}}


def kernel():
    return cfgpool.Kernel("affine", affine, IN, OUT, PAR)


def test_dicts_through_the_dtype_codec():
    with cfgpool.Pool(config(), kernel=kernel()) as pool:
        assert pool.kernel == "affine" and pool.struct_sizes == (IN.itemsize, OUT.itemsize)
        rs = pool.map([{"x": 1.5, "n": 2, "flag": True}, {"x": 1, "n": -1, "flag": False}, {"x": 1, "flag": False},
                       {"x": "a", "n": 1, "flag": False}, {"x": 1, "n": 2 ** 40, "flag": False}])
        fut = pool.submit({"x": 2, "n": 1, "flag": False}).result(timeout=600)
    assert rs[0].value == {"y": 1.5 * 3 + 2 + 1, "k": 4, "small": 0.5}
    assert isinstance(rs[1].error, cfgpool.KernelError) and rs[1].error.errname == "EDOM"
    assert str(rs[2].error) == 'missing field "n": expected an integer' and rs[2].error.field == "n"
    assert str(rs[3].error) == 'field "x": expected a number'
    assert str(rs[4].error) == 'field "n": expected an integer from -2147483648 to 2147483647'
    assert fut.value == {"y": 7.0, "k": 2, "small": 0.5} and fut.config_version == 1


def test_arrays_and_reload_of_the_params():
    a = np.zeros(4, IN)
    a["x"], a["n"] = [1, 2, 3, 4], [0, 1, -5, 3]
    with cfgpool.Pool(config(scale=2.0), kernel=kernel()) as pool:
        out, res = pool.map_array(a)
        assert list(res["status"]) == [0, 0, -33, 0] and list(out["y"][[0, 1, 3]]) == [2.0, 5.0, 11.0]
        assert pool.reload(config(scale=10.0)) == 2
        out, res = pool.map_array(a)
        assert list(out["y"][[0, 1, 3]]) == [10.0, 21.0, 43.0] and (res["config_version"] == 2).all()
        with pytest.raises(cfgpool.ConfigError) as e:
            pool.reload({"pool": config()["pool"], "kernel": {"name": "affine", "scale": 1.0}})
        assert e.value.path == "kernel.loops" and str(e.value).endswith("expected an integer")
        with pytest.raises(cfgpool.ConfigError) as e:
            pool.reload(dict(config(), kernel={"name": "other", "scale": 1.0, "loops": 0}))
        assert e.value.path == "kernel.name"
        assert pool.version == 2


def test_refused_at_open():
    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Pool({"kernel": {"scale": "x", "loops": 0}}, kernel=kernel())
    assert e.value.path == "kernel.scale"
    with pytest.raises(TypeError):
        cfgpool.Pool(config(), kernel="affine")
    with pytest.raises(TypeError):
        cfgpool.Kernel("affine", affine, np.dtype("f8"), OUT, PAR)
    with pytest.raises(TypeError):
        cfgpool.Kernel("affine", affine, np.dtype([("s", "U3")]), OUT, PAR)


def test_runs_without_the_gil():
    with cfgpool.Pool(config(loops=20_000_000), kernel=kernel(), workers=1) as pool:
        during, rs = python_progress_during(lambda: pool.map([{"x": 1, "n": 1, "flag": False}] * 4))
    assert all(r.ok for r in rs) and during > 1000


def test_readme_kernel_example():
    """The README's Kernel example, as written there."""
    text = (TOP / "README.md").read_text()
    section = text[text.index("## From Python"):]
    code = textwrap.dedent(re.findall(r"```python\n(.*?)```", section, re.S)[1])
    code = code.replace("    pool.map([{\"x\": 1.5}])", "    RESULT = pool.map([{\"x\": 1.5}])")
    scope = {"np": np, "numba": numba, "cfgpool": cfgpool}
    exec(code, scope)
    (r,) = scope["RESULT"]
    assert r.value == {"y": 3.0} and r.config_version == 1


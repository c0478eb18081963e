"""Pool.map_array: NumPy structured arrays of the kernel's own structs, no dict per item."""
import pytest

import cfgpool
from conftest import mc_config, option

np = pytest.importorskip("numpy")


def test_dtypes_are_the_c_structs():
    dt = cfgpool.input_dtype("mc_option")
    assert dt.names == ("spot", "strike", "maturity", "type") and dt.itemsize == 32
    with cfgpool.Pool(mc_config()) as pool:
        assert pool.struct_sizes == (dt.itemsize, cfgpool.output_dtype("mc_option").itemsize)
    assert cfgpool.RESULT_DTYPE.names == ("status", "worker", "config_version", "elapsed_ns")
    assert cfgpool.input_dtype("a plug-in") is None


def test_map_array_equals_map():
    n = 64
    inputs = [option(i % 8) for i in range(n)]
    arr = np.zeros(n, cfgpool.input_dtype("mc_option"))
    arr["spot"] = [x["spot"] for x in inputs]
    arr["strike"] = [x["strike"] for x in inputs]
    arr["maturity"] = [x["maturity"] for x in inputs]
    arr["type"] = [1 if x["type"] == "put" else 0 for x in inputs]
    arr["strike"][5] = -1  # refused by the kernel's run, as it is not decoded by the codec
    with cfgpool.Pool(mc_config()) as pool:
        expected = pool.map(inputs)
        out, res = pool.map_array(arr)
        with pytest.raises(TypeError):
            pool.map_array(np.zeros(3, "f8"))
    assert res["status"][5] == -22 and (np.delete(res["status"], 5) == 0).all()
    assert (res["config_version"] == 1).all()
    for i in range(n):
        if i != 5:
            assert out["price"][i] == expected[i].value["price"]
            assert out["std_error"][i] == expected[i].value["std_error"]
            assert out["paths"][i] == expected[i].value["paths"]


def test_spin_and_curve():
    with cfgpool.Pool({"pool": {"workers": 2}, "kernel": {"name": "spin"}}) as pool:
        arr = np.zeros(10, cfgpool.input_dtype("spin"))
        arr["iterations"] = np.arange(10) * 100
        out, res = pool.map_array(arr)
        dicts = pool.map([{"iterations": int(i)} for i in arr["iterations"]])
    assert list(out["value"]) == [r.value["value"] for r in dicts] and (res["status"] == 0).all()

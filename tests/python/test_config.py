"""cfgpool.Config: a frozen configuration read from Python as a mapping, without copies."""
import collections.abc

import pytest

import cfgpool
from conftest import TOP, mc_config


def test_seed_lookups():
    cfg = cfgpool.Config(str(TOP / "examples" / "config.json"))
    assert cfg["loggers"]["another.module"]["level"] == "DEBUG"
    assert cfg["loggers"][""]["level"] == "INFO"
    assert cfg.lookup('loggers["another.module"].level') == "DEBUG"
    assert cfg["version"] == 1 and cfg["disable_existing_loggers"] is False
    assert cfg["kernel"]["rate"] == 0.03 and isinstance(cfg["kernel"]["paths"], int)
    assert cfg.version == 0 and cfg.size > 0


def test_mapping_protocol_in_document_order():
    doc = {"b": 1, "a": [1, 2.5, None, True, "x", {"k": []}], "c": {"d": {"e": "f"}}}
    cfg = cfgpool.Config(doc)
    assert isinstance(cfg, collections.abc.Mapping)
    assert list(cfg) == ["b", "a", "c"] == cfg.keys()
    assert len(cfg) == 3 and "a" in cfg and "z" not in cfg and 1 not in cfg
    assert cfg.get("z") is None and cfg.get("z", 5) == 5 and cfg.get("b") == 1
    arr = cfg["a"]
    assert isinstance(arr, cfgpool.ConfigArray) and isinstance(arr, collections.abc.Sequence)
    assert len(arr) == 6 and arr[0] == 1 and arr[-1]["k"] == [] and list(arr)[:5] == [1, 2.5, None, True, "x"]
    assert cfg.to_python() == doc and cfg == doc and arr == doc["a"] and cfg["c"] == {"d": {"e": "f"}}
    assert [k for k, _ in cfg.items()] == ["b", "a", "c"] and cfg.values()[0] == 1
    assert cfg.lookup("c.d.e") == "f" and arr.lookup("[5].k") == []
    with pytest.raises(KeyError):
        cfg["z"]
    with pytest.raises(KeyError):
        cfg.lookup("c.x")
    with pytest.raises(TypeError):
        cfg.lookup("b.x")
    with pytest.raises(ValueError):
        cfg.lookup("c[")
    with pytest.raises(IndexError):
        arr[6]
    with pytest.raises(TypeError):
        cfg[0]


def test_views_keep_the_tree_alive():
    sub = cfgpool.Config({"a": {"b": [1, {"c": "deep"}]}})["a"]["b"]
    import gc

    gc.collect()
    assert sub[1]["c"] == "deep"


def test_errors():
    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Config({"a": float("nan")})
    assert e.value.path == "a" and e.value.file == "<dict>"
    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Config("/nonexistent/config.json")
    assert e.value.errname == "ENOENT"
    deep = {}
    d = deep
    for _ in range(70):
        d["x"] = {}
        d = d["x"]
    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Config(deep)
    assert e.value.errname == "ELOOP" and e.value.path.startswith("x.x.x")
    loop = {}
    loop["self"] = loop
    with pytest.raises(cfgpool.ConfigError):
        cfgpool.Config(loop)


def test_values_round_trip():
    doc = {"i": -(2 ** 63), "u": 2 ** 63 - 1, "f": 0.1, "neg0": -0.0, "s": "é\u0000x", "big": 1e300}
    cfg = cfgpool.Config(doc)
    assert cfg["i"] == -(2 ** 63) and cfg["u"] == 2 ** 63 - 1 and cfg["f"] == 0.1 and cfg["s"] == "é\u0000x" and cfg["big"] == 1e300
    assert str(cfg["neg0"]) == "-0.0"
    with pytest.raises(cfgpool.ConfigError) as e:
        cfgpool.Config({"x": 2 ** 63})
    assert e.value.path == "x" and e.value.errname == "ERANGE"


def test_pool_config_is_a_copy_of_the_current_version():
    with cfgpool.Pool(mc_config(seed=1)) as pool:
        before = pool.config()
        pool.reload(mc_config(seed=2))
        after = pool.config()
    assert before.version == 1 and before["kernel"]["seed"] == 1
    assert after.version == 2 and after["kernel"]["seed"] == 2
    assert after.to_python() == mc_config(seed=2)

"""The README's "From Python" section: its program runs as written, and what it says of the
module's surroundings holds."""
import json
import re
import subprocess
import sys
import textwrap

import cfgpool
from conftest import BIN, TOP, mc_config, option


def readme_program():
    text = (TOP / "README.md").read_text()
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_program_runs():
    out = subprocess.run([sys.executable, "-c", readme_program()], cwd=str(TOP), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    inputs = [line for line in (TOP / "examples" / "inputs.jsonl").read_text().splitlines() if line.strip()]
    assert len(lines) == len(inputs) > 0
    assert all(line.startswith("1 {'price': ") for line in lines)


def test_exit_with_the_pool_open_drains_its_futures():
    script = textwrap.dedent("""
        import cfgpool, sys
        sys.path.insert(0, %r)
        from conftest import mc_config, option
        pool = cfgpool.Pool(mc_config(paths=200000), workers=1)
        for i in range(20):
            pool.submit(option(i)).add_done_callback(lambda f: print("done", f.result().ok, flush=True))
        """) % str(TOP / "tests" / "python")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["done True"] * 20


def test_stats_are_named_as_cfgpool_run_names_them():
    config = TOP / "examples" / "config.json"
    run = subprocess.run([str(BIN), "run", "-c", str(config), "--quiet", "--stats", "-"],
                         input=json.dumps(option(0)) + "\n", capture_output=True, text=True, timeout=600)
    theirs = json.loads(run.stderr.strip().splitlines()[-1])
    with cfgpool.Pool(mc_config()) as pool:
        pool.map([option(0)])
        mine = pool.stats()
    assert set(theirs) - {"written"} <= set(mine)
    assert set(theirs["workers"][0]) == set(mine["workers"][0])


def test_integers_outside_int64_are_input_errors():
    with cfgpool.Pool(mc_config()) as pool:
        (r,) = pool.map([dict(option(0), spot=2 ** 63)])
    assert isinstance(r.error, cfgpool.InputError) and r.error.field == "spot" and r.error.errname == "ERANGE"

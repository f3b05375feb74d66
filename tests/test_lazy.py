"""gridsim._lazy: deferred package initialisation (the command line's start-up) changes when code loads, not
what it does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: imported by pandapower's ``__init__`` (and numpy's f2py), never used by a run: the start-up's savings
UNUSED = ("pandapower.control", "pandapower.convert_format", "pandapower.toolbox", "scipy.interpolate",
          "scipy.stats", "deepdiff", "networkx", "numpy.f2py", "numpy.testing")

USE = """
import json, sys
from gridsim._lazy import _DeferredPackage, defer_package_init
if DEFER:
    defer_package_init()
def deferred():
    return sorted(n for n, m in list(sys.modules.items()) if type(m) is _DeferredPackage)   # type(): no load
def loaded(names):
    return sorted(n for n in names if n in sys.modules and type(sys.modules[n]) is not _DeferredPackage)
import numpy as np
import scipy.sparse.csgraph                       # scipy clones numpy's namespace: numpy.f2py, numpy.testing
import pandapower as pp
import pandapower.auxiliary, pandapower.create, pandapower.run    # the pandapower modules gridsim imports
before = deferred()
unused = loaded(UNUSED)
net = pp.networks.case9()                         # the first read from pandapower runs its __init__
after = deferred()
pp.rundcpp(net)
from pandapower.converter.pypower import from_ppc  # a submodule of a deferred package, imported on its own
from pandapower.estimation import estimate         # a name from a deferred package's __init__
import matplotlib.pyplot as plt
fig = plt.figure()
np.testing.assert_allclose(net.res_bus.vm_pu.to_numpy(), 1.0)   # numpy.testing loads on use
print(json.dumps({"before": before, "unused": unused, "after": after,
                  "callables": [callable(from_ppc), callable(estimate), callable(np.f2py.run_main)],
                  "figure": fig is not None, "buses": len(net.bus), "pandapower": loaded(["pandapower"]),
                  "flows": [repr(float(net.res_bus.va_degree.sum())),
                            repr(float(net.res_line.p_from_mw.abs().sum()))]}))
"""


def _run(defer: bool) -> dict:
    code = USE.replace("DEFER", str(defer)).replace("UNUSED", repr(UNUSED))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_deferred_packages_load_on_first_use_with_the_same_results():
    lazy = _run(True)
    assert lazy["before"] == ["numpy.f2py", "numpy.testing", "pandapower", "pandapower.plotting"]   # create: .geo
    assert lazy["unused"] == []                     # pandapower's modules are there, its __init__'s imports not
    assert "pandapower" not in lazy["after"] and "pandapower.networks" not in lazy["after"]
    assert {"pandapower.estimation", "pandapower.plotting", "pandapower.shortcircuit"} <= set(lazy["after"])
    eager = _run(False)
    assert eager["before"] == [] and eager["after"] == []
    assert set(eager["unused"]) >= {"pandapower.control", "scipy.interpolate", "deepdiff"}   # what is saved
    for key in ("callables", "figure", "buses", "pandapower", "flows"):
        assert lazy[key] == eager[key], key        # same flows, and every name was there on use


def test_deferring_twice_or_after_import_is_harmless():
    from gridsim._lazy import _DeferredFinder, defer_package_init

    before = sum(isinstance(f, _DeferredFinder) for f in sys.meta_path)
    defer_package_init(["json"])                        # imported already: nothing to defer
    assert sum(isinstance(f, _DeferredFinder) for f in sys.meta_path) == before


RUN = """
import sys
from gridsim._lazy import _DeferredPackage
from gridsim.cli import main
code = main(["run", SCENARIO, "-o", OUT, "-q", "--no-report"])
print(code, sorted(n for n in ("pandapower",) + UNUSED
                   if n in sys.modules and type(sys.modules[n]) is not _DeferredPackage))
"""


def test_a_run_on_the_built_in_grid_never_runs_pandapowers_init(tmp_path):
    """``gridsim run`` (DC, optimal response, a snapshot in full detail) on the built-in grid: the network built
    (pandapower's trafo creation imports its format conversion, with control, on its own), then read from the
    cache and simulated without pandapower's ``__init__`` and without anything else it imports."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: lazy\nnetwork: dnipro-like\nsolver: dc\nresponse: optimal\n"
                        "outages:\n  - substation: Dnipro-like HPP\n")
    loaded = {}
    for out in ("built", "cached"):
        code = RUN.replace("SCENARIO", repr(str(scenario))).replace("OUT", repr(str(tmp_path / out)))
        code = code.replace("UNUSED", repr(UNUSED))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        exit_code, _, names = done.stdout.strip().splitlines()[-1].partition(" ")
        assert exit_code == "0", done.stderr
        loaded[out] = names
    assert "'pandapower'" not in loaded["built"]
    assert loaded["cached"] == "[]"


def test_listing_a_deferred_packages_names_runs_its_init():
    """``dir``/``inspect.getmembers`` on a deferred package see its names (``pandapower:case14`` networks are
    found by listing ``pandapower.networks``: the command line once answered "unknown pandapower case")."""
    code = ("import inspect, json; from gridsim._lazy import defer_package_init; defer_package_init(); "
            "import pandapower.networks as pn; from gridsim.cli import main; "
            "names = [n for n, _ in inspect.getmembers(pn, inspect.isfunction)]; "
            "print(json.dumps({'case14': 'case14' in names, 'dir': 'case118' in dir(pn), "
            "'code': main(['network', 'pandapower:case14', '--format', 'json'])}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    network, _, last = out.rpartition("\n{")
    assert json.loads("{" + last) == {"case14": True, "dir": True, "code": 0}
    assert json.loads(network)["totals"]["buses"] == 14

"""gridsim._lazy: deferred package initialisation (the command line's start-up) changes when code loads, not
what it does."""

from __future__ import annotations

import subprocess
import sys

USE = """
import sys
from gridsim._lazy import _DeferredPackage, defer_package_init
if DEFER:
    defer_package_init()
import pandapower as pp
deferred = sorted(n for n in ("pandapower.estimation", "pandapower.networks", "pandapower.plotting")
                  if isinstance(sys.modules.get(n), _DeferredPackage))
stats = "scipy.stats" in sys.modules
net = pp.networks.case9()                         # the first use of a deferred package runs its __init__
pp.rundcpp(net)
from pandapower.converter.pypower import from_ppc  # a submodule of a deferred package, imported on its own
from pandapower.estimation import estimate         # a name from a deferred package's __init__
import matplotlib.pyplot as plt
fig = plt.figure()
print(deferred, stats, callable(from_ppc), callable(estimate), fig is not None, len(net.bus),
      repr(float(net.res_bus.va_degree.sum())), repr(float(net.res_line.p_from_mw.abs().sum())))
"""


def _run(defer: bool) -> list[str]:
    out = subprocess.run([sys.executable, "-c", USE.replace("DEFER", str(defer))], capture_output=True,
                         text=True, check=True)
    return out.stdout.split("] ")


def test_deferred_packages_load_on_first_use_with_the_same_results():
    deferred, rest = _run(True)
    assert deferred == "['pandapower.estimation', 'pandapower.networks', 'pandapower.plotting'"
    assert rest.split()[0] == "False"                 # scipy.stats (state estimation) was not imported
    eager_deferred, eager_rest = _run(False)
    assert eager_deferred == "["
    assert eager_rest.split()[1:] == rest.split()[1:]   # same flows, and every name was there on use


def test_deferring_twice_or_after_import_is_harmless():
    from gridsim._lazy import _DeferredFinder, defer_package_init

    before = sum(isinstance(f, _DeferredFinder) for f in sys.meta_path)
    defer_package_init(["json"])                        # imported already: nothing to defer
    assert sum(isinstance(f, _DeferredFinder) for f in sys.meta_path) == before

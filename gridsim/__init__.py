"""gridsim: how much electricity demand goes unserved when plants, substations or lines are knocked out,
where, for how long, and why.

>>> import gridsim
>>> result = gridsim.simulate(gridsim.load_scenario("scenarios/dnipro-hydro-strike.yaml"))
>>> result.summary["unserved_mw"]

The public names are imported on first use (module ``__getattr__``), so ``import gridsim`` and commands such
as ``gridsim schema`` do not pay for pandapower, scipy and matplotlib when they do not need them.
"""

from __future__ import annotations

from gridsim._lazy import lazy_exports

import sys
import types

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first access)
_PUBLIC: dict[str, str] = {
    "GridsimError": "gridsim.errors", "NetworkError": "gridsim.errors", "ScenarioError": "gridsim.errors",
    "SolverError": "gridsim.errors", "check_invariants": "gridsim.metrics", "build_network": "gridsim.networks",
    "write_report": "gridsim.report", "Result": "gridsim.results", "Scenario": "gridsim.scenario",
    "load_scenario": "gridsim.scenario", "loads_scenario": "gridsim.scenario", "simulate": "gridsim.simulate",
    "simulate_timeline": "gridsim.timeline", "simulate_restoration": "gridsim.restoration",
    "find_worst": "gridsim.worst.search", "protect_budget": "gridsim.worst.protect",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())


class _Package(types.ModuleType):
    """``gridsim.simulate`` is the function, although a submodule has the same name: importing the submodule
    makes Python bind it on the package, which would hide the (lazily imported) function."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _PUBLIC.get(name) == f"{__name__}.{name}":
            return      # keep resolving the public function through __getattr__
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

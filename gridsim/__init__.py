"""gridsim: how much electricity demand goes unserved when plants, substations or lines are knocked out,
where, for how long, and why.

>>> import gridsim
>>> result = gridsim.simulate(gridsim.load_scenario("scenarios/dnipro-hydro-strike.yaml"))
>>> result.summary["unserved_mw"]
"""

from gridsim.errors import GridsimError, NetworkError, ScenarioError, SolverError
from gridsim.networks import build_network
from gridsim.results import Result

__version__ = "0.1.0"

__all__ = ["GridsimError", "NetworkError", "Result", "ScenarioError", "SolverError", "build_network",
           "load_scenario", "simulate", "write_report", "check_invariants"]


def __getattr__(name: str):
    # heavy modules are imported on first use, so `gridsim --help` stays fast
    if name == "load_scenario":
        from gridsim.scenario import load_scenario
        return load_scenario
    if name == "simulate":
        from gridsim.simulate import simulate
        return simulate
    if name == "write_report":
        from gridsim.report import write_report
        return write_report
    if name == "check_invariants":
        from gridsim.metrics import check_invariants
        return check_invariants
    raise AttributeError(f"module 'gridsim' has no attribute {name!r}")

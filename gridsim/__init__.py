"""gridsim: how much electricity demand goes unserved when plants, substations or lines are knocked out,
where, for how long, and why.

>>> import gridsim
>>> result = gridsim.simulate(gridsim.load_scenario("scenarios/dnipro-hydro-strike.yaml"))
>>> result.summary["unserved_mw"]
"""

from gridsim.errors import GridsimError, NetworkError, ScenarioError, SolverError
from gridsim.metrics import check_invariants
from gridsim.networks import build_network
from gridsim.report import write_report
from gridsim.results import Result
from gridsim.scenario import Scenario, load_scenario, loads_scenario
from gridsim.simulate import simulate  # the function shadows the module of the same name on purpose

__version__ = "0.1.0"

__all__ = ["GridsimError", "NetworkError", "Result", "Scenario", "ScenarioError", "SolverError",
           "build_network", "check_invariants", "load_scenario", "loads_scenario", "simulate", "write_report"]

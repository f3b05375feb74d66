"""Solvers: registries from the scenario's ``solver`` and ``response`` values to the functions that do them."""

from gridsim.solvers.cascade import respond_cascade
from gridsim.solvers.powerflow import AC_LOSS_ALLOWANCE, STATUSES, Flow, solve_ac, solve_dc
from gridsim.solvers.response import Outcome, respond_none, respond_optimal

#: scenario ``solver`` -> (solve function, loss allowance used when balancing)
SOLVERS = {
    "ac": (solve_ac, AC_LOSS_ALLOWANCE),
    "dc": (solve_dc, 0.0),
}

#: scenario ``response`` -> respond(net, islands, balance, scenario, solve) -> Outcome
RESPONSES = {
    "none": respond_none,
    "optimal": respond_optimal,
    "cascade": respond_cascade,
}

__all__ = ["RESPONSES", "SOLVERS", "STATUSES", "Flow", "Outcome", "solve_ac", "solve_dc"]

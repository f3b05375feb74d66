"""Solvers: a registry from the scenario's ``solver`` value to the function that solves the flows."""

from gridsim.solvers.powerflow import AC_LOSS_ALLOWANCE, STATUSES, Flow, solve_ac, solve_dc

#: scenario ``solver`` -> (solve function, loss allowance used when balancing)
SOLVERS = {
    "ac": (solve_ac, AC_LOSS_ALLOWANCE),
    "dc": (solve_dc, 0.0),
}

__all__ = ["SOLVERS", "STATUSES", "Flow", "solve_ac", "solve_dc"]

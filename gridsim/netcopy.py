"""``working_copy(net)``: a copy of a pandapower net that is safe to damage and solve, at a fraction of the cost
of ``copy.deepcopy`` (which also copies solver caches and result tables, ~50 ms on the built-in grid).

Every table (DataFrame) is copied, so element statuses, set-points and loads can be changed on the copy;
result tables start empty; solver caches (``_ppc``, ``_options``, lookups) are not carried over, so a power
flow on the copy starts fresh. Other members (standard types, the availability table, metadata) are shared and
must be treated as read-only, which gridsim does.
"""

from __future__ import annotations

import copy

import pandas as pd

#: members pandapower fills while solving; a copy must not inherit them from the original
_CACHES = ("_ppc", "_ppc0", "_ppc1", "_ppc2", "_pd2ppc_lookups", "_is_elements", "_is_elements_final",
           "_isolated_buses", "_options", "_gen_order", "_numba_opt", "converged", "OPF_converged")


def working_copy(net):
    """A copy of ``net`` whose tables can be changed without touching ``net`` (see the module docstring)."""
    out = copy.copy(net)
    for key, value in net.items():
        if isinstance(value, pd.DataFrame):
            out[key] = value.iloc[0:0].copy() if key.startswith("res_") else value.copy()
    for key in _CACHES:
        if key in out:
            del out[key]
    return out

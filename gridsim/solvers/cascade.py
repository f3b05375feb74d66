"""Cascading trips: what happens when operators cannot act in time (scenario ``response: cascade``).

Step 0 is the damaged grid with the usual balance (isolation and deficit shedding). Then, step by step:
every branch loaded above ``trip_threshold_pct`` of its (emergency) rating trips at once; the islands
re-form; each island is balanced by the same rule as step 0 (an island short of generation sheds its
exact shortfall, with the loss allowance its buses had before where it is unchanged); the flows are solved
again. The loop ends when nothing else trips. One rule at every step, so demand lost beyond step 0 (cause
``cascade``) is only what the trips caused: a trip that changes neither islands nor supply moves nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.balance import balance
from gridsim.solvers.response import Outcome, _ratings
from gridsim.topology import find_islands

MAX_STEPS = 50
STEP_COLUMNS = ["step", "tripped", "n_tripped", "max_loading_percent", "islands", "energised_islands",
                "unserved_mw", "unserved_cascade_mw"]


def respond_cascade(net, islands, bal, scenario, solve) -> Outcome:
    ratings = _ratings(net, scenario)
    threshold = float(getattr(scenario, "trip_threshold_pct", 120.0))
    flow, bal = solve(net, islands, bal, scenario.shedding)
    initial = bal.demand_mw - bal.served_mw
    iso0, def0 = bal.isolated_mw.copy(), bal.deficit_mw.copy()
    default_allowance = max(bal.loss_allowance.values(), default=0.0)
    allowance_by_buses = {frozenset(i.buses.tolist()): bal.loss_allowance.get(i.id, default_allowance)
                          for i in islands.energised}
    tripped: set[tuple[str, int]] = set()
    steps = [_step_row(0, [], net, ratings, flow, islands, bal, initial)]
    for k in range(1, MAX_STEPS + 1):
        over = ratings.overloaded(flow, threshold)
        if not over:
            break
        names = []
        for table, idx, _ in over:
            net[table].at[idx, "in_service"] = False
            tripped.add((table, idx))
            names.append(str(net[table].at[idx, "name"]))
        islands = find_islands(net)
        per_island = {i.id: allowance_by_buses.get(frozenset(i.buses.tolist()), default_allowance)
                      for i in islands.energised}
        bal = balance(net, islands, scenario.shedding, default_allowance, per_island_allowance=per_island)
        islands = islands.with_slack(bal.slack)
        flow, bal = solve(net, islands, bal, scenario.shedding)
        steps.append(_step_row(k, names, net, ratings, flow, islands, bal, initial, over))
    final = bal.demand_mw - bal.served_mw
    # what step 0 already lost keeps its cause; everything lost since is the cascade's
    kept = np.minimum(initial, final)
    scale = np.divide(kept, initial, out=np.zeros(len(initial)), where=initial.to_numpy() > 1e-12)
    cascade = (final - kept).clip(lower=0.0)
    bal = type(bal)(bal.demand_mw, bal.served_mw, iso0 * scale, def0 * scale, bal.gen_p_mw, bal.loss_allowance)
    table = pd.DataFrame(steps, columns=STEP_COLUMNS)
    return Outcome(net, islands, bal, flow, ratings, {"cascade": cascade}, tripped=tripped,
                   cascade_steps=table)


def _step_row(k, names, net, ratings, flow, islands, bal, initial, over=()) -> dict:
    unserved = bal.demand_mw - bal.served_mw
    return {
        "step": k, "tripped": "; ".join(names), "n_tripped": len(names),
        "max_loading_percent": max((v for _, _, v in over), default=np.nan),
        "islands": len(islands), "energised_islands": len(islands.energised),
        "unserved_mw": float(unserved.sum()),
        "unserved_cascade_mw": float((unserved - np.minimum(initial, unserved)).clip(lower=0.0).sum()),
    }

"""Cascading trips: what happens when operators cannot act in time (scenario ``response: cascade``).

Step 0 is the damaged grid with the usual balance (isolation and deficit shedding). Then, step by step:
every branch loaded above ``trip_threshold_pct`` of its (emergency) rating trips at once; the islands
re-form; an island short of generation sheds load in under-frequency stages (whole stages of
``UFLS_STAGE`` of its demand, as relays do, not the exact shortfall); the flows are solved again. The loop
ends when nothing else trips. Demand lost beyond step 0 is attributed to the cause ``cascade``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.balance import balance
from gridsim.solvers.response import Outcome, _ratings
from gridsim.topology import find_islands

#: under-frequency load shedding stage, as a fraction of an island's demand
UFLS_STAGE = 0.10
MAX_STEPS = 50
STEP_COLUMNS = ["step", "tripped", "n_tripped", "max_loading_percent", "islands", "energised_islands",
                "unserved_mw", "unserved_cascade_mw"]


def respond_cascade(net, islands, bal, scenario, solve) -> Outcome:
    ratings = _ratings(net, scenario)
    threshold = float(getattr(scenario, "trip_threshold_pct", 120.0))
    flow, bal = solve(net, islands, bal, scenario.shedding)
    initial = bal.demand_mw - bal.served_mw
    iso0, def0 = bal.isolated_mw.copy(), bal.deficit_mw.copy()
    allowance = max(bal.loss_allowance.values(), default=0.0)
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
        bal = balance(net, islands, scenario.shedding, allowance, ufls_stage=UFLS_STAGE)
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

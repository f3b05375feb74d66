"""balance: per-island supply and demand, before any power flow.

- An island without available generation loses all its load (cause ``isolated``).
- An island whose available capacity (less an allowance for losses) is below its demand sheds the difference
  (cause ``deficit``): proportionally, or by priority class (3 = interruptible first, 1 = critical last).
- Every energised island's units are dispatched in merit order (``gridsim.dispatch.merit_dispatch``: cheapest
  first, equal-cost units alike); the island's slack is the unit with the most headroom left, so it can take
  up the losses (AC) and what the island's reserve is, is stated per island.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.dispatch import merit_dispatch, unit_cost
from gridsim.topology import Island, Islands

SHEDDING_METHODS = ("proportional", "priority")


@dataclass
class Balance:
    """Served demand and dispatch per element, with unserved demand split by cause (MW)."""

    demand_mw: pd.Series            # per load (all loads; 0 for loads out of service in the base case)
    served_mw: pd.Series
    isolated_mw: pd.Series
    deficit_mw: pd.Series
    gen_p_mw: pd.Series             # per gen
    loss_allowance: dict[int, float] = field(default_factory=dict)   # island id -> fraction used
    slack: dict[int, int] = field(default_factory=dict)              # island id -> gen index of its slack


def shed_to(demand: np.ndarray, priority: np.ndarray, target: float, method: str) -> np.ndarray:
    """Served MW per load such that the total is ``target`` (<= demand.sum())."""
    total = float(demand.sum())
    if target >= total - 1e-12:
        return demand.astype(float).copy()
    if target <= 0 or total <= 0:
        return np.zeros_like(demand, dtype=float)
    if method == "proportional":
        return demand * (target / total)
    if method != "priority":
        raise ValueError(f"unknown shedding method {method!r}")
    served = demand.astype(float).copy()
    to_shed = total - target
    for cls in sorted(np.unique(priority), reverse=True):      # 3 first, 1 last
        m = priority == cls
        cls_demand = float(demand[m].sum())
        if cls_demand <= 0:
            continue
        cut = min(to_shed, cls_demand)
        served[m] = demand[m] * (1.0 - cut / cls_demand)
        to_shed -= cut
        if to_shed <= 1e-12:
            break
    return served


def balance_island(net, island: Island, demand: pd.Series, method: str,
                   loss_allowance: float) -> tuple[np.ndarray, np.ndarray]:
    """(served per island load, dispatch per island gen) for one energised island."""
    d = demand.loc[island.loads].to_numpy(dtype=float)
    prio = _priority(net).loc[island.loads].to_numpy()
    cap = net.gen.loc[island.gens, "max_p_mw"].to_numpy(dtype=float)
    total_cap = float(cap.sum())
    target = min(float(d.sum()), total_cap / (1.0 + loss_allowance))
    served = shed_to(d, prio, target, method)
    cost = unit_cost(net).loc[island.gens].to_numpy(dtype=float)
    return served, merit_dispatch(cap, cost, min(total_cap, float(served.sum()) * (1.0 + loss_allowance)))


def pick_slack(net, island: Island, gen_p: pd.Series) -> int | None:
    """The island's slack: the unit with the most headroom (capacity less dispatch); ties -> largest unit,
    then lowest index. None for a dead island."""
    if not island.energised or not len(island.gens):
        return island.slack
    cap = net.gen.loc[island.gens, "max_p_mw"].to_numpy(dtype=float)
    head = cap - gen_p.loc[island.gens].to_numpy(dtype=float)
    order = np.lexsort((island.gens, -cap, -np.round(head, 6)))
    return int(island.gens[order[0]])


def balance(net, islands: Islands, method: str = "proportional", loss_allowance: float = 0.0,
            per_island_allowance: dict[int, float] | None = None) -> Balance:
    """Shed and dispatch every island (see module docstring)."""
    if method not in SHEDDING_METHODS:
        raise ValueError(f"unknown shedding method {method!r}; expected one of {SHEDDING_METHODS}")
    demand = demand_mw(net)
    served = pd.Series(0.0, index=net.load.index)
    gen_p = pd.Series(0.0, index=net.gen.index)
    allowance: dict[int, float] = {}
    for island in islands:
        if not island.energised or not len(island.loads):
            if island.energised:
                allowance[island.id] = 0.0
            continue
        a = (per_island_allowance or {}).get(island.id, loss_allowance)
        allowance[island.id] = a
        s, p = balance_island(net, island, demand, method, a)
        served.loc[island.loads] = s
        gen_p.loc[island.gens] = p
    slack = {i.id: pick_slack(net, i, gen_p) for i in islands.energised}
    energised_loads = np.concatenate([i.loads for i in islands.energised] or [np.zeros(0, int)])
    isolated = demand.copy()
    isolated.loc[energised_loads] = 0.0
    deficit = demand - served - isolated
    return Balance(demand, served, isolated, deficit.clip(lower=0.0), gen_p, allowance, slack)


def demand_mw(net) -> pd.Series:
    """Demand per load in MW (loads out of service in the undamaged network have none)."""
    load = net.load
    return load["p_mw"].astype(float).where(load["in_service"].astype(bool), 0.0).clip(lower=0.0)


def _priority(net) -> pd.Series:
    if "priority" in net.load.columns:
        return net.load["priority"].fillna(2).astype(int)
    return pd.Series(2, index=net.load.index)

"""A valid upper bound on the worst attack's shed that costs nothing: the local-supply bound.

Whatever the attack, the operator may answer it with **zero flow on every branch**: each bus serves its own load
from its own units (``min(demand, capacity)`` there) and sheds the rest. With no phase shifters this response
satisfies every constraint of the shedding LP (balance at every bus, DC flow with all angles 0, ratings,
``0 <= p <= capacity``, ``0 <= shed <= demand``) for every set of lost branches, so the optimal response sheds
at most as much. With ``served_n = min(D_n, G_n)`` before the attack, an attack A shrinks bus n's demand by
``dD`` and its capacity by ``dG`` (units hit, the bus dead, loads lost), and ``min`` is 1-Lipschitz and
monotone in both, so bus n loses at most ``min(served_n, dD + dG)`` of local supply, and at most the sum over the
attack's assets of ``u_a = sum_n min(served_n, dD_a,n + dG_a,n)``. Hence, for every attack of at most k assets::

    shed(A) <= total demand - sum_n served_n + (sum of the k largest u_a)

It is a bound on the MW the optimal response sheds only with equal shedding weights (``shedding:
proportional``): with priorities the response minimises the weighted shed and may shed more MW. Line attacks
have ``u_a = 0``, so the bound is the demand that local units cannot carry: on RTS-24 1,607 of 2,850 MW; on
PGLib case2000 no bus serves its own load, and the bound is the trivial one (all demand).
"""

from __future__ import annotations

import numpy as np

from gridsim.batch.state import MIN_CAPACITY_MW

#: phase-shift flows below this (MW) count as none
SHIFT_TOL_MW = 1e-9


def local_supply_bound(pm, assets, allowed, k: int, shedding: str = "proportional") -> float:
    """The local-supply bound (MW) on the shed of any attack of at most ``k`` of the assets ``allowed``
    (positions into ``assets``) on the prepared model ``pm``; the total demand where it does not apply."""
    total = float(pm.demand.sum())
    if shedding == "priority" or (len(pm.f_shift) and float(np.abs(pm.f_shift).max()) > SHIFT_TOL_MW):
        return total
    if any(assets[a].masks.gen_cap is not None for a in allowed):      # derates: not modelled here
        return total
    live = pm.bus_active[pm.load_bus] & pm.load_on & (pm.demand > 0)
    dem = np.bincount(pm.load_bus[live], weights=pm.demand[live], minlength=pm.n_bus)
    units = pm.gen_on & (pm.gen_cap > MIN_CAPACITY_MW) & pm.bus_active[pm.gen_bus]
    cap = np.bincount(pm.gen_bus[units], weights=np.maximum(pm.gen_cap[units], 0.0), minlength=pm.n_bus)
    served = np.minimum(dem, cap)
    losses = np.sort([_asset_loss(pm, assets[a].masks, served, dem, cap, live, units) for a in allowed])[::-1]
    return min(total, total - float(served.sum()) + float(losses[:k].sum()))


def _asset_loss(pm, masks, served, dem, cap, live, units) -> float:
    """u_a: the local supply one asset can take away, summed over the buses it touches."""
    delta = np.zeros(pm.n_bus)
    dead = np.asarray(masks.bus_dead, dtype=np.int64)
    delta[dead] += dem[dead] + cap[dead]
    gens = np.asarray(masks.gen_out, dtype=np.int64)
    gens = gens[units[gens]]
    np.add.at(delta, pm.gen_bus[gens], np.maximum(pm.gen_cap[gens], 0.0))
    loads = np.asarray(masks.load_out, dtype=np.int64)
    loads = loads[live[loads]]
    np.add.at(delta, pm.load_bus[loads], pm.demand[loads])
    return float(np.minimum(served, delta).sum())

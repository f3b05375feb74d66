"""The shedding LP exactly as ``simulate()`` solves it: ``gridsim.solvers.optimal.optimal_shed`` per island.

The minimum shed of an island is unique, but with equal weights (``shedding: proportional``) *which* loads lose
it is not: it is the vertex HiGHS lands on, so critical unserved MW depends on the exact problem handed to the
solver. This engine hands over the same problem ``simulate()`` does: the DC model of the case's damaged network
(the prepared model's arrays masked, without building a network copy), the same island, demand, capacities,
weights and merit-order costs. It is slower than the warm-started ``gridsim.batch.lp.ShedLP`` (a fresh
``scipy.optimize.milp`` per island) and gives the same split as ``simulate()`` to the last digit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridsim.batch.lp import LPResult
from gridsim.dispatch import unit_cost
from gridsim.solvers.optimal import optimal_shed
from gridsim.solvers.response import PRIORITY_WEIGHTS


class ReferenceLP:
    """``optimal_shed`` per re-dispatched island on the case's masked DC model (same interface as ShedLP)."""

    def __init__(self, pm, shedding: str):
        self.pm = pm
        self.weights = PRIORITY_WEIGHTS if shedding == "priority" else None
        # keyed as optimal_shed keys units, ("gen", index), once: building the keys per call costs more than
        # the LP on small networks
        self._gen_keys = pd.MultiIndex.from_arrays([np.full(len(pm.gen_index), "gen", dtype=object),
                                                    pm.gen_index])
        self.cost = pd.Series(unit_cost(pm.damaged).reindex(pm.gen_index).to_numpy(), index=self._gen_keys)
        dc = pm.dc
        self._dc_gen_pos = pm.gen_position(dc.gen_index)
        self._pp_bus = np.full(pm.n_bus, -1, dtype=np.int64)          # model bus -> pandapower bus
        idx = pm.damaged.bus.index.to_numpy()
        self._pp_bus[pm.bus_lookup[idx]] = idx
        self.n_solves = 0

    def solve(self, st, lp_islands: np.ndarray, gen_on: np.ndarray, limit: np.ndarray) -> LPResult:
        pm = self.pm
        model = self._case_model(st, gen_on, limit)
        shed = np.zeros(len(pm.demand))
        dispatch = st.dispatch.copy()
        for isl in np.flatnonzero(lp_islands):
            buses = self._pp_bus[(st.labels == isl) & (self._pp_bus >= 0)]
            loads = np.flatnonzero(st.load_island == isl)
            gens = np.flatnonzero(st.gen_island == isl)
            res = optimal_shed(pm.damaged, buses,
                               demand_mw=pd.Series(pm.demand[loads], index=pm.load_index[loads]),
                               capacity_mw=pd.Series(st.gen_cap[gens], index=self._gen_keys[gens]),
                               weights=self.weights, rating=model.rating, emergency_factor=model.emergency_factor,
                               model=model, cost=self.cost)
            self.n_solves += 1
            if not res.ok:
                return LPResult(False, res.status, shed, dispatch)
            shed[loads] = res.shed_mw.reindex(pm.load_index[loads]).fillna(0.0).to_numpy()
            dispatch[gens] = res.dispatch_mw.reindex(self._gen_keys[gens]).fillna(0.0).to_numpy()
        return LPResult(True, "optimal", shed, dispatch)

    def _case_model(self, st, gen_on: np.ndarray, limit: np.ndarray):
        """What ``build_dc_model`` gives for the case's damaged network: the prepared model's in-service branches,
        buses, loads and units less the case's outages, units at the case's capacity."""
        dc, pm = self.pm.dc, self.pm
        keep = st.branch_on
        f, t = dc.from_bus[keep], dc.to_bus[keep]
        m = len(f)
        inc = sp.csr_matrix((np.tile([1.0, -1.0], m), (np.repeat(np.arange(m), 2), np.column_stack([f, t]).ravel())),
                            shape=(m, dc.n_bus))
        bus_active = dc.bus_active & (st.labels >= 0)
        lk = bus_active[dc.load_bus]
        gpos = self._dc_gen_pos
        gk = bus_active[dc.gen_bus] & gen_on[gpos]
        cap = np.where(np.isnan(st.gen_cap[gpos]), dc.gen_max_p_mw, st.gen_cap[gpos])
        return dataclasses.replace(
            dc, bus_active=bus_active, branch_kind=dc.branch_kind[keep], branch_index=dc.branch_index[keep],
            from_bus=f, to_bus=t, incidence=inc, b_pu=dc.b_pu[keep], shift_flow_mw=dc.shift_flow_mw[keep],
            rating_mw=limit[keep], load_index=dc.load_index[lk], load_bus=dc.load_bus[lk],
            load_p_mw=dc.load_p_mw[lk], gen_kind=dc.gen_kind[gk], gen_index=dc.gen_index[gk],
            gen_bus=dc.gen_bus[gk], gen_max_p_mw=cap[gk],
            _labels={"branches": dc.branches[keep], "gens": dc.gens[gk]})   # taken, not rebuilt per case


class ExactLP:
    """The warm-started LP (only the branch limits that bind, ``gridsim.batch.lp_lazy``) first; islands where it
    sheds load are solved again by ``ReferenceLP``, so that the loads that lose supply (not only how much) are
    those ``simulate()`` picks. Most LP cases only re-dispatch (no shed) and never reach the slower reference.

    The reference is skipped too where the choice of loads cannot change the record: every shedding load of the
    re-dispatched islands has the same weight and none is critical (priority 1). The record then has critical
    MW 0 there either way, and with equal weights the total shed is the unique minimum (a unit's cost, at most
    ``COST_EPSILON`` of a MW of shed, never buys more shed), so the totals by cause are the same too."""

    def __init__(self, pm, shedding: str, flow=None):
        from gridsim.batch.lp_lazy import LazyShedLP

        self.warm = LazyShedLP(pm, shedding, flow)
        self.reference = ReferenceLP(pm, shedding)
        self.pm = pm

    @property
    def n_solves(self) -> int:
        return self.warm.n_solves + self.reference.n_solves

    def solve(self, st, lp_islands: np.ndarray, gen_on: np.ndarray, limit: np.ndarray,
              flows: np.ndarray | None = None) -> LPResult:
        res = self.warm.solve(st, lp_islands, gen_on, limit, flows)
        free = (st.load_island >= 0) & lp_islands[np.maximum(st.load_island, 0)]
        if res.ok and (not (res.shed[free] > 1e-9).any() or self._choice_irrelevant(free)):
            return res
        return self.reference.solve(st, lp_islands, gen_on, limit)

    def _choice_irrelevant(self, free: np.ndarray) -> bool:
        w = self.warm.weights[free]
        return not self.pm.critical[free].any() and (not len(w) or bool(w.min() == w.max()))

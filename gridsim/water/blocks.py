"""One step of the water LP: the DC load-shed problem of a damaged network in PTDF form, limits added lazily.

The optimal response solves, per island, ``min sum(w * shed)`` subject to the nodal balance in bus angles and
every branch within its rating (``gridsim.solvers.optimal``). Over a week of hourly steps that LP is large,
so the water plan states the same problem in its power-transfer form: per connected component one balance
row (generation + shed - pumping == demand) and, for a branch, ``flow = PTDF @ injection + offset``. Branch
limits enter only where a solution breaks one (``limit_row``), round after round until none does: the optimum
is then the angle LP's (same variables, same feasible set where it matters).

``NetState`` holds what depends on the damage only (the DC model, its components, PTDF, ratings), built once
per state; ``StepBlock`` adds a step's demand, capacities and costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridsim.solvers.optimal import _island, _weights

#: MW by which a flow may exceed its rating before a limit row is added
FLOW_TOL_MW = 1e-6


@dataclass
class NetState:
    """The damage-dependent part: buses, branches, components, PTDF and ratings of the island set."""

    model: object
    isl: dict
    bus_comp: np.ndarray        # per local bus: its component
    n_comp: int
    ptdf: np.ndarray            # (branches, local buses)
    offset: np.ndarray          # per branch: flow at zero injection (phase shifters)
    rating: np.ndarray          # per branch (MW, inf where unlimited)

    @classmethod
    def of(cls, model) -> NetState:
        isl = _island(model, None)
        buses, br = isl["buses"], isl["branches"]
        n, m = len(buses), len(br)
        local = np.full(model.n_bus, -1, dtype=np.int64)
        local[buses] = np.arange(n)
        f, t = local[model.from_bus[br]], local[model.to_bus[br]]
        bw = model.base_mva * model.b_pu[br]
        a = sp.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                           (np.concatenate([np.arange(m)] * 2), np.concatenate([f, t]))), shape=(m, n))
        n_comp, comp = connected_components(sp.csr_matrix((np.ones(m), (f, t)), shape=(n, n)), directed=False)
        ptdf = np.zeros((m, n))
        bf = sp.diags(bw) @ a
        bbus = (a.T @ bf).tocsc()
        for c in range(n_comp):
            nodes = np.flatnonzero(comp == c)
            rows = np.flatnonzero(comp[f] == c)
            if len(nodes) < 2 or not len(rows):
                continue
            keep = nodes[1:]                       # the component's first bus is its reference
            inv = np.linalg.inv(bbus[keep][:, keep].toarray())
            ptdf[np.ix_(rows, keep)] = bf[rows][:, keep].toarray() @ inv
        f0 = model.shift_flow_mw[br]
        offset = f0 - ptdf @ (a.T @ f0)
        return cls(model, isl, comp, int(n_comp), ptdf, offset, model.rating_mw[br])

    def local_bus(self, model_buses: np.ndarray) -> np.ndarray:
        local = np.full(self.model.n_bus, -1, dtype=np.int64)
        local[self.isl["buses"]] = np.arange(len(self.isl["buses"]))
        return local[model_buses]


@dataclass
class StepBlock:
    """One step: variables ``[pg, shed]``, one balance row per component, limit rows added on demand."""

    state: NetState | None
    c: np.ndarray
    xlo: np.ndarray
    xhi: np.ndarray
    a: sp.csr_matrix            # balance rows
    lb: np.ndarray
    ub: np.ndarray
    var_bus: np.ndarray         # per variable: local bus (generation and shed both inject)
    demand_mw: np.ndarray       # per modelled load
    shed: slice
    unit_cols: list[np.ndarray]     # per river plant: columns of its units
    pump_bus: list[int]             # per river plant: local bus of its units (-1: none in service)
    pump_row: list[int]             # per river plant: its component's balance row (-1: none)
    unmodelled_mw: float = 0.0

    def flows(self, x: np.ndarray, pump_mw: np.ndarray) -> np.ndarray:
        """Branch flows (MW) of a solution ``x`` of this block with ``pump_mw`` per river plant."""
        st = self.state
        inj = np.zeros(st.ptdf.shape[1])
        np.add.at(inj, self.var_bus, x)                          # generation, and shed (less load)
        np.add.at(inj, self.var_bus[self.shed], -self.demand_mw)
        for b, p in zip(self.pump_bus, pump_mw):
            if b >= 0:
                inj[b] -= p
        return st.ptdf @ inj + st.offset

    def limit_row(self, branch: int):
        """Coefficients over ``[pg, shed]`` and over the pumps, and the bounds, of one branch's limit."""
        st = self.state
        coef = st.ptdf[branch, self.var_bus]
        fixed = st.offset[branch] - float(st.ptdf[branch, self.var_bus[self.shed]] @ self.demand_mw)
        pump = np.array([-st.ptdf[branch, b] if b >= 0 else 0.0 for b in self.pump_bus])
        r = st.rating[branch]
        return coef, pump, -r - fixed, r - fixed


def step_block(net, state: NetState, river: pd.DataFrame, weights, gcost: pd.Series,
               demand_mw: pd.Series, cap_mw: pd.Series) -> tuple[StepBlock, dict]:
    """The block of one damaged network with the step's demand and unit capacities (per load and gen index),
    and per river unit (gen index) its column and capacity (MW)."""
    model, isl = state.model, state.isl
    gens, loads = isl["gens"], isl["loads"]
    gen_index = model.gen_index[gens]
    cap = np.maximum(np.nan_to_num(cap_mw.reindex(gen_index).to_numpy(float)), 0.0)
    demand = np.maximum(demand_mw.reindex(model.load_index[loads]).to_numpy(float), 0.0)
    w = _weights(net, model.load_index[loads], weights)
    c_g = np.nan_to_num(gcost.reindex(gen_index).to_numpy(float))
    g_bus, l_bus = state.local_bus(model.gen_bus[gens]), state.local_bus(model.load_bus[loads])
    var_bus = np.concatenate([g_bus, l_bus]).astype(np.int64)
    n = len(var_bus)
    comp = state.bus_comp[var_bus] if n else np.zeros(0, dtype=np.int64)
    a = sp.csr_matrix((np.ones(n), (comp, np.arange(n))), shape=(state.n_comp, n))
    rhs = np.bincount(state.bus_comp[l_bus], weights=demand, minlength=state.n_comp) if len(l_bus) else \
        np.zeros(state.n_comp)
    plant_of = net.gen["plant"].astype(str).reindex(gen_index).to_numpy() if "plant" in net.gen else np.array([])
    unit_cols, pump_bus, pump_row, caps = [], [], [], {}
    for plant in river["plant"]:
        pos = np.flatnonzero(plant_of == plant)
        unit_cols.append(pos)
        pump_bus.append(int(g_bus[pos[0]]) if len(pos) else -1)
        pump_row.append(int(state.bus_comp[g_bus[pos[0]]]) if len(pos) else -1)
        caps.update({int(gen_index[p]): (int(p), float(cap[p])) for p in pos})
    total = float(demand_mw[net.load["in_service"].astype(bool).reindex(demand_mw.index).fillna(False)].sum())
    block = StepBlock(state, np.concatenate([c_g, w]), np.zeros(n), np.concatenate([cap, demand]), a, rhs, rhs,
                      var_bus, demand, slice(len(cap), n), unit_cols, pump_bus, pump_row,
                      max(0.0, total - float(demand.sum())))
    return block, caps

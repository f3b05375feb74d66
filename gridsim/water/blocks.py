"""One step of the water LP: the DC load-shed problem of a damaged network in PTDF form, limits added lazily.

The optimal response solves, per island, ``min sum(w * shed)`` subject to the nodal balance in bus angles and
every branch within its rating (``gridsim.solvers.optimal``). Over a week of hourly steps that LP is large,
so the water plan states the same problem in its power-transfer form: per connected component one balance
row (generation + shed - pumping == demand) and, for a branch, ``flow = PTDF @ injection + offset`` (its
PTDF row by one sparse solve, when the branch first needs a limit). Branch
limits enter only where a solution breaks one (``limit_row``), round after round until none does: the optimum
is then the angle LP's (same variables, same feasible set where it matters).

``NetState`` holds what depends on the damage only (the DC model, its components, PTDF, ratings), built once
per state; ``StepBlock`` adds a step's demand, capacities and costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from gridsim.solvers.optimal import _island, _weights

#: MW by which a flow may exceed its rating before a limit row is added
FLOW_TOL_MW = 1e-6


@dataclass
class NetState:
    """The damage-dependent part: buses, branches, components and ratings of the island set, with one sparse
    LU of the reduced susceptance matrix per component (flows and PTDF rows by sparse solves: no dense
    matrices, which on a busy machine cost more in BLAS threads than in arithmetic)."""

    model: object
    isl: dict
    bus_comp: np.ndarray        # per local bus: its component
    n_comp: int
    bf: sp.csr_matrix           # branch flow per angle (MW/rad)
    shift_inj: np.ndarray       # per local bus: A.T @ f0 (phase shifters)
    f0: np.ndarray              # per branch: phase-shifter flow at zero angles
    rating: np.ndarray          # per branch (MW, inf where unlimited)
    solvers: list               # per component: (non-reference buses, splu) or None
    branch_comp: np.ndarray
    _rows: dict = field(default_factory=dict)

    @classmethod
    def of(cls, model) -> NetState:
        isl = _island(model, None)
        buses, br = isl["buses"], isl["branches"]
        n, m = len(buses), len(br)
        local = np.full(model.n_bus, -1, dtype=np.int64)
        local[buses] = np.arange(n)
        f, t = local[model.from_bus[br]], local[model.to_bus[br]]
        a = sp.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                           (np.concatenate([np.arange(m)] * 2), np.concatenate([f, t]))), shape=(m, n))
        n_comp, comp = connected_components(sp.csr_matrix((np.ones(m), (f, t)), shape=(n, n)), directed=False)
        bf = (sp.diags(model.base_mva * model.b_pu[br]) @ a).tocsr()
        bbus = (a.T @ bf).tocsc()
        solvers = []
        for c in range(n_comp):
            keep = np.flatnonzero(comp == c)[1:]          # the component's first bus is its reference
            solvers.append((keep, splu(bbus[keep][:, keep].tocsc())) if len(keep) else None)
        f0 = model.shift_flow_mw[br]
        return cls(model, isl, comp, int(n_comp), bf, a.T @ f0, f0, model.rating_mw[br], solvers,
                   comp[f] if m else np.zeros(0, dtype=np.int64))

    def flows(self, injection: np.ndarray) -> np.ndarray:
        """Branch flows (MW) for a balanced injection per local bus."""
        theta = np.zeros(len(injection))
        rhs = injection - self.shift_inj
        for solver in self.solvers:
            if solver is not None:
                theta[solver[0]] = solver[1].solve(rhs[solver[0]])
        return self.bf @ theta + self.f0

    def ptdf_row(self, branch: int) -> tuple[np.ndarray, float]:
        """PTDF of one branch (per local bus) and its flow at zero injection."""
        if branch not in self._rows:
            row = np.zeros(len(self.bus_comp))
            solver = self.solvers[self.branch_comp[branch]]
            if solver is not None:        # B is symmetric: row = B^-1 bf[branch]^T on the component
                keep, lu = solver
                row[keep] = lu.solve(self.bf[branch].toarray().ravel()[keep])
            self._rows[branch] = (row, float(self.f0[branch] - row @ self.shift_inj))
        return self._rows[branch]

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
        inj = np.zeros(len(st.bus_comp))
        np.add.at(inj, self.var_bus, x)                          # generation, and shed (less load)
        np.add.at(inj, self.var_bus[self.shed], -self.demand_mw)
        for b, p in zip(self.pump_bus, pump_mw):
            if b >= 0:
                inj[b] -= p
        return st.flows(inj)

    def limit_row(self, branch: int):
        """Coefficients over ``[pg, shed]`` and over the pumps, and the bounds, of one branch's limit."""
        st = self.state
        ptdf, offset = st.ptdf_row(branch)
        coef = ptdf[self.var_bus]
        fixed = offset - float(ptdf[self.var_bus[self.shed]] @ self.demand_mw)
        pump = np.array([-ptdf[b] if b >= 0 else 0.0 for b in self.pump_bus])
        r = st.rating[branch]
        return coef, pump, -r - fixed, r - fixed


def step_block(net, state: NetState, river: pd.DataFrame, weights, gcost: pd.Series,
               demand_mw, cap_mw) -> tuple[StepBlock, dict]:
    """The block of one damaged network with the step's demand and unit capacities (MW per row of ``net.load``
    and ``net.gen``: Series or arrays in that order), and per river unit (gen index) its column and capacity."""
    lay = _layout(net, state, river, weights, gcost)
    cap_mw, demand_mw = np.asarray(cap_mw, dtype=float), np.asarray(demand_mw, dtype=float)
    cap = np.maximum(np.nan_to_num(cap_mw[lay["gen_pos"]]), 0.0)
    demand = np.maximum(demand_mw[lay["load_pos"]], 0.0)
    rhs = np.bincount(lay["load_comp"], weights=demand, minlength=state.n_comp)
    n = len(lay["var_bus"])
    caps = {g: (p, float(cap[p])) for g, p in lay["river_units"]}
    total = float(demand_mw[lay["in_service"]].sum())
    block = StepBlock(state, lay["c"], np.zeros(n), np.concatenate([cap, demand]), lay["a"], rhs, rhs,
                      lay["var_bus"], demand, slice(len(cap), n), lay["unit_cols"], lay["pump_bus"],
                      lay["pump_row"], max(0.0, total - float(demand.sum())))
    return block, caps


def _layout(net, state: NetState, river: pd.DataFrame, weights, gcost: pd.Series) -> dict:
    """What every step of one damage state shares: positions, buses, weights, costs, river units (cached)."""
    if "layout" in state._rows:
        return state._rows["layout"]
    model, isl = state.model, state.isl
    gens, loads = isl["gens"], isl["loads"]
    gen_index = model.gen_index[gens]
    g_bus, l_bus = state.local_bus(model.gen_bus[gens]), state.local_bus(model.load_bus[loads])
    var_bus = np.concatenate([g_bus, l_bus]).astype(np.int64)
    n = len(var_bus)
    w = _weights(net, model.load_index[loads], weights)
    c_g = np.nan_to_num(gcost.reindex(gen_index).to_numpy(float))
    plant_of = net.gen["plant"].astype(str).reindex(gen_index).to_numpy() if "plant" in net.gen else np.array([])
    lay = {"gen_pos": net.gen.index.get_indexer(gen_index), "load_pos": net.load.index.get_indexer(
        model.load_index[loads]), "var_bus": var_bus, "c": np.concatenate([c_g, w]), "load_comp": state.bus_comp[l_bus],
        "a": sp.csr_matrix((np.ones(n), (state.bus_comp[var_bus] if n else np.zeros(0, int), np.arange(n))),
                           shape=(state.n_comp, n)),
        "in_service": net.load["in_service"].astype(bool).to_numpy(), "unit_cols": [], "pump_bus": [],
        "pump_row": [], "river_units": []}
    for plant in river["plant"]:
        pos = np.flatnonzero(plant_of == plant)
        lay["unit_cols"].append(pos)
        lay["pump_bus"].append(int(g_bus[pos[0]]) if len(pos) else -1)
        lay["pump_row"].append(int(state.bus_comp[g_bus[pos[0]]]) if len(pos) else -1)
        lay["river_units"] += [(int(gen_index[p]), int(p)) for p in pos]
    state._rows["layout"] = lay
    return lay

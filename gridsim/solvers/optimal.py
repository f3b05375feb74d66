"""Optimal load shedding: the DC minimum weighted load-shed LP, solved per island with HiGHS.

For one island (a set of buses), with ``theta`` the bus angles (rad), ``pg`` the generation and ``shed``
the load shed (MW)::

    minimise    sum_l weight_l * shed_l
    subject to  A.T @ (base * b * (A @ theta) + f0) == Cg @ pg - Cd @ (demand - shed)   (nodal balance)
                -rating <= base * b * (A @ theta) + f0 <= rating     (every in-service branch with a limit)
                0 <= pg <= capacity,  0 <= shed <= demand,  theta_ref == 0 (one per connected component)

``A`` is the branch-bus incidence, ``b = 1 / (x * tap)``, ``f0`` the phase-shifter flows (see
``gridsim.solvers.dcmodel``). It is the standard DC minimum-load-shed problem (e.g. Sundar, Coffrin,
Nagarajan & Bent 2018), and ``tests/test_optimal.py`` reproduces their published RTS-24 results.

Formulation: angles only, each branch limit one ranged row of ``scipy.optimize.milp`` (HiGHS, no integer
variables), matrices built vectorised in sparse form. On PGLib case2000 HiGHS takes ~0.10 s on it; the same
rows as ``linprog`` inequalities (two per limit) ~0.10 s; flow variables (``f`` bounded by the rating, an
equality ``f = base * b * A theta`` per branch, balance ``A.T f``) give the same optimum in ~0.24 s.

Tie-breaking: the optimum shed total is unique, the split between equally weighted loads is not. HiGHS is
deterministic, so the same inputs always give the same split (the vertex HiGHS lands on); no attempt is
made to spread shedding proportionally. Priority weights (``load.priority``) make critical loads go last.

Modelled: lines, 2- and 3-winding transformers, impedances, impedance bus-bus switches (their limits where
the net has them, see ``build_dc_model``); generation from in-service ``gen``, ``sgen`` and ``ext_grid``;
demand from in-service ``load``. Not modelled: shunts, wards, storage, DC lines, min outputs. Costs only
break ties among least-shed solutions (``cost``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandapower as pp
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from gridsim.solvers.dcmodel import DCModel, build_dc_model

#: scipy's LP/MILP status codes -> the status gridsim reports
#: weight of the merit-order cost against the cheapest MW of shed (per MW of generation)
COST_EPSILON = 1e-4
_STATUS = {0: "optimal", 1: "iteration_limit", 2: "infeasible", 3: "unbounded", 4: "numerical_error"}


@dataclass
class OptimalShedResult:
    """Outcome of one optimal-shedding LP. On a failed solve ``status`` says why and the values are NaN."""

    status: str  # "optimal", or "infeasible", "unbounded", "iteration_limit", "numerical_error"
    message: str  # HiGHS's own words
    objective: float  # sum of weight * shed
    shed_mw: pd.Series  # per load index
    demand_mw: pd.Series  # per load index, the demand the LP started from
    dispatch_mw: pd.Series  # per (element, index) of gen/sgen/ext_grid
    flow_mw: pd.Series  # per (element, index) of each branch, from side
    build_time_s: float  # model build (if not given) + matrix assembly
    solve_time_s: float  # HiGHS

    @property
    def ok(self) -> bool:
        return self.status == "optimal"

    @property
    def total_shed_mw(self) -> float:
        return float(self.shed_mw.sum(skipna=False))

    @property
    def served_mw(self) -> pd.Series:
        return self.demand_mw - self.shed_mw


def optimal_shed(net: pp.pandapowerNet, buses: Iterable[int] | None = None, *,
                 demand_mw: pd.Series | Mapping | None = None, capacity_mw: pd.Series | Mapping | None = None,
                 weights: pd.Series | Mapping | None = None, rating: str = "rate_a",
                 emergency_factor: float = 1.0, model: DCModel | None = None,
                 cost: pd.Series | Mapping | None = None) -> OptimalShedResult:
    """Minimum weighted load shed on the island ``buses`` (pandapower bus indices; ``None``: the whole net).

    - ``demand_mw``: per load index, replaces ``load.p_mw`` for the loads it names.
    - ``capacity_mw``: per generator, replaces the default capacity (``max_p_mw``; ``ext_grid`` without
      one is unlimited). Indexed by ``gen`` index, or by ``(element, index)`` for ``sgen``/``ext_grid`` too.
    - ``weights``: per load index (a Series; loads it does not name weigh 1), or a mapping
      ``{priority: weight}`` applied through ``load.priority`` (e.g. ``{1: 100, 2: 10, 3: 1}``).
    - ``rating``/``emergency_factor``: branch limits (``build_dc_model``).
    - ``cost``: merit-order cost per ``gen`` index (or ``(element, index)``); a secondary objective, scaled so
      that no saving in cost ever buys a MW of shed (``COST_EPSILON``): the shed is the same with or without
      it, the dispatch is the cheapest among the least-shed ones rather than an arbitrary vertex.
    - ``model``: a ``DCModel`` of ``net`` built once and reused for every island of the same damaged net
      (it must have been built with the same ``rating`` and ``emergency_factor``).

    Branches are those with both ends on the island (auxiliary buses such as 3-winding star points follow
    their neighbours). A failed solve is reported in ``status``, never raised.
    """
    t0 = time.perf_counter()
    if model is None:
        model = build_dc_model(net, rating=rating, emergency_factor=emergency_factor)
    elif (model.rating, model.emergency_factor) != (rating, float(emergency_factor)):
        raise ValueError(f"model was built with rating={model.rating!r}, emergency_factor="
                         f"{model.emergency_factor}; pass the same values to optimal_shed or rebuild the model")
    isl = _island(model, buses)
    demand = _demand(net, model, isl["loads"], demand_mw)
    cap = _capacity(model, isl["gens"], capacity_mw)
    w = _weights(net, model.load_index[isl["loads"]], weights)
    gcost = _gen_cost(model, isl["gens"], cost, float(w.min()) if len(w) else 1.0)
    problem = _assemble(model, isl, demand, cap, w, gcost)
    build = time.perf_counter() - t0

    n_th, n_g = len(isl["buses"]), len(cap)
    t1 = time.perf_counter()
    if problem is None:  # nothing to decide: no load and no generation
        status, message, x, objective = "optimal", "empty island", np.zeros(n_th + n_g + len(demand)), 0.0
    else:
        c, constraints, bounds = problem
        res = milp(c, constraints=constraints, bounds=bounds, options={"presolve": True})
        status = _STATUS.get(res.status, f"status_{res.status}")
        message = str(res.message)
        x = res.x if res.x is not None and status == "optimal" else np.full(len(c), np.nan)
        objective = float(res.fun) if status == "optimal" else np.nan
    solve = time.perf_counter() - t1

    theta, pg, shed = x[:n_th], x[n_th:n_th + n_g], x[n_th + n_g:]
    shed = np.clip(shed, 0.0, demand)  # HiGHS's feasibility tolerance can leave -1e-9
    full_theta = np.zeros(model.n_bus)
    full_theta[isl["buses"]] = theta
    br = isl["branches"]
    flows = (model.base_mva * model.b_pu[br] * (model.incidence[br] @ full_theta) + model.shift_flow_mw[br])
    load_idx = pd.Index(model.load_index[isl["loads"]], name="load")
    return OptimalShedResult(
        status=status, message=message, objective=objective,
        shed_mw=pd.Series(shed, index=load_idx, name="shed_mw"),
        demand_mw=pd.Series(demand, index=load_idx, name="demand_mw"),
        dispatch_mw=pd.Series(np.clip(pg, 0.0, cap), index=model.gens[isl["gens"]], name="p_mw"),
        flow_mw=pd.Series(flows, index=model.branches[br], name="p_from_mw"),
        build_time_s=build, solve_time_s=solve)


def _island(model: DCModel, buses) -> dict[str, np.ndarray]:
    """Model buses, branches, loads and generators of the island (positions into the model's arrays)."""
    if buses is None:
        inside = model.bus_active & ~model.bus_is_aux
    else:
        inside = np.zeros(model.n_bus, dtype=bool)
        inside[model.buses_of(buses)] = True
        inside &= model.bus_active
    allowed = inside | model.bus_is_aux
    f, t = model.from_bus, model.to_bus
    branches = np.flatnonzero(allowed[f] & allowed[t] & (inside[f] | inside[t]))
    on = inside.copy()
    on[f[branches]] = True
    on[t[branches]] = True
    return {"buses": np.flatnonzero(on), "branches": branches,
            "loads": np.flatnonzero(inside[model.load_bus]), "gens": np.flatnonzero(inside[model.gen_bus])}


def _gen_cost(model: DCModel, gens: np.ndarray, cost, min_weight: float) -> np.ndarray:
    """Objective coefficients of the units: cost scaled so that a MW of generation costs at most
    ``COST_EPSILON`` of the cheapest MW of shed (a redispatch would have to move 10,000 MW per MW of shed
    before the cost term could buy shed)."""
    if cost is None or not len(gens):
        return np.zeros(len(gens))
    given = pd.Series(cost, dtype=float)
    if not isinstance(given.index, pd.MultiIndex):
        given.index = pd.MultiIndex.from_arrays([np.full(len(given), "gen", dtype=object), given.index])
    c = np.nan_to_num(given.reindex(model.gens[gens]).to_numpy(), nan=0.0)
    c = c - min(0.0, float(c.min()))
    top = float(c.max())
    return c * (COST_EPSILON * min_weight / top) if top > 0 else c


def _assemble(model: DCModel, isl: dict, demand: np.ndarray, cap: np.ndarray, w: np.ndarray,
              gcost: np.ndarray | None = None):
    """Objective, constraints and bounds of the LP in variable order [theta, pg, shed]; None if trivial."""
    buses, br = isl["buses"], isl["branches"]
    n, m, g, l = len(buses), len(br), len(cap), len(demand)
    if g == 0 and l == 0:
        return None
    local = np.full(model.n_bus, -1, dtype=np.int64)
    local[buses] = np.arange(n)
    f, t = local[model.from_bus[br]], local[model.to_bus[br]]
    bw = model.base_mva * model.b_pu[br]
    f0 = model.shift_flow_mw[br]
    rows = np.arange(m)
    # flow rows: bw * (theta_f - theta_t)
    flow = sp.csr_matrix((np.concatenate([bw, -bw]), (np.concatenate([rows, rows]), np.concatenate([f, t]))),
                         shape=(m, n))
    # balance rows: A.T @ flow @ theta - Cg pg - Cd shed = -Cd demand - A.T f0
    inc = sp.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                         (np.concatenate([f, t]), np.concatenate([rows, rows]))), shape=(n, m))
    gen_bus = local[model.gen_bus[isl["gens"]]]
    load_bus = local[model.load_bus[isl["loads"]]]
    cg = sp.csr_matrix((np.full(g, -1.0), (gen_bus, np.arange(g))), shape=(n, g))
    cd = sp.csr_matrix((np.full(l, -1.0), (load_bus, np.arange(l))), shape=(n, l))
    balance = sp.hstack([inc @ flow, cg, cd])
    rhs = -np.bincount(load_bus, weights=demand, minlength=n) - inc @ f0
    limited = np.flatnonzero(np.isfinite(model.rating_mw[br]))
    lim = model.rating_mw[br][limited]
    limits = sp.hstack([flow[limited], sp.csr_matrix((len(limited), g + l))])
    a = sp.vstack([balance, limits], format="csr")
    lb = np.concatenate([rhs, -lim - f0[limited]])
    ub = np.concatenate([rhs, lim - f0[limited]])
    # one reference angle per connected component of the island
    _, comp = connected_components(sp.csr_matrix((np.ones(m), (f, t)), shape=(n, n)), directed=False)
    _, ref = np.unique(comp, return_index=True)
    th_lo = np.full(n, -np.inf)
    th_hi = np.full(n, np.inf)
    th_lo[ref] = th_hi[ref] = 0.0
    bounds = Bounds(np.concatenate([th_lo, np.zeros(g + l)]), np.concatenate([th_hi, cap, demand]))
    c = np.concatenate([np.zeros(n), np.zeros(g) if gcost is None else gcost, w])
    return c, LinearConstraint(a, lb, ub), bounds


def _demand(net, model: DCModel, loads: np.ndarray, demand_mw) -> np.ndarray:
    demand = model.load_p_mw[loads].copy()
    if demand_mw is not None:
        given = pd.Series(demand_mw, dtype=float).reindex(model.load_index[loads]).to_numpy()
        demand = np.where(np.isnan(given), demand, given)
    return np.maximum(demand, 0.0)


def _capacity(model: DCModel, gens: np.ndarray, capacity_mw) -> np.ndarray:
    cap = model.gen_max_p_mw[gens].copy()
    if capacity_mw is not None:
        given = pd.Series(capacity_mw, dtype=float)
        if not isinstance(given.index, pd.MultiIndex):
            given.index = pd.MultiIndex.from_arrays([np.full(len(given), "gen", dtype=object), given.index])
        values = given.reindex(model.gens[gens]).to_numpy()
        cap = np.where(np.isnan(values), cap, values)
    return np.maximum(cap, 0.0)


def _weights(net, load_index: np.ndarray, weights) -> np.ndarray:
    if weights is None:
        return np.ones(len(load_index))
    if isinstance(weights, pd.Series):
        w = weights.astype(float).reindex(load_index).fillna(1.0).to_numpy()
    else:
        if "priority" not in net.load:
            raise ValueError("weights by priority need a load.priority column (see docs/architecture.md); "
                             "pass a per-load Series instead")
        prio = net.load["priority"].reindex(load_index)
        w = prio.map(lambda p: weights.get(p, np.nan)).astype(float).to_numpy()
        if np.isnan(w).any():
            missing = sorted(set(prio[np.isnan(w)].tolist()), key=str)
            raise ValueError(f"no weight for load priorities {missing}; weights has {sorted(weights, key=str)}")
    if (w < 0).any():
        raise ValueError("shedding weights must be >= 0")
    return w

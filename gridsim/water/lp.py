"""The multi-period water LP: every step's DC load-shed LP, coupled through the reservoirs.

Per step ``t`` the block is the optimal response's DC load-shed LP (``gridsim.solvers.optimal``) in its
power-transfer form (``gridsim.water.blocks``: unit outputs, load shed, one balance per connected component,
the branch limits a solution breaks added round by round). The river adds, per plant ``i`` and step ``t``, the
turbine discharge ``q`` (m³/s), the spill ``s`` (m³/s), the storage at the step's end ``v`` (hm³) and, for
pumped storage, the pumping power ``P`` (MW)::

    sum(units of i) p_mw  ==  mw_per_m3s_i * q_it                                   (turbines)
    v_it = v_i,t-1 + c * (natural_it + arriving_it - q_it - s_it) + c * eff_i * P_it / mw_per_m3s_i
    arriving_it = sum(u upstream of i) (1 - f_u) * (q + s)_u,t-a_u + f_u * (q + s)_u,t-a_u-1
    storage_min <= v_it <= storage_max;  P_it at the unit's bus is a load in the balance and the flows

with ``c = step_h * 3600 / 1e6`` (hm³ per m³/s and step) and the travel time ``travel_h / step_h = a + f``
steps (a fraction splits the arrival between two steps). Releases from before hour 0 are the river's steady
flow (``steady_release``). A lost dam (``dam_ok`` False) holds no water (``v = 0``: what it held leaves as
spill in the step it breaks) and, without head, its turbines give nothing; once repaired it refills, its
minimum storage applying again as the natural inflow could refill it.

Objective: least priority-weighted shed (the blocks' own weights), then the peak unserved MW over the steps
(``PEAK_WEIGHT``), then merit-order cost (scaled as in the
optimal response, ``COST_EPSILON``), less the value of the water left at the end (``WATER_VALUE_PER_MWH``
per MWh it can still make down the cascade), so the plan neither wastes water nor hoards it for nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridsim.water.backend import lp_backend
from gridsim.water.blocks import FLOW_TOL_MW, StepBlock
from gridsim.water.river import M3S_HOUR_HM3, steady_release

#: value of water left in the reservoirs at the end of the horizon, per MWh it can still make down the
#: cascade (currency/MWh; between coal and gas in gridsim.dispatch's merit order: water kept is worth burning
#: gas later, not coal now)
WATER_VALUE_PER_MWH = 50.0
#: variables per plant and step: discharge, spill, storage, pump
_Q, _S, _V, _P = range(4)
#: weight of the peak unserved MW (over all steps) against one MWh of the least weighted shed: among the plans
#: with the least energy not served, the one whose worst hour is mildest (a linear objective is otherwise
#: indifferent to shedding 3 GW in one hour or 1 GW in three)
PEAK_WEIGHT = 1e-3
#: rounds of adding the branch limits a solution breaks (each a full re-solve)
MAX_LIMIT_ROUNDS = 20


@dataclass
class WaterLPResult:
    status: str
    message: str
    x: list[np.ndarray]               # per step, the block's variables
    water: np.ndarray                 # (steps, plants, 4): q, s, v, P
    inflow_m3s: np.ndarray            # (plants, steps): natural plus arriving
    shed_mw: np.ndarray               # per step, total shed of modelled loads
    unserved_mw: np.ndarray           # per step, shed plus unmodelled demand
    solve_time_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


@dataclass
class RiverInputs:
    river: pd.DataFrame               # river_table(): river order
    inflow_m3s: np.ndarray            # (plants, steps) natural inflow
    dam_ok: np.ndarray                # (plants, steps) the dam stands
    step_h: float
    pump_off: np.ndarray | None = None   # (plants, steps) pumping forbidden
    history: np.ndarray | None = None    # (steps before, plants): releases before the first step (else steady)
    floor: np.ndarray | None = None      # (plants, steps): lowest storage, if not the refill rule's

    def released_before(self, steady: np.ndarray, u: int, t: int) -> float:
        """What plant ``u`` released at step ``t < 0`` (m³/s): the history where given, else the steady river."""
        h = self.history
        return float(h[len(h) + t, u]) if h is not None and len(h) + t >= 0 else float(steady[u])


def solve_water_lp(blocks: list[StepBlock], inputs: RiverInputs, cost_scale: float) -> WaterLPResult:
    """Assemble and solve the multi-period LP (HiGHS), adding the branch limits solutions break round by
    round (``MAX_LIMIT_ROUNDS``). ``cost_scale`` converts currency/MWh into objective units (the scale the
    blocks' unit costs were given with)."""
    t0 = time.perf_counter()
    river, n_t, n_p = inputs.river, len(blocks), len(inputs.river)
    offsets = np.concatenate([[0], np.cumsum([len(b.c) for b in blocks])]).astype(int)
    w0 = int(offsets[-1])
    wcol = lambda t, i, j: w0 + (t * n_p + i) * 4 + j   # noqa: E731 - a column index, nothing more
    n_var = w0 + n_t * n_p * 4 + 1           # the last variable: the peak unserved MW over the steps
    rows, cols, vals, lo, hi = [], [], [], [], []
    r0 = 0
    pumps = river["pump_mw"].to_numpy(float) > 0
    coos: dict = {}                           # the steps of one damage state share their balance matrix
    for t, b in enumerate(blocks):            # per step and component: generation + shed - pumping == demand
        coo = coos.get(id(b.a))
        if coo is None:
            coo = coos[id(b.a)] = b.a.tocoo()
        rows.append(coo.row + r0), cols.append(coo.col + offsets[t]), vals.append(coo.data)
        pump = [i for i in range(n_p) if b.pump_row[i] >= 0 and pumps[i]]
        if pump:
            rows.append([r0 + b.pump_row[i] for i in pump]), cols.append([wcol(t, i, _P) for i in pump])
            vals.append([-1.0] * len(pump))
        lo.append(b.lb), hi.append(b.ub)
        r0 += b.a.shape[0]
    r0 = _turbine_rows(blocks, river, offsets, wcol, r0, rows, cols, vals, lo, hi)
    r0 = _water_rows(inputs, n_t, wcol, r0, rows, cols, vals, lo, hi)
    r0 = _peak_rows(blocks, offsets, n_var - 1, r0, rows, cols, vals, lo, hi)
    c, xlo, xhi = _objective_and_bounds(blocks, inputs, offsets, wcol, n_var, cost_scale)
    c[-1] = PEAK_WEIGHT * float(min((b.c[b.shed].min() for b in blocks if len(b.c[b.shed])), default=1.0))
    limited: set = set()
    solver = lp_backend(c, _matrix(rows, cols, vals, r0, n_var), np.concatenate(lo), np.concatenate(hi), xlo, xhi)
    for rounds in range(1, MAX_LIMIT_ROUNDS + 1):
        status, x, message = solver.solve()
        water = x[w0:-1].reshape(n_t, n_p, 4)
        if status != "optimal":
            break
        new = [], [], [], [], []
        added = _add_limits(blocks, offsets, wcol, x, water, limited, 0, *new)
        if not added:
            break
        solver.add_rows(_matrix(*new[:3], added, n_var), np.concatenate(new[3]), np.concatenate(new[4]))
    per_step = [x[offsets[t]:offsets[t + 1]] for t in range(n_t)]
    shed = np.array([float(np.clip(xs[b.shed], 0, b.demand_mw).sum()) for xs, b in zip(per_step, blocks)])
    unserved = shed + np.array([b.unmodelled_mw for b in blocks])
    return WaterLPResult(status, message, per_step, water, arriving_inflow(inputs, water), shed,
                         unserved, time.perf_counter() - t0, {"limit_rounds": rounds, "limit_rows": len(limited)})


def _matrix(rows, cols, vals, n_rows: int, n_var: int) -> sp.csr_matrix:
    return sp.csr_matrix((np.concatenate([np.asarray(v, float) for v in vals]),
                          (np.concatenate([np.asarray(r, int) for r in rows]),
                           np.concatenate([np.asarray(c_, int) for c_ in cols]))), shape=(n_rows, n_var))


def _peak_rows(blocks, offsets, z: int, r0, rows, cols, vals, lo, hi) -> int:
    """sum(shed_t) - z <= -unmodelled_t: ``z`` is at least every step's unserved MW."""
    for t, b in enumerate(blocks):
        shed = np.arange(b.shed.start, b.shed.stop) + offsets[t]
        rows.append(np.full(len(shed) + 1, r0)), cols.append(np.append(shed, z))
        vals.append(np.append(np.ones(len(shed)), -1.0))
        lo.append([-np.inf]), hi.append([-b.unmodelled_mw])
        r0 += 1
    return r0


def _add_limits(blocks, offsets, wcol, x, water, limited: set, r0, rows, cols, vals, lo, hi) -> int:
    """Add a limit row for every (step, branch) whose flow breaks its rating; return how many."""
    added = 0
    for t, b in enumerate(blocks):
        if b.state is None or not len(b.state.rating):
            continue
        flow = b.flows(x[offsets[t]:offsets[t + 1]], water[t, :, _P])
        over = np.flatnonzero(np.abs(flow) > b.state.rating + FLOW_TOL_MW)
        for br in over:
            if (t, int(br)) in limited:
                continue
            limited.add((t, int(br)))
            coef, pump, low, high = b.limit_row(int(br))
            pumps = [i for i in range(len(pump)) if pump[i] != 0.0]
            rows.append(np.full(len(coef) + len(pumps), r0 + added))
            cols.append(np.concatenate([np.arange(len(coef)) + offsets[t], [wcol(t, i, _P) for i in pumps]]))
            vals.append(np.concatenate([coef, [pump[i] for i in pumps]]))
            lo.append([low]), hi.append([high])
            added += 1
    return added


def _turbine_rows(blocks, river, offsets, wcol, r0, rows, cols, vals, lo, hi) -> int:
    """sum(units) p - mw_per_m3s * q == 0 per plant and step."""
    n_p = len(river)
    k = -river["mw_per_m3s"].to_numpy(float)
    n_t = len(blocks)
    shared: dict = {}                 # the steps of one damage state share their units' columns
    for t, b in enumerate(blocks):
        lay = shared.get(id(b.unit_cols))
        if lay is None:               # per row entry: its column in the block (-1: the plant's q) and value
            n_units = np.array([len(u) for u in b.unit_cols], dtype=np.int64)
            local = np.concatenate([np.append(u, -1) for u in b.unit_cols]).astype(np.int64) if n_p else \
                np.zeros(0, dtype=np.int64)
            value = np.concatenate([np.append(np.ones(len(u)), k[i]) for i, u in enumerate(b.unit_cols)]) \
                if n_p else np.zeros(0)
            plant = np.repeat(np.arange(n_p), n_units + 1)
            lay = shared[id(b.unit_cols)] = (plant, local, value, local < 0)
        plant, local, value, is_q = lay
        rows.append(plant + r0)
        cols.append(np.where(is_q, wcol(t, plant, _Q), local + offsets[t]))
        vals.append(value)
        r0 += n_p
    lo.append(np.zeros(n_p * n_t)), hi.append(np.zeros(n_p * n_t))
    return r0


def travel_split(travel_h: float, step_h: float) -> tuple[int, float]:
    """Travel time in whole steps ``a`` and the fraction ``f`` of the release that arrives one step later."""
    lag = travel_h / step_h
    a = int(np.floor(lag + 1e-9))
    f = lag - a
    return a, (0.0 if f < 1e-9 else float(f))


def _upstream(river: pd.DataFrame) -> list[list[int]]:
    pos = {p: i for i, p in enumerate(river["plant"])}
    up: list[list[int]] = [[] for _ in range(len(river))]
    for u, down in enumerate(river["downstream"]):
        if down:
            up[pos[down]].append(u)
    return up


def _water_rows(inputs: RiverInputs, n_t: int, wcol, r0, rows, cols, vals, lo, hi) -> int:
    """v_t - v_t-1 + c (q + s) - c eff/k P - c * arriving = c * natural (+ v_init, + steady arrivals)."""
    river, cst = inputs.river, inputs.step_h * M3S_HOUR_HM3
    steady = steady_release(river, inputs.inflow_m3s)
    up = _upstream(river)
    pump = [-cst * e / k for e, k in zip(river["efficiency"].to_numpy(float), river["mw_per_m3s"].to_numpy(float))]
    init = river["storage_init_hm3"].to_numpy(float)
    # per plant: (upstream plant, lag in steps, share) of each arrival, in the order the balance adds them
    arrivals = [[(u, lag, share) for u in up[i]
                 for a, f in [travel_split(float(river["travel_h"].iat[u]), inputs.step_h)]
                 for lag, share in ((a, 1.0 - f), (a + 1, f)) if share > 0] for i in range(len(river))]
    row, col, val, rhs_all = [], [], [], []         # the entries of every row, flat
    for t in range(n_t):
        for i in range(len(river)):
            r = [wcol(t, i, _V), wcol(t, i, _Q), wcol(t, i, _S), wcol(t, i, _P)]
            v_ = [1.0, cst, cst, pump[i]]
            rhs = cst * inputs.inflow_m3s[i, t]
            if t == 0:
                rhs += float(init[i])
            else:
                r.append(wcol(t - 1, i, _V)), v_.append(-1.0)
            for u, lag, share in arrivals[i]:
                if t - lag < 0:
                    rhs += cst * share * inputs.released_before(steady, u, t - lag)
                else:
                    r += [wcol(t - lag, u, _Q), wcol(t - lag, u, _S)]
                    v_ += [-cst * share, -cst * share]
            row += [r0] * len(r)
            col += r
            val += v_
            rhs_all.append(rhs)
            r0 += 1
    rows.append(row), cols.append(col), vals.append(val)
    lo.append(rhs_all), hi.append(rhs_all)
    return r0


def arriving_inflow(inputs: RiverInputs, water: np.ndarray) -> np.ndarray:
    """Natural inflow plus the releases arriving from upstream (m³/s), per plant and step."""
    river = inputs.river
    out = inputs.inflow_m3s.astype(float).copy()
    steady = steady_release(river, inputs.inflow_m3s)
    release = water[:, :, _Q] + water[:, :, _S]          # (steps, plants)
    for i, ups in enumerate(_upstream(river)):
        for u in ups:
            a, f = travel_split(float(river["travel_h"].iat[u]), inputs.step_h)
            for lag, share in ((a, 1.0 - f), (a + 1, f)):
                if share <= 0:
                    continue
                for t in range(out.shape[1]):
                    out[i, t] += share * (inputs.released_before(steady, u, t - lag) if t - lag < 0
                                          else release[t - lag, u])
    return out


def _objective_and_bounds(blocks, inputs: RiverInputs, offsets, wcol, n_var, cost_scale):
    river, n_p = inputs.river, len(inputs.river)
    c, xlo, xhi = np.zeros(n_var), np.zeros(n_var), np.full(n_var, np.inf)
    for t, b in enumerate(blocks):
        c[offsets[t]:offsets[t + 1]] = b.c
        xlo[offsets[t]:offsets[t + 1]], xhi[offsets[t]:offsets[t + 1]] = b.xlo, b.xhi
    n_t = len(blocks)
    value = water_value_per_hm3(river) * cost_scale
    refill = _refill_floor(inputs) if inputs.floor is None else inputs.floor
    # the river's variables, (steps, plants) each: columns wcol(t, i, j) = w0 + (t * n_p + i) * 4 + j
    w0 = n_var - 1 - n_t * n_p * 4
    ok = inputs.dam_ok[:, :n_t].T.astype(bool)
    at = lambda j: slice(w0 + j, n_var - 1, 4)    # noqa: E731 - column j of every (step, plant), step-major
    xhi[at(_Q)] = np.where(ok, np.inf, 0.0).ravel()
    xlo[at(_V)] = np.where(ok, refill[:, :n_t].T, 0.0).ravel()
    xhi[at(_V)] = np.where(ok, river["storage_max_hm3"].to_numpy(float)[None, :], 0.0).ravel()
    pump_bus = np.array([b.pump_bus for b in blocks], dtype=np.int64).reshape(n_t, n_p)
    pump = np.where(ok & (pump_bus >= 0), river["pump_mw"].to_numpy(float)[None, :], 0.0)
    if inputs.pump_off is not None:
        pump[inputs.pump_off[:, :n_t].T.astype(bool)] = 0.0
    xhi[at(_P)] = pump.ravel()
    if n_t:
        c[[wcol(n_t - 1, i, _V) for i in range(n_p)]] = -value
    return c, xlo, xhi


def water_value_per_hm3(river: pd.DataFrame) -> np.ndarray:
    """Per plant, ``WATER_VALUE_PER_MWH`` times the MWh one hm³ stored there makes through its own turbines
    and every plant below (pumped storage: its own)."""
    pos = {p: i for i, p in enumerate(river["plant"])}
    out = np.zeros(len(river))
    for i in range(len(river)):
        j, k = i, 0.0
        while True:
            k += float(river["mw_per_m3s"].iat[j])
            down = river["downstream"].iat[j]
            if not down:
                break
            j = pos[down]
        out[i] = WATER_VALUE_PER_MWH * k / M3S_HOUR_HM3
    return out


def _refill_floor(inputs: RiverInputs) -> np.ndarray:
    """Lowest storage per plant and step: its minimum, except after a lost dam is rebuilt, where the floor
    follows what natural inflow alone could have refilled since (so the refill is always feasible)."""
    river, cst = inputs.river, inputs.step_h * M3S_HOUR_HM3
    vmin = river["storage_min_hm3"].to_numpy(float)
    out = np.repeat(vmin[:, None], inputs.dam_ok.shape[1], axis=1)
    for i in range(len(river)):
        since = None
        for t in range(inputs.dam_ok.shape[1]):
            if not inputs.dam_ok[i, t]:
                since = 0.0
                continue
            if since is not None:
                since += cst * inputs.inflow_m3s[i, t]
                out[i, t] = min(vmin[i], since)
    return out

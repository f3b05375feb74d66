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
    for t, b in enumerate(blocks):            # per step and component: generation + shed - pumping == demand
        coo = b.a.tocoo()
        rows.append(coo.row + r0), cols.append(coo.col + offsets[t]), vals.append(coo.data)
        for i in range(n_p):
            if b.pump_row[i] >= 0 and river["pump_mw"].iat[i] > 0:
                rows.append([r0 + b.pump_row[i]]), cols.append([wcol(t, i, _P)]), vals.append([-1.0])
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
    for t, b in enumerate(blocks):
        for i in range(len(river)):
            units = b.unit_cols[i]
            rows.append(np.full(len(units) + 1, r0))
            cols.append(np.concatenate([units + offsets[t], [wcol(t, i, _Q)]]))
            vals.append(np.concatenate([np.ones(len(units)), [-float(river["mw_per_m3s"].iat[i])]]))
            lo.append([0.0]), hi.append([0.0])
            r0 += 1
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
    for t in range(n_t):
        for i in range(len(river)):
            r, c_, v_ = [wcol(t, i, _V), wcol(t, i, _Q), wcol(t, i, _S), wcol(t, i, _P)], [], []
            v_ = [1.0, cst, cst, -cst * float(river["efficiency"].iat[i]) / float(river["mw_per_m3s"].iat[i])]
            rhs = cst * inputs.inflow_m3s[i, t]
            if t == 0:
                rhs += float(river["storage_init_hm3"].iat[i])
            else:
                r.append(wcol(t - 1, i, _V)), v_.append(-1.0)
            for u in up[i]:
                a, f = travel_split(float(river["travel_h"].iat[u]), inputs.step_h)
                for lag, share in ((a, 1.0 - f), (a + 1, f)):
                    if share <= 0:
                        continue
                    if t - lag < 0:
                        rhs += cst * share * inputs.released_before(steady, u, t - lag)
                    else:
                        r += [wcol(t - lag, u, _Q), wcol(t - lag, u, _S)]
                        v_ += [-cst * share, -cst * share]
            rows.append(np.full(len(r), r0)), cols.append(r), vals.append(v_)
            lo.append([rhs]), hi.append([rhs])
            r0 += 1
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
    for t in range(n_t):
        for i in range(n_p):
            ok = bool(inputs.dam_ok[i, t])
            xhi[wcol(t, i, _Q)] = np.inf if ok else 0.0
            xlo[wcol(t, i, _V)] = refill[i, t] if ok else 0.0
            xhi[wcol(t, i, _V)] = float(river["storage_max_hm3"].iat[i]) if ok else 0.0
            pump = float(river["pump_mw"].iat[i]) if ok and blocks[t].pump_bus[i] >= 0 else 0.0
            if inputs.pump_off is not None and inputs.pump_off[i, t]:
                pump = 0.0
            xhi[wcol(t, i, _P)] = pump
        if t == n_t - 1:
            for i in range(n_p):
                c[wcol(t, i, _V)] = -value[i]
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

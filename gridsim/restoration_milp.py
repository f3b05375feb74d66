"""A lower bound on the restoration objective: a time-indexed MILP (PowerModelsRestoration's restoration-ordering
problem, in its DC form) solved by HiGHS with a time limit.

Per timeline step ``k`` (hour ``t_k``) and damaged asset ``a`` with a repair, a binary ``y[a,k]`` says the asset is
back at step ``k``. It is a *relaxation* of the schedules ``gridsim.restoration`` evaluates, so its optimum, and
HiGHS's dual bound at any time limit, never exceed the objective of any schedule, list schedule or not:

- **repairs**: ``y`` never falls back to 0, and is 0 before the strike plus the repair's work;
- **crews** (the volume relaxation): for every step and every strike time ``s``, the work of the repairs struck at
  ``s`` or later that are back by ``t_k`` fits in ``crews * (t_k - s)`` crew-hours. Every real schedule meets it;
  with one crew and every strike at hour 0 it is exact (the repairs in the order they come back, no idle time);
- **network** per step: the DC model of the optimal response (``gridsim.batch.lp``: nodal balance, branch ratings
  with ``response: optimal``, the step's demand and unit capacities, shed priced by the objective) with each
  asset's branches, units, buses and loads in service only when it is back (flows ``|f| <= rating * y``, units
  ``p <= capacity * y`` or the derate, loads at destroyed buses shed ``>= demand * (1 - y)``). Kirchhoff's voltage
  law holds on branches whose state is fixed in that step; on a branch a repair switches it is relaxed (a
  big-M on angles would need an angle bound the DC model does not give), so the bound stays valid and can be
  weaker where loop flows bind;
- left out, each only raising the real objective: restarts after reconnection, and the response's own choices
  (the MILP sheds the least its objective allows; the response sheds the least priority-weighted demand).

The objective is ``ens`` (MWh) or ``weighted`` (priority-weighted MWh); ``customer_hours`` counts whole customers
per load (rounded), which no linear objective bounds, so it gets no bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from gridsim.timeline import outage_at

#: the MILP is built only up to this many columns (steps x (buses + branches + units + loads) + binaries)
MAX_COLUMNS = 150_000
OBJECTIVES = ("ens", "weighted")


@dataclass
class MILPBound:
    status: str                      # optimal | time limit | not built: <why> | failed: <why>
    bound: float | None = None       # proven lower bound on the objective
    objective: float | None = None   # the MILP's best objective (of its relaxed model)
    back_h: dict = field(default_factory=dict)   # asset -> hour the MILP's best solution has it back
    columns: int = 0
    elapsed_s: float = 0.0
    x: np.ndarray | None = field(default=None, repr=False)

    def gap(self, value: float) -> float | None:
        """Relative gap of a schedule's objective ``value`` to the bound."""
        if self.bound is None:
            return None
        return max(0.0, value - self.bound) / value if value > 1e-9 else 0.0


class _Columns:
    """Column bookkeeping: bounds, costs and integrality appended block by block."""

    def __init__(self):
        self.lo, self.hi, self.cost, self.integer = [], [], [], []
        self.n = 0

    def add(self, lo, hi, cost=0.0, integer=False) -> np.ndarray:
        lo = np.atleast_1d(np.asarray(lo, dtype=float))
        k = len(lo)
        self.lo.append(lo)
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (k,)).copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (k,)).copy())
        self.integer.append(np.full(k, 1 if integer else 0))
        idx = np.arange(self.n, self.n + k)
        self.n += k
        return idx


class _Rows:
    def __init__(self):
        self.r, self.c, self.v, self.lo, self.hi = [], [], [], [], []
        self.n = 0

    def add(self, cols: list, vals: list, lo: float, hi: float) -> None:
        self.r.extend([self.n] * len(cols))
        self.c.extend(int(c) for c in cols)
        self.v.extend(float(v) for v in vals)
        self.lo.append(lo)
        self.hi.append(hi)
        self.n += 1

    def add_block(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray) -> None:
        """Rows numbered 0..len(lo)-1 within the block."""
        self.r.extend((rows + self.n).tolist())
        self.c.extend(cols.tolist())
        self.v.extend(vals.tolist())
        self.lo.extend(lo.tolist())
        self.hi.extend(hi.tolist())
        self.n += len(lo)


def milp_bound(restorer, time_limit_s: float) -> MILPBound:
    """The time-indexed MILP of ``restorer``'s scenario (``gridsim.restoration.Restorer``), solved with HiGHS
    within ``time_limit_s``: its dual bound and best solution."""
    t0 = time.perf_counter()
    why = _not_applicable(restorer)
    if why:
        return MILPBound(f"not built: {why}")
    model = _Model(restorer)
    if model.size() > MAX_COLUMNS:
        return MILPBound(f"not built: {model.size():,} columns (at most {MAX_COLUMNS:,})", columns=model.size())
    cols, rows = model.build()
    out = _solve(cols, rows, time_limit_s)
    out.columns, out.elapsed_s = cols.n, time.perf_counter() - t0
    if out.x is not None:
        out.back_h = model.back_hours(out.x)
    return out


def _not_applicable(r) -> str:
    if r.rest.objective not in OBJECTIVES:
        return f"objective {r.rest.objective} (whole customers per load) has no linear bound"
    if r.runner.fast_steps is None:
        return "the network or solver is not one the DC model covers (solver dc, response optimal or none)"
    return ""


class _Model:
    """The MILP's data: per asset the model elements it takes out, per step each asset's state."""

    def __init__(self, r):
        self.r = r
        fs = r.runner.fast_steps
        self.fs, self.pm = fs, fs.ev.model
        self.n, self.dt = r.runner.n, float(r.runner.dt)
        self.times = [k * self.dt for k in range(self.n)]
        self.outages = r.outages
        self.repairs = list(r.repairs)
        self.crews = r.crews
        self.optimal = r.scenario.response == "optimal"
        self.weight = fs.weight if r.rest.objective == "weighted" else np.ones(len(self.pm.demand))
        self.elements = [self._elements(o) for o in self.outages]

    def size(self) -> int:
        pm = self.pm
        return self.n * (pm.n_bus + pm.n_branch + len(pm.gen_bus) + len(pm.demand) + len(self.repairs))

    def _elements(self, o) -> dict:
        """Model positions the asset takes out (branches, units, loads) and the units it derates."""
        pm = self.pm
        plain = o.model_copy(update={"derate": None, "at_h": 0.0, "repair_h": None, "restore": None})
        m = pm.masks([plain])                 # everything out
        lost = set(m.load_out.tolist()) | set(np.flatnonzero(np.isin(pm.load_bus, m.bus_dead)).tolist())
        gen, derated = m.gen_out, np.zeros(0, dtype=np.int64)
        if _deratable(o):                     # units a derate reaches; the rest (at destroyed buses) stay out
            gen = pm.masks([plain.model_copy(update={"derate": 0.5})]).gen_out
            derated = np.setdiff1d(m.gen_out, gen)
        return {"branch": m.branch_out, "gen": gen, "load": np.array(sorted(lost), dtype=np.int64),
                "derated": derated}

    def state(self, a: int, k: int):
        """Asset ``a`` at step ``k``: ("on",), ("off", derate or None) or ("var",) for a repair that may be done."""
        o, t = self.outages[a], self.times[k]
        if a in self.repairs:
            if t < float(o.at_h) - 1e-9:
                return ("on",)
            if t < float(o.at_h) + float(o.repair_h) - 1e-9:
                return ("off", o.derate)
            return ("var",)
        now = outage_at(o, t)
        return ("on",) if now is None else ("off", now.derate)

    def build(self):
        cols, rows = _Columns(), _Rows()
        self.y = {}
        for a in self.repairs:
            for k in range(self.n):
                if self.state(a, k)[0] == "var":
                    self.y[a, k] = int(cols.add(0.0, 1.0, 0.0, integer=True)[0])
        for k in range(self.n):
            self._step(k, cols, rows)
        self._repairs(rows)
        return cols, rows

    def _repairs(self, rows: _Rows) -> None:
        """Once back, back for good; the crews' work fits in the hours since each strike time."""
        for (a, k), c in self.y.items():
            if (a, k - 1) in self.y:
                rows.add([c, self.y[a, k - 1]], [1.0, -1.0], 0.0, np.inf)
        strikes = sorted({float(self.outages[a].at_h) for a in self.repairs})
        for k in range(self.n):
            t = self.times[k]
            for s in strikes:
                if s > t:
                    break
                items = [(self.y[a, k], float(self.outages[a].repair_h)) for a in self.repairs
                         if float(self.outages[a].at_h) >= s - 1e-9 and (a, k) in self.y]
                if items:
                    rows.add([c for c, _ in items], [w for _, w in items], -np.inf, self.crews * (t - s))

    def _step(self, k: int, cols: _Columns, rows: _Rows) -> None:
        """Step ``k``'s DC network with shedding, each asset's elements switched by its state."""
        pm, fs, r = self.pm, self.fs, self.r
        demand = fs.base_demand * r.runner._demand_factor(k)
        avail = {**(r.scenario.availability or {}), **r.runner._availability(k)}
        cap = np.where(pm.gen_on, np.nan_to_num(fs.capacity(avail)), 0.0).clip(min=0.0)
        m, nb = pm.n_branch, pm.n_bus
        free_flow = float(demand.sum()) + float(cap.sum())      # no flow of a DC solution exceeds it
        rating = np.where(np.isfinite(pm.lp_limit) & self.optimal, pm.lp_limit, free_flow)
        br_fixed_off, br_vars, gen_hi, gen_rows, load_min, load_rows = self._switches(k, cap, demand)
        theta = cols.add(np.full(nb, -np.inf), np.where(pm.bus_active, np.inf, 0.0))
        flo = np.where(br_fixed_off, 0.0, rating)
        f = cols.add(-flo, flo)
        pg = cols.add(np.zeros(len(cap)), gen_hi)
        shed = cols.add(load_min, demand, self.dt * self.weight)
        # Kirchhoff on branches whose state is fixed (and on): f - bw (theta_from - theta_to) = f0
        kvl = np.flatnonzero(~br_fixed_off & ~np.isin(np.arange(m), list(br_vars)))
        n_k = len(kvl)
        rr = np.repeat(np.arange(n_k), 3)
        cc = np.column_stack([f[kvl], theta[pm.br_from[kvl]], theta[pm.br_to[kvl]]]).ravel()
        vv = np.column_stack([np.ones(n_k), -pm.bw[kvl], pm.bw[kvl]]).ravel()
        rows.add_block(rr, cc, vv, pm.f_shift[kvl], pm.f_shift[kvl])
        # nodal balance: out - in - pg - shed = -demand
        rr = np.concatenate([pm.br_from, pm.br_to, pm.gen_bus, pm.load_bus])
        cc = np.concatenate([f, f, pg, shed])
        vv = np.concatenate([np.ones(m), -np.ones(m), -np.ones(len(pg)), -np.ones(len(shed))])
        rhs = -np.bincount(pm.load_bus, weights=demand, minlength=nb)
        rows.add_block(rr, cc, vv, rhs, rhs)
        # switched elements: |f| <= rating * y; pg <= cap (d + (1 - d) y); shed >= demand (1 - y)
        for j, ys in br_vars.items():
            for y in ys:
                rows.add([f[j], y], [1.0, -rating[j]], -np.inf, 0.0)
                rows.add([f[j], y], [1.0, rating[j]], 0.0, np.inf)
        for g, y, d in gen_rows:
            rows.add([pg[g], y], [1.0, -cap[g] * (1.0 - d)], -np.inf, cap[g] * d)
        for l_, y in load_rows:
            rows.add([shed[l_], y], [1.0, demand[l_]], demand[l_], np.inf)

    def _switches(self, k: int, cap: np.ndarray, demand: np.ndarray):
        """Per element at step ``k``: branches fixed out, branches switched by repairs (branch -> y columns),
        units' upper bounds with fixed damage, units switched by repairs (gen, y, derate while out), loads'
        least shed with fixed damage, loads switched by repairs (load, y)."""
        br_fixed_off = np.zeros(self.pm.n_branch, bool)
        br_vars: dict[int, list[int]] = {}
        gen_hi, load_min = cap.copy(), np.zeros(len(demand))
        gen_rows: list[tuple[int, int, float]] = []
        load_rows: list[tuple[int, int]] = []
        for a, el in enumerate(self.elements):
            st = self.state(a, k)
            if st[0] == "off":
                br_fixed_off[el["branch"]] = True
                gen_hi[el["gen"]] = 0.0
                d = 0.0 if st[1] is None else float(st[1])
                gen_hi[el["derated"]] = np.minimum(gen_hi[el["derated"]], cap[el["derated"]] * d)
                load_min[el["load"]] = demand[el["load"]]
            elif st[0] == "var":
                y = self.y[a, k]
                for j in el["branch"]:
                    br_vars.setdefault(int(j), []).append(y)
                d = 0.0 if self.outages[a].derate is None else float(self.outages[a].derate)
                gen_rows += [(int(g), y, 0.0) for g in el["gen"]] + [(int(g), y, d) for g in el["derated"]]
                load_rows += [(int(l_), y) for l_ in el["load"]]
        return br_fixed_off, br_vars, gen_hi, gen_rows, load_min, load_rows

    def back_hours(self, x: np.ndarray) -> dict:
        out = {}
        for a in self.repairs:
            ks = [k for k in range(self.n) if (a, k) in self.y and x[self.y[a, k]] > 0.5]
            out[a] = self.times[min(ks)] if ks else None
        return out


def _deratable(o) -> bool:
    return o.derate is not None or any(s.derate is not None for s in (o.restore or ()))


def _solve(cols: _Columns, rows: _Rows, time_limit_s: float) -> MILPBound:
    from scipy.optimize import Bounds, LinearConstraint, milp

    a = sp.csr_matrix((rows.v, (rows.r, rows.c)), shape=(rows.n, cols.n))
    lo, hi = np.concatenate(cols.lo), np.concatenate(cols.hi)
    cost, integ = np.concatenate(cols.cost), np.concatenate(cols.integer)
    res = milp(cost, integrality=integ, bounds=Bounds(lo, hi),
               constraints=LinearConstraint(a, np.array(rows.lo), np.array(rows.hi)),
               options={"time_limit": max(float(time_limit_s), 0.1), "disp": False, "mip_rel_gap": 1e-6})
    bound = getattr(res, "mip_dual_bound", None)
    if res.status == 0:
        out = MILPBound("optimal", bound=float(res.fun) if bound is None else min(float(bound), float(res.fun)),
                        objective=float(res.fun))
    elif res.status == 1:
        ok = bound is not None and np.isfinite(bound)
        out = MILPBound("time limit", bound=float(bound) if ok else None,
                        objective=float(res.fun) if res.x is not None else None)
    else:
        out = MILPBound(f"failed: {res.message}")
    out.x = res.x
    return out

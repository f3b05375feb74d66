"""The exact attacker-operator problem as one MILP through LP duality, solved by HiGHS.

The operator's problem after an attack is the optimal response's DC shedding LP (``gridsim.batch.lp``): on the
prepared model, with branch flows ``f``, bus angles ``theta``, unit outputs ``p`` and load shed ``s``::

    min  sum_d w_d s_d
    s.t. A.T f - Cg p - Cd s = -Cd D          (pi_n, free)      nodal balance
         f_k - bw_k (A theta)_k = f0_k        (mu_k, free)      every branch not hit
         -R_k <= f_k <= R_k                   (a_k, b_k <= 0)   f_k = 0 on a branch hit
         0 <= p_g <= P_g                      (c_g <= 0)        P_g = 0 for a unit hit
         0 <= s_d <= D_d                      (e_d <= 0)

(``w`` the shedding weights: 1, or ``PRIORITY_WEIGHTS`` with ``shedding: priority``). Its LP dual is a
maximisation, so max over attacks of min shed is one maximisation over binary attacks ``z`` and the dual
variables. With ``x_k`` (branch k hit) and ``y_g`` (unit g hit) the OR of the ``z`` of the assets holding them,
the dual of an attacked element is switched off by big-M constraints instead of products (Salmeron, Wood and
Baldick 2004; Motto, Arroyo and Galiana 2005)::

    max  -sum_d D_d pi_bus(d) + sum_d D_d e_d + sum_g P_g c_g + sum_k (f0_k mu_k + R_k (a_k + b_k))
    s.t. sum_k bw_k A_kn mu_k = 0                                   (theta_n free)
         |pi_from(k) - pi_to(k) + mu_k + a_k - b_k| <= 2M x_k        (f_k free; free once hit)
         |mu_k| <= M (1 - x_k),  a_k, b_k >= -M (1 - x_k)
         c_g <= pi_bus(g) + M y_g,  c_g >= -M (1 - y_g)              (p_g >= 0)
         e_d <= w_d + pi_bus(d)                                      (s_d >= 0)
         x_k >= z_a (a holds k),  x_k <= sum_a z_a;  likewise y_g;   sum_a z_a <= k;  |pi| <= M

The big-M bounds the dual prices: for a fixed attack the restricted dual is still dual-feasible, so the MILP
never reports more than the attack's true shed (weak duality). ``solve`` re-evaluates the attack it finds
(through the batch engine) and doubles ``M`` while that evaluation exceeds the MILP's value or a price sits
at its bound; tests/test_worst.py checks the optimum against brute-force enumeration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridsim.batch.lp import _quiet_highs
from gridsim.batch.state import MIN_CAPACITY_MW
from gridsim.solvers.response import PRIORITY_WEIGHTS

#: first big-M on the dual prices, times the largest shedding weight (doubled while it binds)
M_START = 4.0
#: a price within this fraction of M counts as sitting at its bound
AT_BOUND = 0.999


@dataclass
class MILPResult:
    """The best attack found (positions into the asset list), its MILP value, HiGHS' bound and gap."""

    attack: list[int]
    objective: float        # the operator's weighted shed in the MILP (plus load already lost)
    bound: float            # HiGHS' dual bound on it (inf if none)
    gap: float              # (bound - objective) / objective, 0 when proven optimal
    status: str
    big_m: float
    time_s: float
    prices_at_bound: bool


class _Builder:
    """Columns and rows of a MILP, collected as arrays."""

    def __init__(self):
        self.lo, self.hi, self.cost, self.integer = [], [], [], []
        self.n = 0
        self.rows, self.cols, self.vals, self.rlo, self.rhi = [], [], [], [], []
        self.m = 0

    def add_cols(self, count: int, lo, hi, cost=0.0, integer: bool = False) -> np.ndarray:
        idx = np.arange(self.n, self.n + count)
        for lst, v in ((self.lo, lo), (self.hi, hi), (self.cost, cost)):
            lst.append(np.broadcast_to(np.asarray(v, dtype=float), (count,)).copy())
        self.integer.append(np.full(count, 1 if integer else 0, dtype=np.int32))
        self.n += count
        return idx

    def add_rows(self, row_of, col, val, lo, hi, count: int) -> None:
        """Rows ``lo <= sum val * x[col] <= hi``; ``row_of`` numbers the entries' rows from 0 to count-1."""
        self.rows.append(np.asarray(row_of) + self.m)
        self.cols.append(np.asarray(col))
        self.vals.append(np.asarray(val, dtype=float))
        self.rlo.append(np.broadcast_to(np.asarray(lo, dtype=float), (count,)).copy())
        self.rhi.append(np.broadcast_to(np.asarray(hi, dtype=float), (count,)).copy())
        self.m += count

    def matrix(self) -> sp.csc_matrix:
        cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))
        return sp.csc_matrix((cat(self.vals), (cat(self.rows).astype(np.int64), cat(self.cols).astype(np.int64))),
                             shape=(self.m, self.n))


class AttackMILP:
    """The attacker-operator MILP of a prepared model (``gridsim.batch.model.PreparedModel``) and an asset list
    (``gridsim.worst.assets.catalogue``); ``solve(k, protected)`` returns the worst attack of at most k assets."""

    def __init__(self, pm, assets, shedding: str = "proportional"):
        self.pm, self.assets = pm, assets
        live = pm.bus_active[pm.load_bus] & pm.load_on & (pm.demand > 0)
        self.loads = np.flatnonzero(live)
        self.lost_mw = float(pm.demand[~live].sum())            # already unserved before any attack
        self.gens = np.flatnonzero(pm.gen_on & (pm.gen_cap > MIN_CAPACITY_MW))
        w = np.ones(len(pm.demand)) if shedding != "priority" else \
            np.array([PRIORITY_WEIGHTS.get(int(p), np.nan) for p in pm.priority])
        if np.isnan(w).any():
            raise ValueError(f"no shedding weight for load priorities outside {sorted(PRIORITY_WEIGHTS)}")
        self.weights = w
        self.w_max = float(w[self.loads].max()) if len(self.loads) else 1.0
        self.lost_weighted = float((w * pm.demand)[~live].sum())

    # -- model -------------------------------------------------------------------------------------------------
    def _membership(self, field: str, size: int, keep: np.ndarray) -> sp.csr_matrix:
        """element x asset incidence (elements: branches or gen positions) of the attackable assets ``keep``."""
        rows, cols = [], []
        for j, a in enumerate(keep):
            el = getattr(self.assets[a].masks, field)
            rows.append(el)
            cols.append(np.full(len(el), j))
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(size, len(keep)))

    def build(self, k: int, keep: np.ndarray, big_m: float) -> tuple[_Builder, dict]:
        """The MILP for at most ``k`` of the assets ``keep`` (positions), prices bounded by ``big_m``."""
        b = _Builder()
        z, x, y = self._attack_columns(b, k, keep)
        cols = self._price_columns(b, big_m)
        self._branch_rows(b, cols, x, big_m)
        self._unit_and_load_rows(b, cols, y, big_m)
        return b, {"z": z, **cols}

    def _attack_columns(self, b: _Builder, k: int, keep: np.ndarray):
        """z per asset (binary, at most k), and per branch and unit the OR of its assets' z."""
        pm = self.pm
        z = b.add_cols(len(keep), 0.0, 1.0, integer=True)
        b.add_rows(np.zeros(len(z)), z, np.ones(len(z)), -np.inf, float(k), 1)
        twins = self._twins(keep)
        if len(twins):      # identical parallel assets: hit the first before the second (symmetry breaking)
            n_t = len(twins)
            b.add_rows(np.repeat(np.arange(n_t), 2), z[twins.ravel()], np.tile([1.0, -1.0], n_t), 0.0, np.inf, n_t)
        x = self._or_columns(b, self._membership("branch_out", pm.n_branch, keep), z)   # column or -1 (never hit)
        y = self._or_columns(b, self._membership("gen_out", len(pm.gen_bus), keep), z)
        return z, x, y

    def _price_columns(self, b: _Builder, M: float) -> dict:
        """The dual prices, each with its cost in the dual objective."""
        pm, loads, gens = self.pm, self.loads, self.gens
        bus_demand = np.bincount(pm.load_bus[loads], weights=pm.demand[loads], minlength=pm.n_bus)
        finite = np.isfinite(pm.lp_limit)
        rating = np.where(finite, pm.lp_limit, 0.0)
        nk = pm.n_branch
        return {"pi": b.add_cols(pm.n_bus, -M, M, cost=-bus_demand),
                "mu": b.add_cols(nk, -M, M, cost=pm.f_shift),
                "a": b.add_cols(nk, np.where(finite, -M, 0.0), 0.0, cost=rating),
                "b": b.add_cols(nk, np.where(finite, -M, 0.0), 0.0, cost=rating),
                "c": b.add_cols(len(gens), -M, 0.0, cost=pm.gen_cap[gens]),
                "e": b.add_cols(len(loads), -M, 0.0, cost=pm.demand[loads])}

    def _branch_rows(self, b: _Builder, cols: dict, x: np.ndarray, M: float) -> None:
        pm = self.pm
        nk, pi, mu, a, bb = pm.n_branch, cols["pi"], cols["mu"], cols["a"], cols["b"]
        ks = np.arange(nk)
        # theta columns: sum_k bw_k A_kn mu_k = 0
        bw = pm.bw / max(float(np.abs(pm.bw).max()), 1.0) if nk else pm.bw
        b.add_rows(np.concatenate([pm.br_from, pm.br_to]), np.concatenate([mu, mu]), np.concatenate([bw, -bw]),
                   0.0, 0.0, pm.n_bus)
        # f columns: pi_f - pi_t + mu + a - b  within +-2M x
        hit = x >= 0
        rows = np.concatenate([ks] * 5 + [ks[hit]])
        idx = np.concatenate([pi[pm.br_from], pi[pm.br_to], mu, a, bb, x[hit]])
        ones = np.ones(nk)
        vals = np.concatenate([ones, -ones, ones, ones, -ones, -2.0 * M * np.ones(hit.sum())])
        b.add_rows(rows, idx, vals, -np.inf, 0.0, nk)
        vals = vals.copy()
        vals[5 * nk:] = 2.0 * M
        b.add_rows(rows, idx, vals, 0.0, np.inf, nk)
        # a hit branch carries no price: |mu| <= M (1 - x), a, b >= -M (1 - x)
        kh = ks[hit]
        for col, sign in ((mu, 1.0), (mu, -1.0), (a, -1.0), (bb, -1.0)):
            b.add_rows(np.concatenate([np.arange(len(kh))] * 2), np.concatenate([col[kh], x[kh]]),
                       np.concatenate([sign * np.ones(len(kh)), M * np.ones(len(kh))]), -np.inf, M, len(kh))

    def _unit_and_load_rows(self, b: _Builder, cols: dict, y: np.ndarray, M: float) -> None:
        pm, gens, loads = self.pm, self.gens, self.loads
        pi, c, e = cols["pi"], cols["c"], cols["e"]
        # units: c_g - pi_bus <= M y_g ; c_g >= -M (1 - y_g)
        gcol = y[gens]
        gh = gcol >= 0
        n_g = len(gens)
        rows = np.concatenate([np.arange(n_g), np.arange(n_g), np.flatnonzero(gh)])
        b.add_rows(rows, np.concatenate([c, pi[pm.gen_bus[gens]], gcol[gh]]),
                   np.concatenate([np.ones(n_g), -np.ones(n_g), -M * np.ones(gh.sum())]), -np.inf, 0.0, n_g)
        gi = np.flatnonzero(gh)
        b.add_rows(np.concatenate([np.arange(len(gi))] * 2), np.concatenate([c[gi], gcol[gi]]),
                   np.concatenate([np.ones(len(gi)), -M * np.ones(len(gi))]), -M, np.inf, len(gi))
        # loads: e_d - pi_bus <= w_d
        n_l = len(loads)
        b.add_rows(np.concatenate([np.arange(n_l)] * 2), np.concatenate([e, pi[pm.load_bus[loads]]]),
                   np.concatenate([np.ones(n_l), -np.ones(n_l)]), -np.inf, self.weights[loads], n_l)

    def _twins(self, keep: np.ndarray) -> np.ndarray:
        """Pairs (j, j') of positions in ``keep`` whose assets are single branches with the same ends,
        susceptance and rating (parallel circuits): swapping them changes nothing."""
        pm, seen, out = self.pm, {}, []
        for j, a in enumerate(keep):
            m = self.assets[a].masks
            if len(m.branch_out) != 1 or len(m.gen_out) or len(m.bus_dead):
                continue
            br = int(m.branch_out[0])
            key = (min(pm.br_from[br], pm.br_to[br]), max(pm.br_from[br], pm.br_to[br]), round(float(pm.bw[br]), 9),
                   round(float(pm.lp_limit[br]), 9), round(float(pm.f_shift[br]), 9))
            if key in seen:
                out.append((seen[key], j))
            seen[key] = j
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    @staticmethod
    def _or_columns(b: _Builder, member: sp.csr_matrix, z: np.ndarray) -> np.ndarray:
        """Per element, a [0, 1] column equal to the OR of the z of the assets holding it (-1: none does)."""
        counts = np.diff(member.indptr)
        hit = np.flatnonzero(counts > 0)
        out = np.full(member.shape[0], -1, dtype=np.int64)
        if not len(hit):
            return out
        cols = b.add_cols(len(hit), 0.0, 1.0)
        out[hit] = cols
        sub = member[hit].tocoo()
        # x >= z_a for each holder
        b.add_rows(np.concatenate([np.arange(sub.nnz)] * 2), np.concatenate([cols[sub.row], z[sub.col]]),
                   np.concatenate([np.ones(sub.nnz), -np.ones(sub.nnz)]), 0.0, np.inf, sub.nnz)
        # x <= sum of its holders' z
        b.add_rows(np.concatenate([np.arange(len(hit)), sub.row]), np.concatenate([cols, z[sub.col]]),
                   np.concatenate([np.ones(len(hit)), -np.ones(sub.nnz)]), -np.inf, 0.0, len(hit))
        return out

    # -- solve -------------------------------------------------------------------------------------------------
    def solve_once(self, k: int, keep: np.ndarray, big_m: float, time_limit_s: float | None = None,
                   start: list[int] | None = None) -> MILPResult:
        import time

        import highspy

        t0 = time.perf_counter()
        b, cols = self.build(k, keep, big_m * self.w_max)
        a = b.matrix()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = b.n, b.m
        lp.col_cost_ = np.concatenate(b.cost)
        lp.col_lower_, lp.col_upper_ = np.concatenate(b.lo), np.concatenate(b.hi)
        lp.row_lower_, lp.row_upper_ = np.concatenate(b.rlo), np.concatenate(b.rhi)
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in np.concatenate(b.integer)]
        h = _quiet_highs(highspy)
        h.setOptionValue("mip_rel_gap", 1e-5)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", float(max(time_limit_s, 0.1)))
        h.passModel(lp)
        if start:
            pos = {int(p): j for j, p in enumerate(keep)}
            idx = [int(cols["z"][pos[p]]) for p in start if p in pos]
            h.setSolution(len(idx), np.array(idx, dtype=np.int32), np.ones(len(idx)))
        h.run()
        return self._result(h, keep, cols, big_m, time.perf_counter() - t0)

    def _result(self, h, keep, cols, big_m: float, dt: float) -> MILPResult:
        info = h.getInfo()
        status = h.modelStatusToString(h.getModelStatus())
        if info.primal_solution_status < 2:     # no feasible point: the empty attack is always feasible
            return MILPResult([], self.lost_weighted, float("inf"), float("inf"), status, big_m, dt, False)
        x = np.asarray(h.getSolution().col_value)
        attack = [int(keep[j]) for j in np.flatnonzero(x[cols["z"]] > 0.5)]
        obj = float(info.objective_function_value)
        bound = float(info.mip_dual_bound)
        gap = max(0.0, (bound - obj) / obj) if obj > 1e-9 else (0.0 if bound <= 1e-6 else float("inf"))
        if h.getModelStatus() == highspy_optimal():
            gap = min(gap, 1e-6)
        prices = np.concatenate([x[cols[n]] for n in ("pi", "mu", "a", "b", "c", "e")])
        at_bound = bool(len(prices) and np.abs(prices).max() >= AT_BOUND * big_m * self.w_max)
        return MILPResult(attack, obj + self.lost_weighted, bound + self.lost_weighted, gap, status, big_m, dt,
                          at_bound)


def highspy_optimal():
    import highspy

    return highspy.HighsModelStatus.kOptimal

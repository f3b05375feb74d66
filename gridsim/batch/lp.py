"""The optimal load-shedding LP of ``gridsim.solvers.optimal`` on the whole prepared model, warm-started.

One HiGHS model (``highspy``) is built once for the prepared state; a case only changes bounds, and HiGHS
re-solves from the previous optimal basis (dual simplex), which is what makes thousands of LPs affordable.
Variables ``[theta, f, pg, shed]`` (bus angles, branch flows, unit output, load shed), rows::

    f_k - bw_k * (theta_from - theta_to) = f0_k          (flow of every branch; free row when it is out)
    A.T @ f - Cg @ pg - Cd @ shed = -Cd @ demand        (nodal balance)

The islands the optimal response re-dispatches (those with an overload) have ``0 <= pg <= capacity``,
``0 <= shed <= demand`` and ``|f| <= rating``; every other island is held at its balance (``pg`` and ``shed``
fixed, flows free), so the LP separates into the same per-island problems ``optimal_shed`` solves: the
minimum (priority-weighted) shed per island is the same number. Each island has one angle fixed at 0.

Repeatable answers: where the optimum is not unique (loads of one priority class whose shed is interchangeable
for the network), the vertex HiGHS lands on depends on the basis it starts from, so a warm start from the case
solved before would make a case's split of its shed depend on which cases one worker happened to solve before it.
``anchor`` solves the prepared state once; every later solve starts from that optimal basis (HiGHS's own state
cleared), so a case's answer is a function of the case alone: the same on any number of workers, in any order
(tests/test_salvo.py). Measured on the shipped salvo's draws (300 draws, one process): 3.3-3.5 s of CPU against
2.0-2.2 s warm from the last case and ~70 % of a cold start; a new basis alone (without clearing HiGHS's state),
or with its random seed or cost perturbation reset, does not make the answers repeatable (checked).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridsim.solvers.optimal import COST_EPSILON
from gridsim.solvers.response import PRIORITY_WEIGHTS


@dataclass
class LPResult:
    ok: bool
    status: str
    shed: np.ndarray       # per load (MW)
    dispatch: np.ndarray   # per gen (MW)


class ShedLP:
    """The warm-started shedding LP of a ``PreparedModel``; ``solve`` takes one case's bounds."""

    def __init__(self, pm, shedding: str):
        import highspy

        self.pm = pm
        n, m, g, l_ = pm.n_bus, pm.n_branch, len(pm.gen_bus), len(pm.load_bus)
        self.offsets = (0, n, n + m, n + m + g, n + m + g + l_)
        a = self._matrix(pm, n, m, g, l_).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        self.weights = weights = shed_weights(pm, shedding)
        self.cost = np.concatenate([np.zeros(n + m + g), weights])
        lp.col_cost_ = self.cost.copy()
        self.col_lo, self.col_hi = np.zeros(a.shape[1]), np.zeros(a.shape[1])
        self.row_lo = np.concatenate([pm.f_shift, -np.bincount(pm.load_bus, weights=pm.demand, minlength=n)])
        self.row_hi = self.row_lo.copy()
        self.row_fixed = self.row_lo[:m].copy()
        lp.col_lower_, lp.col_upper_ = self.col_lo, self.col_hi
        lp.row_lower_, lp.row_upper_ = self.row_lo, self.row_hi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        self.h = _quiet_highs(highspy)
        self.h.passModel(lp)
        self._ok = highspy.HighsModelStatus.kOptimal
        self.inf = highspy.kHighsInf
        self.n_solves = 0
        self._anchor = None     # the basis every solve starts from (``anchor``), or None: warm from the last

    @staticmethod
    def _matrix(pm, n: int, m: int, g: int, l_: int) -> sp.csr_matrix:
        rows = np.arange(m)
        flow = sp.csr_matrix((np.concatenate([-pm.bw, pm.bw]),
                              (np.concatenate([rows, rows]), np.concatenate([pm.br_from, pm.br_to]))),
                             shape=(m, n))
        inc_t = sp.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                               (np.concatenate([pm.br_from, pm.br_to]), np.concatenate([rows, rows]))),
                              shape=(n, m))
        cg = sp.csr_matrix((-np.ones(g), (pm.gen_bus, np.arange(g))), shape=(n, g))
        cd = sp.csr_matrix((-np.ones(l_), (pm.load_bus, np.arange(l_))), shape=(n, l_))
        top = sp.hstack([flow, sp.identity(m), sp.csr_matrix((m, g + l_))])
        bottom = sp.hstack([sp.csr_matrix((n, n)), inc_t, cg, cd])
        return sp.vstack([top, bottom], format="csr")

    def solve(self, st, lp_islands: np.ndarray, gen_on: np.ndarray, limit: np.ndarray) -> LPResult:
        """Re-dispatch and shed the islands ``lp_islands`` (bool per island label) of the case state ``st``
        (``gridsim.batch.state.CaseState``), all other islands held; ``limit`` per branch (MW, inf: none)."""
        pm, inf = self.pm, self.inf
        n, m, g = pm.n_bus, pm.n_branch, len(pm.gen_bus)
        lo, hi = np.empty_like(self.col_lo), np.empty_like(self.col_hi)
        # angles: one reference per island (and every bus out of service) at 0
        _, ref = np.unique(st.labels, return_index=True)
        lo[:n], hi[:n] = -inf, inf
        lo[ref], hi[ref] = 0.0, 0.0
        lo[:n][st.labels < 0] = hi[:n][st.labels < 0] = 0.0
        # flows: limited inside re-dispatched islands, free elsewhere, zero when out
        lab = st.labels[pm.br_from]
        in_lp = st.branch_on & (lab >= 0) & lp_islands[np.maximum(lab, 0)]
        lim = np.where(in_lp & np.isfinite(limit), limit, inf)
        lim = np.where(st.branch_on, lim, 0.0)
        lo[n:n + m], hi[n:n + m] = -lim, lim
        # units and loads: free inside re-dispatched islands, held at their balance elsewhere
        gbus_lab = st.labels[pm.gen_bus]
        g_free = gen_on & (gbus_lab >= 0) & lp_islands[np.maximum(gbus_lab, 0)]
        lo[n + m:n + m + g] = np.where(g_free, 0.0, st.dispatch)
        hi[n + m:n + m + g] = np.where(g_free, np.maximum(np.nan_to_num(st.gen_cap), 0.0), st.dispatch)
        l_free = (st.load_island >= 0) & lp_islands[np.maximum(st.load_island, 0)]
        held = pm.demand - st.served
        lo[n + m + g:] = np.where(l_free, 0.0, held)
        hi[n + m + g:] = np.where(l_free, pm.demand, held)
        self._unit_costs(st, lp_islands, g_free)
        row_lo = np.where(st.branch_on, self.row_fixed, -inf)
        row_hi = np.where(st.branch_on, self.row_fixed, inf)
        self._update(lo, hi, row_lo, row_hi)
        if self._anchor is not None:
            self.h.clearSolver()
            self.h.setBasis(self._anchor)
        self.h.run()
        self.n_solves += 1
        status = self.h.getModelStatus()
        if status != self._ok:
            return LPResult(False, self.h.modelStatusToString(status), np.full(len(pm.demand), np.nan),
                            np.full(g, np.nan))
        x = np.asarray(self.h.getSolution().col_value)
        shed = np.clip(x[n + m + g:], 0.0, pm.demand)
        return LPResult(True, "optimal", shed, np.clip(x[n + m:n + m + g], 0.0, None))

    def anchor(self, st, gen_on: np.ndarray, limit: np.ndarray) -> bool:
        """Solve the state ``st`` (the prepared model's base state) with every island re-dispatched and start
        every later ``solve`` from its optimal basis (see the module docstring); False, and solves stay warm from
        the last case, if that LP has no optimum."""
        self._anchor = None
        if not self.solve(st, np.ones(len(st.energised), dtype=bool), gen_on, limit).ok:
            return False
        self._anchor = self.h.getBasis()
        return True

    def _unit_costs(self, st, lp_islands: np.ndarray, g_free: np.ndarray) -> None:
        pm = self.pm
        n, m, g = pm.n_bus, pm.n_branch, len(pm.gen_bus)
        cost = unit_costs(pm, self.weights, st, lp_islands, g_free)
        new = self.cost.copy()
        new[n + m:n + m + g] = cost
        changed = np.flatnonzero(new != self.cost)
        if len(changed):
            self.h.changeColsCost(len(changed), changed.astype(np.int32), new[changed])
            self.cost = new

    def _update(self, lo, hi, row_lo, row_hi) -> None:
        """Pass only the bounds that changed, so HiGHS keeps its basis (warm start)."""
        c = np.flatnonzero((lo != self.col_lo) | (hi != self.col_hi))
        if len(c):
            self.h.changeColsBounds(len(c), c.astype(np.int32), lo[c], hi[c])
            self.col_lo[c], self.col_hi[c] = lo[c], hi[c]
        m = self.pm.n_branch
        r = np.flatnonzero((row_lo != self.row_lo[:m]) | (row_hi != self.row_hi[:m]))
        if len(r):
            self.h.changeRowsBounds(len(r), r.astype(np.int32), row_lo[r], row_hi[r])
            self.row_lo[r], self.row_hi[r] = row_lo[r], row_hi[r]


def shed_weights(pm, shedding: str) -> np.ndarray:
    """Weight per load of a MW shed: 1, or by priority (``PRIORITY_WEIGHTS``) with ``shedding: priority``."""
    weights = np.ones(len(pm.load_bus)) if shedding != "priority" else \
        np.array([PRIORITY_WEIGHTS.get(int(p), np.nan) for p in pm.priority])
    if np.isnan(weights).any():
        raise ValueError(f"no shedding weight for load priorities outside {sorted(PRIORITY_WEIGHTS)}")
    return weights


def unit_costs(pm, weights: np.ndarray, st, lp_islands: np.ndarray, g_free: np.ndarray) -> np.ndarray:
    """The merit-order tie-break of ``optimal_shed`` (``_gen_cost``), island by island: unit costs shifted
    to >= 0 and scaled so the dearest unit costs ``COST_EPSILON`` times the island's cheapest MW of shed."""
    cost = np.zeros(len(pm.gen_bus))
    gbus_lab = st.labels[pm.gen_bus]
    lbus_lab = st.labels[pm.load_bus]
    for isl in np.flatnonzero(lp_islands):
        gens = np.flatnonzero(g_free & (gbus_lab == isl))
        if not len(gens):
            continue
        w = weights[pm.load_on & (lbus_lab == isl)]
        c = pm.gen_cost[gens] - min(0.0, float(pm.gen_cost[gens].min()))
        top = float(c.max())
        cost[gens] = c * (COST_EPSILON * (float(w.min()) if len(w) else 1.0) / top) if top > 0 else c
    return cost


def _quiet_highs(highspy):
    """A silent ``highspy.Highs``: its first construction in a process prints a banner from C++ to stdout
    (the engine prints nothing), so stdout's file descriptor points at /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h

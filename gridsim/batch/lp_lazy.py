"""The shedding LP of ``gridsim.batch.lp.ShedLP`` with only the branch limits that bind (lazy rows).

Per case, the LP has only the re-dispatched islands' units and loads as columns (``pg``, ``shed``), one balance
row per island (``sum pg + sum shed = sum demand``) and, at first, a limit row only for the branches overloaded
before the response, and for those whose limits bound at the previous case's optimum. Its solution's flows are
computed on the whole case network (what the solution moved, through the factorisation of
``gridsim.batch.dcflow``); every branch past its limit gets its row (post-outage PTDF, see ``_ptdf_rows``) and
HiGHS re-solves from the previous basis, until no limit is violated. A case with the same columns and islands as
the one before (most single-branch cases that keep the grid whole) starts from that case's model and basis, its
limit rows deleted. The last LP is a relaxation of the full LP
whose optimum is feasible for the full LP, hence an optimum of it: the same minimum (priority-weighted) shed.
tests/test_batch_fast.py keeps it equal to ``simulate()`` and counts the rows it adds.
"""

from __future__ import annotations

import numpy as np

from gridsim.batch.dcflow import SINGULAR
from gridsim.batch.lp import LPResult, ShedLP, _quiet_highs, shed_weights, unit_costs

#: a flow past its limit by more than this (MW) adds the branch's row
VIOLATION_MW = 1e-7
#: a limit row binds when the flow is within this of the limit (MW)
BINDING_MW = 1e-6
#: re-solves per case before giving up on the lazy rows and solving the full LP (never reached in the tests)
MAX_ROUNDS = 50


class LazyShedLP:
    """Same interface and optimum as ``ShedLP``; ``rows_added`` counts the limit rows of the last ``solve``."""

    def __init__(self, pm, shedding: str, flow=None):
        import highspy

        from gridsim.batch.dcflow import DCFlow

        self.pm, self.shedding = pm, shedding
        self.flow = flow if flow is not None else DCFlow(pm)
        self.weights = shed_weights(pm, shedding)
        self.h = _quiet_highs(highspy)
        self.h.setOptionValue("presolve", "off")   # the LPs are small; presolve costs more than it saves
        self._highspy = highspy
        self._full: ShedLP | None = None
        self._key: tuple | None = None     # columns and islands of the model HiGHS holds
        self._last = None                  # its column bounds, costs and balance rows' demand
        #: the branches whose limits bind at the last case's optimum: the next case starts with their rows too
        #: (cases of one batch tend to strain the same corridors; case118 single branches: 31 solves instead of 48)
        self._binding = np.zeros(0, dtype=np.int64)
        self.n_solves = 0
        self.n_cases = 0            # calls of solve
        self.rows_added = 0         # limit rows of the last call
        self.max_rows_added = 0
        self.total_rows_added = 0

    def solve(self, st, lp_islands: np.ndarray, gen_on: np.ndarray, limit: np.ndarray,
              flows: np.ndarray | None = None) -> LPResult:
        """``ShedLP.solve``; ``flows``: the case's flows before the response when the caller has them."""
        pm, flow = self.pm, self.flow
        gl = st.labels[pm.gen_bus]
        g_free = gen_on & (gl >= 0) & lp_islands[np.maximum(gl, 0)]
        gens = np.flatnonzero(g_free)
        loads = np.flatnonzero((st.load_island >= 0) & lp_islands[np.maximum(st.load_island, 0)])
        lab = st.labels[pm.br_from]
        lim = np.where(st.branch_on & (lab >= 0) & lp_islands[np.maximum(lab, 0)], limit, np.inf)
        out = np.flatnonzero(~st.branch_on)
        f0 = flow.outage_flows(flow.flows(st.injection(pm)), out) if flows is None else flows
        self._build(st, lp_islands, g_free, gens, loads)
        self._ctx = (gens, loads, out, self._outage_map(out), f0, st)
        rows = np.zeros(0, dtype=np.int64)
        first = np.abs(f0) > lim + VIOLATION_MW
        first[self._binding[np.isfinite(lim[self._binding])]] = True
        new = np.flatnonzero(first)
        for _ in range(MAX_ROUNDS):
            if len(new):
                self._add_rows(new, lim)
                rows = np.concatenate([rows, new])
            self.h.run()
            self.n_solves += 1
            status = self.h.getModelStatus()
            if status != self._highspy.HighsModelStatus.kOptimal:
                return self._result(False, self.h.modelStatusToString(status), None, rows)
            x = np.asarray(self.h.getSolution().col_value)
            flows = np.abs(self._flows_of(x))
            hit = flows > lim + VIOLATION_MW
            hit[rows] = False
            new = np.flatnonzero(hit)
            if not len(new):
                self._binding = rows[flows[rows] >= lim[rows] - BINDING_MW]
                return self._result(True, "optimal", x, rows)
        if self._full is None:       # safety net: the full LP (same optimum)
            self._full = ShedLP(pm, self.shedding)
        return self._full.solve(st, lp_islands, gen_on, limit)

    # -- the model of one case ---------------------------------------------------------------------------------
    def _build(self, st, lp_islands, g_free, gens, loads) -> None:
        pm, hs = self.pm, self._highspy
        lp = hs.HighsLp()
        ng, nl = len(gens), len(loads)
        lp.num_col_ = ng + nl
        cost = unit_costs(pm, self.weights, st, lp_islands, g_free)
        # one balance row per re-dispatched island: sum pg + sum shed = its demand
        isl = np.flatnonzero(lp_islands)
        row_of = np.full(len(lp_islands), -1)
        row_of[isl] = np.arange(len(isl))
        col_row = np.concatenate([row_of[st.labels[pm.gen_bus[gens]]], row_of[st.load_island[loads]]])
        demand = np.bincount(row_of[st.load_island[loads]], weights=pm.demand[loads], minlength=len(isl))
        lo = np.zeros(ng + nl)
        hi = np.concatenate([np.maximum(np.nan_to_num(st.gen_cap[gens]), 0.0), pm.demand[loads]])
        cost = np.concatenate([cost[gens], self.weights[loads]])
        key = (gens.tobytes(), loads.tobytes(), col_row.tobytes())
        last, self._last = self._last, (lo, hi, cost, demand)
        if key == self._key and last is not None:   # the same columns and islands: keep the basis (warm start)
            self._reuse(len(isl), lo, hi, cost, demand, last)
            return
        self._key = key
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
        lp.num_row_ = len(isl)
        lp.row_lower_ = lp.row_upper_ = demand
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.arange(ng + nl + 1, dtype=np.int32)
        lp.a_matrix_.index_ = col_row.astype(np.int32)
        lp.a_matrix_.value_ = np.ones(ng + nl)
        self.h.passModel(lp)

    def _reuse(self, n_balance: int, lo, hi, cost, demand, last) -> None:
        """The last case's model with its limit rows deleted and this case's bounds and costs (passed to HiGHS
        only where they changed: a single-branch case that keeps the grid whole has the base state's)."""
        h, n = self.h, self.h.getNumRow()
        if n > n_balance:
            h.deleteRows(n - n_balance, np.arange(n_balance, n, dtype=np.int32))
        last_lo, last_hi, last_cost, last_demand = last
        cols = np.flatnonzero((lo != last_lo) | (hi != last_hi)).astype(np.int32)
        if len(cols):
            h.changeColsBounds(len(cols), cols, lo[cols], hi[cols])
        cols = np.flatnonzero(cost != last_cost).astype(np.int32)
        if len(cols):
            h.changeColsCost(len(cols), cols, cost[cols])
        rows = np.flatnonzero(demand != last_demand).astype(np.int32)
        if len(rows):
            h.changeRowsBounds(len(rows), rows, demand[rows], demand[rows])

    def _outage_map(self, out: np.ndarray):
        """``(C, M, P_out)``: the flow change on every branch for injections is ``P + C @ M @ P_out`` (the
        compensation of ``DCFlow.outage_flows`` as a linear map), or None without outages."""
        if not len(out):
            return None
        cols = self.flow.ptdf_columns(out)
        lhs = np.eye(len(out)) - cols[out]
        if len(out) == 1:
            m = np.zeros((1, 1)) if abs(lhs[0, 0]) < SINGULAR else 1.0 / lhs
        else:
            m = np.linalg.pinv(lhs, rcond=SINGULAR)
        return cols, m, self._ptdf_rows(out)

    def _ptdf_rows(self, branches: np.ndarray) -> np.ndarray:
        """Rows of the base bus PTDF (MW on each branch per MW injected at each bus)."""
        fl = self.flow
        if fl.ptdf_bus is not None:
            return fl.ptdf_bus[branches]
        rhs = fl._inc_t[:, branches].toarray()
        rhs[fl.grounded] = 0.0
        rows = (fl.lu.solve(rhs) * fl.bw[branches][None, :]).T
        rows[:, fl.grounded] = 0.0
        return rows

    def _add_rows(self, branches: np.ndarray, lim: np.ndarray) -> None:
        gens, loads, out, omap, f0, st = self._ctx
        pm = self.pm
        p = self._ptdf_rows(branches)
        if omap is not None:
            cols, m, p_out = omap
            p = p + cols[branches] @ (m @ p_out)
        a = np.concatenate([p[:, pm.gen_bus[gens]], p[:, pm.load_bus[loads]]], axis=1)
        x0 = np.concatenate([st.dispatch[gens], pm.demand[loads] - st.served[loads]])
        const = f0[branches] - a @ x0
        lo, hi = -lim[branches] - const, lim[branches] - const
        nz = a != 0.0
        starts = np.concatenate([[0], np.cumsum(nz.sum(axis=1))[:-1]]).astype(np.int32)
        idx = np.nonzero(nz)[1].astype(np.int32)
        self.h.addRows(len(branches), lo, hi, int(nz.sum()), starts, idx, a[nz])

    def _flows_of(self, x: np.ndarray) -> np.ndarray:
        """The case's flows (after its outages) with the LP's solution ``x``: its starting flows plus the flows
        of what the solution moved (``DCFlow.injection_flows``, compensated for the outages as
        ``DCFlow.outage_flows`` does: both are linear in the injections)."""
        gens, loads, out, omap, f0, st = self._ctx
        pm = self.pm
        ng = len(gens)
        x0 = np.concatenate([st.dispatch[gens], pm.demand[loads] - st.served[loads]])
        xc = np.concatenate([np.clip(x[:ng], 0.0, None), np.clip(x[ng:], 0.0, pm.demand[loads])])
        moved = np.flatnonzero(xc != x0)
        if not len(moved):
            return f0
        buses = np.concatenate([pm.gen_bus[gens], pm.load_bus[loads]])[moved]
        df = self.flow.injection_flows(np.bincount(buses, weights=(xc - x0)[moved], minlength=pm.n_bus))
        if omap is not None:
            ocols, m, _ = omap
            df = df + ocols @ (m @ df[out])
        f = f0 + df
        f[out] = 0.0
        return f

    def _apply(self, x: np.ndarray):
        gens, loads, _, _, _, st = self._ctx
        disp, served = st.dispatch.copy(), st.served.copy()
        disp[gens] = np.clip(x[:len(gens)], 0.0, None)
        served[loads] = self.pm.demand[loads] - np.clip(x[len(gens):], 0.0, self.pm.demand[loads])
        return disp, served

    def _result(self, ok: bool, status: str, x, rows: np.ndarray) -> LPResult:
        self.rows_added = len(rows)
        self.n_cases += 1
        self.max_rows_added = max(self.max_rows_added, len(rows))
        self.total_rows_added += len(rows)
        pm = self.pm
        if not ok:
            return LPResult(False, status, np.full(len(pm.demand), np.nan), np.full(len(pm.gen_bus), np.nan))
        disp, served = self._apply(x)
        return LPResult(True, status, pm.demand - served, disp)


"""pandapower's own AC model of a prepared state, solved per case with lightsim2grid's Newton solver.

The branch admittances, tap ratios, transformer models and shunts come from pandapower's conversion to its
internal (PYPOWER) format, the code ``pandapower.runpp`` runs, and the admittance matrix from pandapower's
``makeYbus``; only the Newton iterations run in lightsim2grid (``NRSing_KLU``: one slack, KLU), the solver
pandapower itself calls with ``lightsim2grid=True``. So a converged case has pandapower's voltages (to the
solver tolerance, 1e-8 p.u. of mismatch), and branch currents and loadings are computed as pandapower computes
them (``results_branch``). lightsim2grid's own pandapower converter is not used: it drops transformers' rated
voltages off the bus voltages (a 115 kV winding on a 110 kV bus), 5 % of voltage on the built-in grid.

A case is the prepared state with some branches out (their admittance stamps subtracted), shunts changed
(reactors that follow the line charging), and per energised island one slack, its units' voltage set-points
and injections. Each energised island is solved on its own (other buses are neither PV nor PQ, so they are
held and, being in other components, play no part), from pandapower's ``init="dc"`` start (DC angles from the
slack, 1 p.u. at PQ buses, set-points at units). Numba plays no part (no compile time on one-shot runs).
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp

#: Newton settings of ``gridsim.solvers.powerflow._run`` (pandapower's tolerance_mva default)
MAX_ITERATION, TOLERANCE_PU = 30, 1e-8
SQRT3 = np.sqrt(3.0)


def _ac_ppc(net):
    """The bus, branch and shunt part of pandapower's ``_pd2ppc`` for an AC power flow, on a shallow copy (the DC
    model's builder in AC mode)."""
    from gridsim.solvers.dcmodel import _bus_branch_ppc

    return _bus_branch_ppc(net, ac={"tolerance_mva": TOLERANCE_PU, "max_iteration": MAX_ITERATION})


class ACNetwork:
    """The AC model of a ``PreparedModel`` (``gridsim.batch.model``): its model buses and branches are the
    same as the DC model's (pandapower's internal buses, in-service branches)."""

    def __init__(self, pm):
        from pandapower.pypower.idx_brch import BR_STATUS, F_BUS, T_BUS
        from pandapower.pypower.idx_bus import BASE_KV, BS, GS
        from pandapower.pypower.makeYbus import makeYbus

        net = pm.damaged
        _check_loads(net)
        ppc, work = _ac_ppc(net)
        self.base_mva = float(ppc["baseMVA"])
        if not np.array_equal(np.asarray(work["_pd2ppc_lookups"]["bus"]), pm.bus_lookup):
            raise ValueError("the AC and DC models number buses differently; use SimulateEvaluator")
        br = ppc["branch"]
        rows = self._model_rows(pm, work["_pd2ppc_lookups"]["branch"], br.shape[0])
        branch = br[rows].copy()
        branch[:, BR_STATUS] = 1
        f, t = branch[:, F_BUS].real.astype(np.int64), branch[:, T_BUS].real.astype(np.int64)
        if not (np.array_equal(f, pm.br_from) and np.array_equal(t, pm.br_to)):
            raise ValueError("the AC and DC models order branches differently; use SimulateEvaluator")
        bus = ppc["bus"].copy()
        bus[:, GS] = bus[:, BS] = 0.0     # shunts are added per case (reactors follow the line charging)
        n = pm.n_bus
        self.ybus_branches, self.yf, self.yt = (m.tocsr() for m in makeYbus(self.base_mva, bus, branch))
        self.y_ends = sp.vstack([self.yf, self.yt], format="csr")      # both ends' currents in one product
        self.n_bus = n
        self.f, self.t = f, t
        self.base_kv = bus[:, BASE_KV].real
        self._kv_from, self._kv_to = self.base_kv[f], self.base_kv[t]
        self._shunts(net, ppc, pm)
        self._ratings(pm, net)
        self._units(pm, net)
        self._pattern()
        self.b_dc = pm.dc.b_pu
        self.shift_mw = pm.f_shift

    # -- preparation -------------------------------------------------------------------------------------
    @staticmethod
    def _model_rows(pm, lookup: dict, n_rows: int) -> np.ndarray:
        """ppc branch row of every model branch (by element table and index)."""
        where = {}
        for element, (start, end) in lookup.items():
            if element not in ("line", "trafo"):
                continue
            idx = pm.damaged[element].index.to_numpy()
            where.update({(element, int(i)): start + k for k, i in enumerate(idx)})
        try:
            return np.array([where[(str(k), int(i))] for k, i in zip(pm.branch_table, pm.dc.branch_index)],
                            dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"the AC model has no branch {exc}; use SimulateEvaluator") from None

    def _shunts(self, net, ppc, pm) -> None:
        """Per shunt: model bus, reactive power at 1 p.u. (MVAr, pandapower's ``q_mvar * step * v_ratio``), and
        the same for active power; checked against pandapower's own bus shunts."""
        from pandapower.pypower.idx_bus import BS, GS

        sh = net.shunt
        if "step_dependency_table" in sh and sh["step_dependency_table"].fillna(False).astype(bool).any():
            raise ValueError("the fast AC engine does not model step-dependent shunts; use SimulateEvaluator")
        self.shunt_index = sh.index.to_numpy()
        self.shunt_bus = pm.bus_lookup[sh["bus"].to_numpy(dtype=np.int64)] if len(sh) else np.zeros(0, int)
        vn = sh["vn_kv"].astype(float).to_numpy() if "vn_kv" in sh else np.full(len(sh), np.nan)
        bus_vn = net.bus["vn_kv"].astype(float).reindex(sh["bus"]).to_numpy()
        vn = np.where(np.isnan(vn), bus_vn, vn)
        step = sh["step"].astype(float).to_numpy() if "step" in sh else np.ones(len(sh))
        self.shunt_scale = step * (self.base_kv[self.shunt_bus] / vn) ** 2 if len(sh) else np.zeros(0)
        self.shunt_p = sh["p_mw"].astype(float).to_numpy() * self.shunt_scale if len(sh) else np.zeros(0)
        self.shunt_q0 = np.where(sh["in_service"].astype(bool).to_numpy(), sh["q_mvar"].astype(float).to_numpy(),
                                 0.0) if len(sh) else np.zeros(0)
        mine = self.shunt_y(self.shunt_q0) * self.base_mva
        theirs = ppc["bus"][:, GS].real + 1j * ppc["bus"][:, BS].real
        if not np.allclose(mine, theirs, atol=1e-9, rtol=1e-12):
            raise ValueError("shunts differ from pandapower's model; use SimulateEvaluator")

    def shunt_y(self, q_mvar: np.ndarray) -> np.ndarray:
        """Per model bus, the shunt admittance (p.u.) of shunts with reactive power ``q_mvar`` (0: off)."""
        on = q_mvar != 0
        y = (self.shunt_p * on - 1j * q_mvar * self.shunt_scale) / self.base_mva
        return np.bincount(self.shunt_bus, weights=y.real, minlength=self.n_bus) + \
            1j * np.bincount(self.shunt_bus, weights=y.imag, minlength=self.n_bus)

    def _ratings(self, pm, net) -> None:
        """Per model branch: the current (kA) at each end that reads 100 % of the scenario's rating, as
        pandapower's loading (lines: ``max_i_ka * df * parallel``; transformers: rated current at each
        winding's rated voltage, ``sn_mva * df * parallel``) rescaled by ``gridsim.solvers.ratings.Ratings``."""
        from gridsim.solvers.ratings import Ratings

        ratings = Ratings.of(net, getattr(pm.scenario, "rating", "rate_a"),
                             getattr(pm.scenario, "emergency_factor", 1.0))
        m = pm.n_branch
        self.i_max_from, self.i_max_to = np.full(m, np.inf), np.full(m, np.inf)
        self.is_line = pm.branch_table == "line"
        for table in ("line", "trafo"):
            pos = np.flatnonzero(pm.branch_table == table)
            if not len(pos):
                continue
            df = net[table].loc[pm.dc.branch_index[pos]]
            scale = getattr(ratings, f"{table}_scale").reindex(df.index).to_numpy()
            if table == "line":
                imax = df["max_i_ka"].to_numpy(float) * df["df"].to_numpy(float) * df["parallel"].to_numpy(float)
                a = b = imax / scale
            else:
                sn = df["sn_mva"].to_numpy(float) * df["df"].to_numpy(float) * df["parallel"].to_numpy(float)
                a = sn / (SQRT3 * df["vn_hv_kv"].to_numpy(float)) / scale
                b = sn / (SQRT3 * df["vn_lv_kv"].to_numpy(float)) / scale
            self.i_max_from[pos] = np.where(a > 0, a, np.inf)
            self.i_max_to[pos] = np.where(b > 0, b, np.inf)
        # pandapower's rating for the "charging" test of gridsim.solvers.limits (|P| share of the line rating)
        from gridsim.solvers.dcmodel import _nominal_rating

        self.line_rating_mw = np.full(m, np.inf)
        pos = np.flatnonzero(self.is_line)
        if len(pos):
            rows = net.line.index.get_indexer(pm.dc.branch_index[pos])
            nominal = _nominal_rating(net, "line")[rows]
            scale = ratings.line_scale.reindex(net.line.index[rows]).to_numpy()
            self.line_rating_mw[pos] = nominal / scale

    def _units(self, pm, net) -> None:
        gen = net.gen
        self.gen_vm = gen["vm_pu"].astype(float).to_numpy()
        on = pm.gen_on
        vm_at = {}
        for b, v in zip(pm.gen_bus[on], self.gen_vm[on]):
            if vm_at.setdefault(int(b), v) != v:
                raise ValueError("units at one bus with different voltage set-points; use SimulateEvaluator")
        load = net.load
        p = load["p_mw"].astype(float).to_numpy()
        q = load["q_mvar"].astype(float).to_numpy()
        self.load_q_per_p = np.divide(q, p, out=np.zeros(len(p)), where=p > 0)
        self.load_q = q

    def _pattern(self) -> None:
        """The base admittance matrix (every model branch in, shunts as prepared) in CSC form with every diagonal
        stored, and per branch the positions of its four entries in its data: a case's matrix is then a copy of
        the data with the outaged branches' entries subtracted, on the same sparsity pattern."""
        n = self.n_bus
        y = (self.ybus_branches + sp.diags(self.shunt_y(self.shunt_q0)) + sp.diags(np.full(n, 1e-300))).tocsc()
        y.sum_duplicates()
        y.sort_indices()
        y.data[y.data == 1e-300] = 0.0      # the stored diagonal of a bus without branches or shunts
        self.ybus_base = y
        self._shunt_y0 = self.shunt_y(self.shunt_q0)
        yf, yt = self.yf.tocoo(), self.yt.tocoo()
        rows = np.concatenate([self.f[yf.row], self.t[yt.row]])
        cols = np.concatenate([yf.col, yt.col])
        self.stamp_branch = np.concatenate([yf.row, yt.row])
        self.stamp_value = np.concatenate([yf.data, yt.data])
        self.stamp_pos = self._positions(rows, cols)
        order = np.argsort(self.stamp_branch, kind="stable")
        self.stamp_branch, self.stamp_value, self.stamp_pos = (a[order] for a in (self.stamp_branch,
                                                                                  self.stamp_value, self.stamp_pos))
        self.stamp_start = np.searchsorted(self.stamp_branch, np.arange(len(self.f) + 1))
        self.stamps_distinct = np.array([len(np.unique(self.stamp_pos[a:b])) == b - a
                                         for a, b in zip(self.stamp_start[:-1], self.stamp_start[1:])], dtype=bool)
        self.diag_pos = self._positions(np.arange(n), np.arange(n))
        # per bus, the positions of its row's entries in the data (ascending column): a single bus's injection
        r = y.tocoo()           # CSC data order: by column, then row
        order = np.lexsort((r.col, r.row))
        self.row_pos = order
        self.row_col = r.col[order].astype(np.int64)
        self.row_start = np.searchsorted(r.row[order], np.arange(n + 1))

    def _positions(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        y = self.ybus_base
        pos = np.empty(len(rows), dtype=np.int64)
        for i, (r, c) in enumerate(zip(rows, cols)):
            lo, hi = y.indptr[c], y.indptr[c + 1]
            pos[i] = lo + np.searchsorted(y.indices[lo:hi], r)
        return pos

    # -- one case ----------------------------------------------------------------------------------------
    def ybus(self, branch_out: np.ndarray, shunt_q: np.ndarray | None) -> sp.csc_matrix:
        """The admittance matrix with ``branch_out`` (model branches) out and shunts at ``shunt_q``."""
        base = self.ybus_base
        data = base.data.copy()
        for k in np.asarray(branch_out, dtype=np.int64):
            sl = slice(self.stamp_start[k], self.stamp_start[k + 1])
            if self.stamps_distinct[k]:         # a branch's four entries at four positions: plain indexing
                data[self.stamp_pos[sl]] -= self.stamp_value[sl]
            else:
                np.subtract.at(data, self.stamp_pos[sl], self.stamp_value[sl])
        if shunt_q is not None and shunt_q is not self.shunt_q0 and not np.array_equal(shunt_q, self.shunt_q0):
            delta = self.shunt_y(shunt_q) - self._shunt_y0
            hit = np.flatnonzero(delta)
            data[self.diag_pos[hit]] += delta[hit]
        y = copy.copy(base)         # the base matrix's pattern arrays and flags, without scipy's format checks
        y.data = data
        return y

    def injection(self, data: np.ndarray, v: np.ndarray, bus: int) -> complex:
        """``(Y @ v)[bus]`` for the admittance matrix with ``data`` on the base pattern, from the bus's row alone."""
        lo, hi = self.row_start[bus], self.row_start[bus + 1]
        return complex(np.dot(data[self.row_pos[lo:hi]], v[self.row_col[lo:hi]]))

    def branch_currents(self, v: np.ndarray):
        """(i_from, i_to) in kA and the active power at the from end (MW) of every model branch."""
        i = self.y_ends @ v
        m = len(self.f)
        ka = self.base_mva / SQRT3
        s_f = v[self.f] * np.conj(i[:m]) * self.base_mva
        return np.abs(i[:m]) * ka / self._kv_from, np.abs(i[m:]) * ka / self._kv_to, s_f.real

    def loading_percent(self, v: np.ndarray, branch_on: np.ndarray):
        """Per model branch: loading (% of the scenario's rating, pandapower's current-based rule; 0 when out)
        and |P from| (MW)."""
        i_f, i_t, p_f = self.branch_currents(v)
        load = np.maximum(i_f / self.i_max_from, i_t / self.i_max_to) * 100.0
        return np.where(branch_on, load, 0.0), np.where(branch_on, np.abs(p_f), 0.0)


class DCStart:
    """pandapower's ``init="dc"`` angles for one case's topology: the DC power flow on the base factorisation
    (``gridsim.batch.dcflow.DCFlow``) with the case's outaged branches removed by a Woodbury update, so that the
    many runs of a case (the voltage relief's bisections) cost one triangular solve each."""

    def __init__(self, dcflow, branch_out: np.ndarray):
        self.flow = dcflow
        self.out = np.asarray(branch_out, dtype=np.int64)
        if len(self.out):
            inc = dcflow._inc_t
            if inc.format == "csc":         # the outaged columns, dense, without scipy's fancy indexing
                rhs = np.zeros((inc.shape[0], len(self.out)))
                for j, k in enumerate(self.out):
                    lo, hi = inc.indptr[k], inc.indptr[k + 1]
                    np.add.at(rhs[:, j], inc.indices[lo:hi], inc.data[lo:hi])
            else:
                rhs = inc[:, self.out].toarray()
            rhs[dcflow.grounded] = 0.0
            self.z = dcflow.lu.solve(rhs)                   # B^-1 A_O^T (grounded buses held)
            lhs = np.diag(1.0 / dcflow.bw[self.out]) - rhs.T @ self.z
            if lhs.shape == (1, 1):         # one branch: the pseudo-inverse of a scalar, without the SVD
                self.solve_x = (0.0 if lhs[0, 0] == 0 else 1.0 / lhs[0, 0]) * rhs.T
            else:
                self.solve_x = np.linalg.pinv(lhs, rcond=1e-9) @ rhs.T      # a split leaves lhs singular

    def __call__(self, p_mw: np.ndarray, refs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Angles (rad) for injections ``p_mw`` balanced in each island, each island's slack (``refs``) at 0."""
        th = self.flow.angles(p_mw)
        if len(self.out):
            th = th + self.z @ (self.solve_x @ th)
        ref_of = np.zeros(int(labels.max()) + 2)
        ref_of[labels[refs]] = th[refs]
        return th - ref_of[labels]


def _check_loads(net) -> None:
    load = net.load
    for col in ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent",
                "const_z_percent", "const_i_percent"):
        if col in load and (load[col].fillna(0.0).astype(float) != 0).any():
            raise ValueError("the fast AC engine models constant-power loads only; use SimulateEvaluator")


class Newton:
    """lightsim2grid's single-slack Newton-Raphson (KLU where built with it), one instance reused."""

    def __init__(self):
        try:
            from lightsim2grid.algorithm import NRSing_KLU as Solver
        except ImportError:      # lightsim2grid built without KLU
            from lightsim2grid.algorithm import NRSing_SparseLU as Solver
        self.solver = Solver()
        self.runs = 0
        self._system = None
        self._slack_key = None
        self._slack = None

    @staticmethod
    def solved_at(ybus, v: np.ndarray, sbus: np.ndarray, pv: np.ndarray, pq: np.ndarray) -> bool:
        """Whether ``v`` meets the tolerance already: the solver's test before its first iteration (the largest
        active mismatch at PV and PQ buses and reactive mismatch at PQ buses below ``TOLERANCE_PU``), where
        it returns ``v`` itself. Cheaper than a call that does not iterate (~0.1 ms of argument conversion and
        set-up)."""
        mis = v * np.conj(ybus @ v) - sbus
        worst = max(np.abs(mis.real[pv]).max(initial=0.0), np.abs(mis.real[pq]).max(initial=0.0),
                    np.abs(mis.imag[pq]).max(initial=0.0))
        return bool(worst < TOLERANCE_PU)

    def __call__(self, ybus, v0: np.ndarray, sbus: np.ndarray, ref: int, pv: np.ndarray, pq: np.ndarray,
                 system=None, max_iteration: int = MAX_ITERATION):
        """(V, converged) for the buses ``pv`` and ``pq`` around the slack bus ``ref``; ``system`` (optional)
        names the (matrix, buses) so that repeated solves of one system keep the solver's analysis."""
        s = self.solver
        if self._slack_key != (len(v0), ref):          # the slack and its weights, kept while they repeat
            weights = np.zeros(len(v0))
            weights[ref] = 1.0
            self._slack_key, self._slack = (len(v0), ref), (np.array([ref], dtype=np.int32), weights)
        # a new system: reset (lightsim2grid 1.2 redoes the Jacobian's structure and KLU's analysis on every call
        # from Python anyway, ~0.25 ms of a ~0.5 ms solve here, so the reset costs nothing measurable)
        if system is None or system != self._system:
            s.reset()
            self._system = system
        s.solve(ybus, v0, sbus, self._slack[0], self._slack[1], pv, pq, max_iteration, TOLERANCE_PU)
        self.runs += 1
        ok = bool(s.converged())
        # the solver's complex iterate (after an iteration, Vm * exp(1j * Va) to the bit; with none, v0 itself),
        # copied: get_V is a view of the solver's buffer, which the next solve overwrites
        return (s.get_V().copy() if ok else None), ok

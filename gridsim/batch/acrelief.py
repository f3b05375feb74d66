"""The local voltage relief of one island of a ``gridsim.batch.fast_ac_case.ACCase``: the island as
``gridsim.solvers.voltage.IslandAC`` presents it to ``relieve_voltage``, solved by the case's Newton solver."""

from __future__ import annotations

import numpy as np

from gridsim.solvers.voltage import ACState, IslandAC

#: the relief's warm starts: a converged state whose served demand scaled by at most this much (relative) is
#: the run's served demand may start it
WARM_NEAR = 0.1


class IslandRun:
    """``gridsim.solvers.voltage.IslandAC`` on this solver: ``run(served)`` re-dispatches the island in merit
    order (``IslandAC.dispatch``, the same method) and solves the island alone.

    The first run (the served demand as it is) starts from pandapower's DC start, as ``IslandAC`` does. If it
    converges, the island is not at its nose point and every later run (a lighter state: the relief only sheds)
    starts from the converged states nearest in served demand, interpolated between the two nearest (the
    bisections' states lie on a line), and from the DC start again where that does not converge, so a run is
    "not converged" only where the DC start does not converge either. If the first run does not converge, every
    run starts from the DC start (near the nose point convergence depends on the start; ``simulate()``'s runs
    start from the DC start). A run with the same served demand as an earlier one is that run (the relief asks
    for some states twice)."""

    dispatch, _merit, _totals = IslandAC.dispatch, IslandAC._merit, IslandAC._totals

    def __init__(self, case, k: int, served, dispatch):
        from gridsim.batch.fast_ac import island_namespace

        st, pm = case.st, case.pm
        isl = case.islands[k]
        self.case, self.k = case, k
        self.load_pos = np.flatnonzero(st.load_island == isl)
        self.loads = pm.load_index[self.load_pos]
        self.work = island_namespace(pm)
        self.gens = np.flatnonzero(case.gen_live & (st.gen_island == isl))
        self.cap = st.gen_cap[self.gens]
        self.cost = pm.gen_cost[self.gens]
        self.base_p = np.minimum(dispatch[self.gens], self.cap)
        self.allowance = float(case.allow[k])
        self.served, self.dispatch_all = served, dispatch
        self.buses = np.flatnonzero(case.solved & (st.labels == isl))
        self.bus_index = case.ev.pp_buses(self.buses)      # one array: every run's state has these buses
        self.runs = self.solves = 0
        self.warm: bool | None = None          # decided by the first run
        self.memo: dict[bytes, tuple] = {}     # served (bytes) -> (ACState, V)
        self._near_s: list[np.ndarray] = []     # converged runs' served demand and voltages, for warm starts
        self._near_v: list[np.ndarray] = []
        self._near_polar: list[tuple] = []       # their magnitudes and angles, for the interpolation
        self._near = None                         # _near_s as one array, made on first use
        self._load_bus = case.ev.load_pp_bus[self.load_pos]

    def load_buses(self) -> np.ndarray:
        return self._load_bus

    def bus_graph(self) -> tuple[np.ndarray, np.ndarray]:
        """(from, to) pandapower buses of the island's branches in service: ``IslandAC.bus_graph``'s edges (the
        fast engine's networks have one model bus per bus and no switches or 3-winding transformers)."""
        case, st, pm = self.case, self.case.st, self.case.pm
        isl = case.islands[self.k]
        on = np.flatnonzero(st.branch_on & (st.labels[pm.br_from] == isl) & (st.labels[pm.br_to] == isl))
        return case.ev.pp_buses(pm.br_from[on]), case.ev.pp_buses(pm.br_to[on])

    def run(self, served: np.ndarray) -> ACState:
        self.runs += 1
        key = np.ascontiguousarray(served, dtype=float).tobytes()
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self._solve(np.array(served, dtype=float))
        return got[0]

    def v_of(self, served: np.ndarray):
        """The voltages of an earlier converged run with this served demand (None if there was none)."""
        got = self.memo.get(np.ascontiguousarray(served, dtype=float).tobytes())
        return None if got is None else got[1]

    def _solve(self, served: np.ndarray) -> tuple:
        s = self.served.copy()
        s[self.load_pos] = served
        d = self.dispatch_all.copy()
        d[self.gens] = self.dispatch(served)
        self.solves += 1
        v, ok = self.case.solve(self.k, s, d, start=self._start(served) if self.warm else None)
        if self.warm is None:
            self.warm = bool(ok)
        if not ok:
            return ACState(False), None
        if self.warm:
            self._near_s.append(served)
            self._near_v.append(v)
            self._near_polar.append((np.abs(v), np.angle(v)))
            self._near = None
        mag = np.abs(v[self.buses])
        return ACState(True, mag, float(mag.min()), float(mag.max()), None, self.bus_index), v

    def _start(self, served: np.ndarray):
        """A warm start for ``served``: where it lies between two converged states on the line through their
        served demands (the relief's bisections), interpolated between the nearest such pair (L1 distance);
        else the nearest converged state if ``served`` is its served demand scaled by at most ``WARM_NEAR``;
        else None (the DC start)."""
        if not self._near_s:
            return None
        near = self._near
        if near is None:
            near = self._near = np.array(self._near_s)
        dist = np.abs(near - served).sum(axis=1)
        order = np.argsort(dist, kind="stable")
        sa, va = near[order[0]], self._near_v[order[0]]
        tol = 1e-9 * max(float(np.abs(served).sum()), 1e-9)
        # the pairs that can pass the test below, all at once (its result to rounding, with room to spare), so
        # that the exact test runs on those few only, in the same order: the same answer as testing every pair
        later = order[1:]
        steps = near[later] - sa
        t_all = (steps @ (served - sa)) / np.maximum(np.einsum("ij,ij->i", steps, steps), 1e-300)
        off = np.abs(sa + t_all[:, None] * steps - served).sum(axis=1)
        for j in later[(t_all >= -1e-6) & (t_all <= 1.0 + 1e-6) & (off <= 2.0 * tol)]:
            step = near[j] - sa
            t = float(np.dot(served - sa, step) / max(float(np.dot(step, step)), 1e-300))
            if 0.0 <= t <= 1.0 and np.abs(sa + t * step - served).sum() <= tol:
                (ma, aa), (mb, ab) = self._near_polar[order[0]], self._near_polar[j]
                vm = ma + t * (mb - ma)
                return vm * np.exp(1j * (aa + t * (ab - aa)))
        c = float(np.dot(served, sa) / max(float(np.dot(sa, sa)), 1e-300))
        if abs(c - 1.0) <= WARM_NEAR and np.abs(c * sa - served).sum() <= tol:
            return va                   # the same demand scaled (the relief's locating runs)
        return None

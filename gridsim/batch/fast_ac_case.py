"""One case of ``FastACEvaluator``: balance, AC per island, the check of ``gridsim.solvers.limits.diagnose``, and
the local voltage relief of ``gridsim.solvers.voltage`` where that is all the optimal response would do."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.batch.acnet import MAX_ITERATION
from gridsim.solvers.limits import REACTIVE_SHARE
from gridsim.solvers.powerflow import SLACK_TOLERANCE_MW
from gridsim.solvers.response import AC_ROUNDS, VOLTAGE_TRIES
from gridsim.solvers.voltage import VM_MAX_PU, VM_MIN_PU, relieve_voltage

#: a warm-started run whose solution moved further than this from its start (p.u., any bus) is run again from
#: the DC start (it may have found another root of the AC equations)
WARM_MOVE_PU = 0.1
#: and one that has not converged after this many iterations (from a good start Newton needs 2-4)
WARM_MAX_ITERATION = 8
#: a loading above 100 % by more than this (percent) is an overload (``Ratings.overloaded``)
OVERLOAD_MARGIN_PCT = 1e-6


@dataclass
class IslandCheck:
    """What ``diagnose`` would find in one energised island."""

    diverged: bool = False
    low: bool = False
    high: bool = False
    overloads: int = 0        # relieved by active power (the LP)
    charging: int = 0         # line overloads by reactive current (reactive measures)
    slack_short_mw: float = 0.0
    low_buses: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def clean(self) -> bool:
        return not (self.diverged or self.low or self.high or self.overloads or self.charging
                    or self.slack_short_mw > 0)

    def reactive(self) -> bool:
        """Over-voltage or charging-current overloads: the response's reactive measures (not modelled here)."""
        return self.high or bool(self.charging)


class ACCase:
    """The case ``masks`` on the evaluator ``ev`` (``FastACEvaluator``)."""

    def __init__(self, ev, masks):
        self.ev, self.masks, self.pm, self.ac = ev, masks, ev.model, ev.ac
        self.st = ev.state(masks)
        ev.serial += 1
        self.serial = ev.serial                 # names this case's systems for the Newton solver
        st, pm = self.st, self.pm
        base = getattr(ev, "base_case", None)
        if base is not None and masks.injections_unchanged and st.labels is base.st.labels:
            # the base state's islands (a branch out that splits nothing): its units, slacks and bus sets
            self.islands, self.gen_ac, self.gen_live = base.islands, base.gen_ac, base.gen_live
            self.slack, self.solved, self._islands_data = base.slack, base.solved, base._islands_data
            self._base_starts = base._base_starts
        else:
            self.islands = np.flatnonzero(st.energised)
            gen_on = pm.gen_on.copy()
            gen_on[masks.gen_out] = False
            lab = st.labels[pm.gen_bus]
            self.gen_ac = gen_on & (lab >= 0) & st.energised[np.maximum(lab, 0)]   # units of _prepare (PV)
            self.gen_live = st.gen_island >= 0                                     # Island.gens
            self.slack = self._slacks()
            self.solved = (st.labels >= 0) & st.energised[np.maximum(st.labels, 0)]
            self._islands_data: dict[int, tuple] = {}
            self._base_starts: dict[int, np.ndarray] = {}     # per island: the start made of the base state's V
        dead_pp = pm.pp_bus_of[masks.bus_dead] if len(masks.bus_dead) else masks.bus_dead
        self.shunt_q = ev.shunt_q(st, dead_pp, masks.branch_out)
        self.ybus = self.ac.ybus(masks.branch_out, self.shunt_q)
        self._dc_start = None
        self.last_v = [None] * len(self.islands)
        self.notes: list[str] = []

    def dc_start(self, p: np.ndarray, ref: int) -> np.ndarray:
        if self._dc_start is None:
            from gridsim.batch.acnet import DCStart

            self._dc_start = DCStart(self.ev.dcflow, self.masks.branch_out)
        return self._dc_start(p, np.array([ref]), self.st.labels)

    def _slacks(self) -> np.ndarray:
        """gridsim.balance.pick_slack per energised island: the most headroom (rounded to 1e-6 MW), then the
        largest unit, then the lowest index."""
        st, pm = self.st, self.pm
        live = np.flatnonzero(self.gen_live)
        head = np.round(st.gen_cap[live] - st.dispatch[live], 6)
        order = np.lexsort((pm.gen_index[live], -st.gen_cap[live], -head, st.gen_island[live]))
        g = live[order]
        first = np.ones(len(g), dtype=bool)
        first[1:] = st.gen_island[g][1:] != st.gen_island[g][:-1]
        by_island = dict(zip(st.gen_island[g][first].tolist(), g[first].tolist()))
        return np.array([by_island[int(i)] for i in self.islands], dtype=np.int64)

    # -- AC --------------------------------------------------------------------------------------------------
    def island(self, k: int) -> tuple:
        """(units, slack bus, buses, PV buses, PQ buses, start magnitudes, regulated buses, loads, their buses,
        the units' buses, the loads' Q/P) of the ``k``-th energised island."""
        got = self._islands_data.get(k)
        if got is None:
            pm, st = self.pm, self.st
            isl = self.islands[k]
            gens = np.flatnonzero(self.gen_ac & (st.labels[pm.gen_bus] == isl))
            ref = int(pm.gen_bus[self.slack[k]])
            buses = np.flatnonzero(self.solved & (st.labels == isl))
            pv = np.setdiff1d(pm.gen_bus[gens], [ref])
            pq = np.setdiff1d(buses, np.append(pv, ref))
            vm = np.ones(pm.n_bus)
            vm[pm.gen_bus[gens]] = self.ac.gen_vm[gens]
            regulated = np.zeros(pm.n_bus, dtype=bool)
            regulated[pm.gen_bus[gens]] = True
            loads = np.flatnonzero(st.load_island == isl)
            got = self._islands_data[k] = (gens, ref, buses, pv.astype(np.int32), pq.astype(np.int32), vm,
                                           regulated, loads, pm.load_bus[loads], pm.gen_bus[gens],
                                           self.ac.load_q_per_p[loads])
        return got

    def solve(self, k: int, served: np.ndarray, dispatch: np.ndarray, warm: bool = False, start=None):
        """AC power flow of the ``k``-th energised island: (V over all buses, converged), from pandapower's
        ``init="dc"`` start, or with ``warm`` from the island's last converged solution (the base state's at
        first), or from ``start`` (a voltage vector) when given, and from the DC start again if that does not
        converge: "not converged" is always the DC start's answer."""
        pm, ac = self.pm, self.ac
        gens, ref, buses, pv, pq, vm, regulated, loads, load_bus, gen_bus, q_per_p = self.island(k)
        n = pm.n_bus
        p_load = served[loads]              # the island's loads and units are at its buses
        p = np.bincount(gen_bus, weights=dispatch[gens], minlength=n) - \
            np.bincount(load_bus, weights=p_load, minlength=n)
        q = -np.bincount(load_bus, weights=p_load * q_per_p, minlength=n)
        sbus = (p + 1j * q) / ac.base_mva
        ok, guarded, again = False, start is not None, False
        if start is None and warm:
            again = self.last_v[k] is not None     # the island's own last state: often this very one
            start = self.last_v[k] if again else self.ev.base_v
        if start is not None:
            from_base = start is self.ev.base_v
            v0 = self._base_starts.get(k) if from_base else None
            if v0 is None:
                v0 = np.where(regulated, vm, np.abs(start)) * np.exp(1j * np.angle(start))
                if from_base:       # the same for every case on these islands (never written to)
                    self._base_starts[k] = v0
            if again and self.ev.newton.solved_at(self.ybus, v0, sbus, pv, pq):
                v, ok = v0, True            # what the solver returns without iterating (the re-check of a relief)
            else:
                v, ok = self.ev.newton(self.ybus, v0, sbus, ref, pv, pq, (self.serial, k),
                                       WARM_MAX_ITERATION if guarded else MAX_ITERATION)
            if ok and guarded and np.abs(v[buses] - v0[buses]).max() > WARM_MOVE_PU:
                ok = False
        if not ok:
            balanced = p.copy()
            balanced[ref] -= p.sum()          # the DC start: the slack takes the island's mismatch
            v0 = vm * np.exp(1j * self.dc_start(balanced, ref))
            v, ok = self.ev.newton(self.ybus, v0, sbus, ref, pv, pq, (self.serial, k))
        if ok:
            self.last_v[k] = v
        return v, ok

    def solve_all(self, served, dispatch):
        v = np.ones(self.pm.n_bus, dtype=complex)
        ok = np.zeros(len(self.islands), dtype=bool)
        for k in range(len(self.islands)):
            vk, ok[k] = self.solve(k, served, dispatch, warm=self.ev.start == "warm")
            if ok[k]:
                sel = self.island(k)[2]
                v[sel] = vk[sel]
        return v, ok

    # -- the check -------------------------------------------------------------------------------------------
    def check(self, v, ok, served, dispatch) -> list[IslandCheck]:
        pm, ac, st = self.pm, self.ac, self.st
        loading, p_abs = ac.loading_percent(v, st.branch_on)
        over = st.branch_on & (loading > 100.0 + OVERLOAD_MARGIN_PCT)
        if over.any():
            br_isl = st.labels[pm.br_from]
            charging = over & ac.is_line & (p_abs / ac.line_rating_mw < REACTIVE_SHARE)
        out = []
        for k, isl in enumerate(self.islands):
            c = IslandCheck()
            if not ok[k]:
                c.diverged = True
                c.overloads = self._dc_overloads(k, served, dispatch)
                out.append(c)
                continue
            buses = self.island(k)[2]
            vm = np.abs(v[buses])
            c.low, c.high = bool(vm.min() < VM_MIN_PU - 1e-9), bool(vm.max() > VM_MAX_PU + 1e-9)
            if c.low:
                c.low_buses = buses[vm < VM_MIN_PU]
            if over.any():
                here = br_isl == isl
                c.overloads = int((over & here & ~charging).sum())
                c.charging = int((charging & here).sum())
            excess = self._slack_p(k, v, served, dispatch) - st.gen_cap[self.slack[k]]
            c.slack_short_mw = excess if excess > SLACK_TOLERANCE_MW else 0.0
            out.append(c)
        return out

    def _slack_p(self, k: int, v, served, dispatch) -> float:
        """The slack unit's output: the bus injection (pandapower's) plus the load there, less other units."""
        pm, ac = self.pm, self.ac
        g = self.slack[k]
        bus = int(pm.gen_bus[g])
        s = v[bus] * np.conj(ac.injection(self.ybus.data, v, bus)) * ac.base_mva
        load = float(served[(pm.load_bus == bus) & (self.st.load_island == self.islands[k])].sum())
        others = self.gen_ac & (pm.gen_bus == bus)
        others[g] = False
        return float(s.real) + load - float(dispatch[others].sum())

    def _dc_overloads(self, k: int, served, dispatch) -> int:
        """Overloads of the DC fallback flows of an island whose AC power flow diverged (its slack takes the
        mismatch), as ``simulate()`` would see them: relief alone would not be the whole response then."""
        ev, pm, st = self.ev, self.pm, self.st
        isl = self.islands[k]
        inside_l = st.load_island == isl
        gens = self.gen_ac & (st.labels[pm.gen_bus] == isl)
        inj = np.bincount(pm.gen_bus[gens], weights=dispatch[gens], minlength=pm.n_bus) - \
            np.bincount(pm.load_bus[inside_l], weights=served[inside_l], minlength=pm.n_bus)
        inj[pm.gen_bus[self.slack[k]]] -= inj.sum()
        flow = ev.dcflow.outage_flows(ev.dcflow.flows(inj), self.masks.branch_out)
        here = st.branch_on & (st.labels[pm.br_from] == isl)
        return int((here & (np.abs(flow) > pm.detect_limit * (1.0 + OVERLOAD_MARGIN_PCT / 100.0))).sum())

    # -- the response ----------------------------------------------------------------------------------------
    def run(self):
        """``gridsim.solvers.response.respond_optimal``: rounds of check, act (voltage relief, the shedding LP with
        limits tightened by the AC/DC ratio, more loss allowance for a unit past its capacity), re-solve."""
        st = self.st
        if not len(self.islands):
            return self.ev.record(st, "dead", self.notes), ""
        served, dispatch = st.served, st.dispatch       # replaced, never written to, by the actions below
        tighten = None
        tried = np.zeros(len(self.islands), dtype=int)
        acted = set()
        for round_ in range(AC_ROUNDS + 1):
            v, ok = self.solve_all(served, dispatch)
            checks = self.check(v, ok, served, dispatch)
            bad = [k for k, c in enumerate(checks) if not c.clean()]
            if not bad:
                break
            if round_ == AC_ROUNDS:
                return None, "limits still violated after the response's rounds"
            if tighten is None:         # a response is needed: its state (demand caps, loss allowances, limits)
                self.limit = self.pm.demand.copy()
                self.allow = np.where(np.bincount(np.maximum(st.load_island, 0), weights=(st.load_island >= 0),
                                                  minlength=len(st.energised))[self.islands] > 0,
                                      self.ev.allowance, 0.0)
                tighten = np.ones(self.pm.n_branch)
            lp = []
            for k in bad:
                c = checks[k]
                if c.reactive() or (c.low and self._reactor_at(c.low_buses)):
                    return None, "reactive measures (over-voltage, charging current or shunt reactors)"
                if (c.low or c.diverged) and tried[k] < VOLTAGE_TRIES:
                    tried[k] += 1
                    served, dispatch = self._relieve(k, served, dispatch)
                    acted.add("relief")
                if c.slack_short_mw > 0:
                    isl_served = float(served[self.st.load_island == self.islands[k]].sum())
                    self.allow[k] += c.slack_short_mw / max(isl_served, 1e-9) + 0.002
                if c.overloads or c.slack_short_mw > 0:
                    lp.append(k)
            if lp:
                if round_ > 0:
                    loading, _ = self.ac.loading_percent(v, self.st.branch_on)
                    hit = self.st.branch_on & (loading > 100.0 + OVERLOAD_MARGIN_PCT)
                    tighten[hit] *= 0.99 * 100.0 / loading[hit]
                for k in lp:
                    res = self._lp(k, tighten)
                    if res is None:
                        return None, "the shedding LP failed"
                    served, dispatch = res
                acted.add("lp")
        self.ev.paths["relief" if "relief" in acted else "lp" if acted else "exact"] += 1
        return self.ev.record(self.st, "converged", self.notes), ""

    def _lp(self, k: int, tighten: np.ndarray):
        """``gridsim.solvers.response._lp_island``: the DC shedding LP of island ``k`` (demand capped by what a
        voltage relief left, capacity less the loss allowance, limits tightened), its shed attributed."""
        import pandas as pd

        from gridsim.solvers.optimal import optimal_shed

        st, pm, ev = self.st, self.pm, self.ev
        isl = self.islands[k]
        gen_on = pm.gen_on.copy()
        gen_on[self.masks.gen_out] = False
        model = ev.lp_reference._case_model(st, gen_on, pm.lp_limit * tighten)
        loads = np.flatnonzero(st.load_island == isl)
        gens = np.flatnonzero(self.gen_live & (st.gen_island == isl))
        a = self.allow[k]
        res = optimal_shed(pm.damaged, ev.lp_reference._pp_bus[(st.labels == isl) & (ev.lp_reference._pp_bus >= 0)],
                           demand_mw=pd.Series(self.limit[loads], index=pm.load_index[loads]),
                           capacity_mw=pd.Series(st.gen_cap[gens] / (1.0 + a), index=ev.lp_reference._gen_keys[gens]),
                           weights=ev.lp_reference.weights, rating=model.rating,
                           emergency_factor=model.emergency_factor, model=model, cost=ev.lp_reference.cost)
        if not res.ok:
            return None
        new = (res.demand_mw - res.shed_mw).reindex(pm.load_index[loads]).fillna(0.0).to_numpy()
        gen_p = res.dispatch_mw.reindex(ev.lp_reference._gen_keys[gens]).fillna(0.0).to_numpy() * (1.0 + a)
        return self._attribute(k, loads, gens, new, gen_p)

    def _attribute(self, k: int, loads, gens, new, gen_p):
        """``gridsim.solvers.response._attribute``: served demand and dispatch of island ``k``; what it does not
        serve is deficit up to what its capacity (less the allowance) cannot cover, network beyond."""
        st, pm = self.st, self.pm
        served, dispatch = st.served.copy(), st.dispatch.copy()
        demand = pm.demand[loads]
        unserved = np.clip(demand - new, 0.0, None)
        served[loads] = demand - unserved
        if gen_p is not None:
            dispatch[gens] = gen_p
        total = float(unserved.sum())
        cap = float(st.gen_cap[gens].sum()) / (1.0 + self.allow[k])
        short = max(0.0, float(demand.sum()) - cap)
        share = 0.0 if total <= 1e-9 else min(1.0, short / total)
        self.st = st = dataclasses.replace(st, served=served, dispatch=dispatch, deficit=st.deficit.copy(),
                                           network=st.network.copy())
        st.deficit[loads] = unserved * share
        st.network[loads] = unserved * (1.0 - share)
        return served.copy(), dispatch.copy()

    def _reactor_at(self, buses: np.ndarray) -> bool:
        if not len(buses):
            return False
        q = self.shunt_q
        return bool(((q > 0) & np.isin(self.ac.shunt_bus, buses)).any())

    def _relieve(self, k: int, served, dispatch):
        """``gridsim.solvers.response._relieve_voltage`` for island ``k``: the relief's shed becomes cause
        network (beyond what the island's capacity could not cover), its dispatch the island's."""
        st, pm = self.st, self.pm
        isl = self.islands[k]
        from gridsim.batch.acrelief import IslandRun

        run = IslandRun(self, k, served, dispatch)
        loads = run.load_pos
        method = "priority" if self.ev.method == "priority" else "proportional"
        new, state, note = relieve_voltage(run, served[loads], pm.priority[loads], method)
        self.notes.append(f"island {isl}: {note} ({run.runs} AC runs)")
        if state is None:
            return served, dispatch
        self.limit[loads] = np.minimum(self.limit[loads], new)
        v = run.v_of(new)
        if v is not None:
            self.last_v[k] = v          # the re-check's warm start: this very state
        return self._attribute(k, loads, run.gens, new, run.dispatch(new))


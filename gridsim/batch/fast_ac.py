"""FastACEvaluator: ``simulate()`` with ``solver: ac, response: optimal`` for many cases on one prepared model.

Per case, as ``simulate()`` does it: islands and balance from the DC engine's state (``gridsim.batch.state``, with
the AC loss allowance), one slack per energised island (``gridsim.balance.pick_slack``'s rule), shunt reactors
following the line charging still connected (``gridsim.outages``), then the AC power flow of every energised
island on pandapower's own admittance model, solved by lightsim2grid's Newton solver (``gridsim.batch.acnet``).
The solved state is checked as ``gridsim.solvers.limits.diagnose`` checks it:

- nothing violated: the case's numbers are the balance's (status ``converged``): the common case, exact;
- only voltages below the band, or an island whose AC power flow does not converge: the local voltage relief of
  ``gridsim.solvers.voltage.relieve_voltage`` runs (the same function, on this solver), the islands are solved
  again and, if nothing is violated then, that is the case's answer; the relief is a heuristic (bisections on
  AC convergence), so where convergence near the nose point differs between solvers its shed may differ a
  little from ``simulate()``'s (tests/test_batch_ac.py reports and bounds the difference);
- anything else (overloads, which need the shedding LP with AC tightening; over-voltage or charging-current
  overloads, which need reactive measures; a unit past its capacity; a relief that does not end clean): the case
  goes through ``simulate()`` itself, and its message says so.

lightsim2grid is needed (``pip install 'gridsim[fast]'``); without it, or on a network this engine does not model,
the constructor raises ValueError and ``run_cases`` (evaluator ``auto``) uses ``SimulateEvaluator``.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from gridsim.batch.cases import CASE_COLUMNS, FAILED, CaseSpec, SimulateEvaluator, failed_record, outage_models
from gridsim.batch.dcflow import DCFlow
from gridsim.batch.lp_reference import ReferenceLP
from gridsim.batch.model import CaseMasks, PreparedModel
from gridsim.batch.state import Bridges, CaseState, case_state

_EMPTY = np.zeros(0, dtype=np.int64)
#: how a case was evaluated (counted in ``FastACEvaluator.paths``)
PATHS = ("exact", "lp", "relief", "simulate")
#: where the check of each case's state starts its AC power flow: ``warm`` (the default): from the base
#: state's solution (then the last converged one), and from pandapower's ``init="dc"`` start where that does
#: not converge; ``dc``: always from the DC start, as simulate() does. The voltage relief's first run starts
#: from the DC start; where that converges the later runs start warm (``acrelief.IslandRun``), else all of
#: them from the DC start, so that its bisections see the same convergence near the nose point as simulate()'s.
STARTS = ("dc", "warm")


def check_supported(scenario) -> None:
    solver, response = getattr(scenario, "solver", "dc"), getattr(scenario, "response", "none")
    if solver != "ac" or response != "optimal":
        raise ValueError(f"FastACEvaluator does solver ac with response optimal, not solver {solver!r} with "
                         f"response {response!r}; use SimulateEvaluator (gridsim.batch.cases)")
    if importlib.util.find_spec("lightsim2grid") is None:
        raise ValueError("FastACEvaluator needs lightsim2grid (pip install 'gridsim[fast]')")


class FastACEvaluator:
    """Evaluate cases (``CaseSpec``) with AC power flow on one prepared model; records as ``record_of``."""

    def __init__(self, scenario, net=None, start: str = "warm"):
        from gridsim.batch.acnet import ACNetwork, Newton
        from gridsim.solvers.powerflow import AC_LOSS_ALLOWANCE

        check_supported(scenario)
        if start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)}, got {start!r}")
        self.start = start
        self.scenario = scenario
        self.method = scenario.shedding
        self.allowance = AC_LOSS_ALLOWANCE
        self.model = pm = PreparedModel(scenario, net)
        self.ac = ACNetwork(pm)
        self.reference = SimulateEvaluator(scenario, pm.base)
        self.lp_reference = ReferenceLP(pm, self.method)
        self.empty = CaseMasks(_EMPTY, _EMPTY, _EMPTY, None, _EMPTY)
        self.paths = dict.fromkeys(PATHS, 0)
        self._pp_bus = np.full(pm.n_bus, -1, dtype=np.int64)
        idx = pm.damaged.bus.index.to_numpy()
        self._pp_bus[pm.bus_lookup[idx]] = idx
        pm.pp_bus_of = self._pp_bus
        self.load_pp_bus = pm.damaged.load["bus"].to_numpy()
        self._reactors(pm)
        self.newton = Newton()
        self.serial = 0
        self.dcflow = DCFlow(pm)
        self.base_state = case_state(pm, self.empty, self.method, self.allowance)
        self._q_base = self.shunt_q(self.base_state, _EMPTY)
        self._base_sums = None          # the base state's unserved sums, made by its first record
        self.bridges = Bridges(pm)
        self.base_v = None
        from gridsim.batch.fast_ac_case import ACCase

        base = ACCase(self, self.empty)
        self.start = "dc"
        v, ok = base.solve_all(self.base_state.served, self.base_state.dispatch)   # fills its island data
        self.start = start
        self.base_case = base                   # cases on the base state's islands share its island data
        if start == "warm":
            self.base_v = v if len(ok) and ok.all() else None

    def state(self, masks: CaseMasks) -> CaseState:
        """The case's islands and balance; a single branch out that splits nothing leaves the base state's."""
        if masks is self.empty and getattr(self, "base_state", None) is not None:
            return self.base_state
        if masks.injections_unchanged and len(masks.branch_out) == 1:
            k = int(masks.branch_out[0])
            if not self.bridges.is_bridge[k]:
                on = np.ones(self.model.n_branch, dtype=bool)
                on[k] = False
                st = copy.copy(self.base_state)        # dataclasses.replace without its per-field overhead
                st.branch_on = on
                return st
            return case_state(self.model, masks, self.method, self.allowance, islands=self.bridges.islands(k))
        return case_state(self.model, masks, self.method, self.allowance)

    # -- public --------------------------------------------------------------------------------------------
    def evaluate(self, case: CaseSpec) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            masks = self.model.branch_masks(case.outages)
            masks = masks if masks is not None else self.model.masks(outage_models(case))
            rec, why = self.evaluate_masks(masks)
        except Exception as exc:  # noqa: BLE001 -- a batch never dies because one case failed
            return failed_record(FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        if rec is None:
            self.paths["simulate"] += 1
            rec = self.reference.evaluate(case)
            rec["message"] = f"evaluated by simulate() ({why}); {rec['message']}"[:500]
        rec["time_s"] = time.perf_counter() - t0
        return rec

    def evaluate_many(self, cases) -> list[dict[str, Any]]:
        return [self.evaluate(c) for c in cases]

    def evaluate_masks(self, masks: CaseMasks) -> tuple[dict[str, Any] | None, str]:
        """(record, "") where this engine reproduces ``simulate()``; else (None, why not)."""
        from gridsim.batch.fast_ac_case import ACCase

        case = ACCase(self, masks)
        return case.run()

    # -- shunt reactors follow the line charging (gridsim.outages._switch_reactors) -------------------------
    def _reactors(self, pm) -> None:
        base, dam = pm.base, pm.damaged
        sh = dam.shunt
        pos = np.flatnonzero(sh["in_service"].astype(bool).to_numpy()
                             & (base.shunt["q_mvar"].reindex(sh.index).astype(float).to_numpy() > 0)) \
            if len(sh) else _EMPTY
        line = base.line
        on = line["in_service"].astype(bool).to_numpy()
        vn = base.bus["vn_kv"].astype(float).reindex(line["from_bus"]).to_numpy()
        half = 0.5 * (line["c_nf_per_km"].astype(float) * line["length_km"].astype(float)
                      * line.get("parallel", 1)).to_numpy() * vn ** 2
        n_pp = len(pm.bus_lookup)
        fb, tb = line["from_bus"].to_numpy(np.int64), line["to_bus"].to_numpy(np.int64)
        before = np.bincount(fb[on], weights=half[on], minlength=n_pp) + np.bincount(tb[on], weights=half[on],
                                                                                   minlength=n_pp)
        lines = np.flatnonzero(pm.branch_table == "line")
        rows = line.index.get_indexer(pm.dc.branch_index[lines])
        self._line_branch, self._line_half = lines, half[rows]
        self._line_from, self._line_to = fb[rows], tb[rows]
        self._reactor_pos = pos
        self._shunt_pp_bus = sh["bus"].to_numpy(np.int64) if len(sh) else _EMPTY
        self._reactor_bus = sh["bus"].to_numpy(np.int64)[pos] if len(pos) else _EMPTY
        self._reactor_q = base.shunt["q_mvar"].reindex(sh.index).astype(float).to_numpy()[pos] if len(pos) \
            else np.zeros(0)
        self._reactor_before = before[self._reactor_bus] if len(pos) else np.zeros(0)
        self._n_pp = n_pp
        # per model branch: a line with an end at a reactor's bus (its outage changes that reactor's share)
        self._touches_reactor = np.zeros(pm.n_branch, dtype=bool)
        self._touches_reactor[lines] = np.isin(self._line_from, self._reactor_bus) | \
            np.isin(self._line_to, self._reactor_bus)

    def shunt_q(self, st: CaseState, bus_dead_pp: np.ndarray, branch_out: np.ndarray | None = None) -> np.ndarray:
        """Reactive power per shunt in this case (0: off). With ``branch_out`` (the case's outaged branches): one
        branch out that is no line at a reactor's bus leaves every reactor's share of the charging as in the base
        state (the same sums, so the same values), and the base state's shunts are the case's."""
        if branch_out is not None and len(branch_out) == 1 and not len(bus_dead_pp) \
                and not self._touches_reactor[branch_out[0]]:
            return self._q_base
        q = self.ac.shunt_q0.copy()
        if len(bus_dead_pp):
            q[np.isin(self._shunt_pp_bus, bus_dead_pp)] = 0.0
        if not len(self._reactor_pos):
            return q
        on = st.branch_on[self._line_branch]
        h = self._line_half[on]
        now = np.bincount(self._line_from[on], weights=h, minlength=self._n_pp) + \
            np.bincount(self._line_to[on], weights=h, minlength=self._n_pp)
        had = self._reactor_before
        share = np.divide(now[self._reactor_bus], had, out=np.ones(len(had)), where=had > 0)
        alive = ~np.isin(self._reactor_bus, bus_dead_pp) if len(bus_dead_pp) else True
        new = np.where(share >= 1.0 - 1e-9, self._reactor_q, np.where(share <= 1e-9, 0.0, self._reactor_q * share))
        q[self._reactor_pos] = np.where(alive & (had > 0), new, q[self._reactor_pos])
        return q

    # -- records -------------------------------------------------------------------------------------------
    def record(self, st: CaseState, status: str, notes: list[str]) -> dict[str, Any]:
        pm = self.model
        base = getattr(self, "base_state", None)
        shared = base is not None and st.isolated is base.isolated and st.deficit is base.deficit \
            and st.network is base.network         # the base state's balance (arrays never written to)
        sums = self._base_sums if shared else None
        if sums is None:
            unserved = st.isolated + st.deficit + st.network
            sums = dict(unserved_isolated_mw=float(st.isolated.sum()), unserved_deficit_mw=float(st.deficit.sum()),
                        unserved_network_mw=float(st.network.sum()), unserved_cascade_mw=0.0,
                        unserved_mw=float(unserved.sum()), critical_unserved_mw=float(unserved[pm.critical].sum()))
            if shared:
                self._base_sums = sums
        rec: dict[str, Any] = dict.fromkeys(CASE_COLUMNS)
        rec.update(sums, n_islands=st.n_islands, n_overloaded=0, status=status, message="; ".join(notes)[:500],
                   time_s=0.0)
        return rec

    def pp_buses(self, model_buses: np.ndarray) -> np.ndarray:
        return self._pp_bus[model_buses]


def island_namespace(pm) -> SimpleNamespace:
    """What ``gridsim.solvers.voltage.weak_loads`` reads of an ``IslandAC``'s working copy (the loads' buses)."""
    return SimpleNamespace(load=pm.damaged.load)

"""FastDCEvaluator: the numbers of ``simulate()`` (``solver: dc``, ``response: none`` or ``optimal``) for many
cases on one prepared model, without a copy of the network per case.

A case is masks on the ``PreparedModel`` (``gridsim.batch.model``); its islands and balance come from
``gridsim.batch.state`` (the rules of ``gridsim.topology`` and ``gridsim.balance``), its flows from one
factorisation (``gridsim.batch.dcflow``), and an island with an overload is re-dispatched by the warm-started
shedding LP (``gridsim.batch.lp_lazy``, ``lp_reference``), its shed split into ``deficit`` and ``network`` as
``gridsim.solvers.response`` splits it. ``evaluate_many`` screens the single-branch cases together
(``gridsim.batch.screen``: flows, islands and balance of every case, bridges included, as columns) and only the
cases with an overload go on to the LP one by one. ``with_demand`` and ``evaluate_state`` are the hooks other
engines build on (``gridsim.timeline_fast``). ``SimulateEvaluator`` (``gridsim.batch.cases``) is the definition
of the right answer; tests/test_batch_fast.py and tests/test_batch_screen.py keep them equal.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import numpy as np

from gridsim.batch.cases import CASE_COLUMNS, FAILED, CaseSpec, failed_record, outage_models
from gridsim.batch.dcflow import DCFlow
from gridsim.batch.model import CaseMasks, PreparedModel
from gridsim.batch.screen import ScreenColumns, SingleBranchScreen
from gridsim.batch.state import Bridges, CaseState, case_state
from gridsim.solvers.response import AC_ROUNDS

#: loading above 100 % by more than this (percent) is an overload (``gridsim.solvers.ratings``)
OVERLOAD_MARGIN_PCT = 1e-6
#: responses and solvers this evaluator reproduces
RESPONSES, SOLVERS = ("none", "optimal"), ("dc",)
#: single-branch cases screened together: at most CHUNK, fewer on large networks so that a block's arrays
#: (branches x cases, e.g. the flows) stay near CHUNK_CELLS numbers (~2 MB) and in cache (case2000's screen:
#: 150 ms in blocks of 64, 260-320 ms in blocks of 256)
CHUNK, CHUNK_CELLS = 256, 2 ** 18
#: cases taking out up to this many branches (and nothing else) are done in blocks too
MULTI_MAX = 4
#: shedding LP engines: the warm-started LP with only the branch limits that bind (``highs``,
#: ``gridsim.batch.lp_lazy``); the warm-started whole-model LP with every limit (``full``); ``optimal_shed`` per
#: island exactly as ``simulate()`` calls it (``reference``); or the lazy LP with the reference where load is
#: shed (``exact``, the default). All give the same shed per island; where equal weights leave open *which*
#: loads lose supply (critical MW), only ``reference`` and ``exact`` pick the loads ``simulate()`` picks.
LP_ENGINES = {"highs": ("gridsim.batch.lp_lazy", "LazyShedLP"), "full": ("gridsim.batch.lp", "ShedLP"),
              "reference": ("gridsim.batch.lp_reference", "ReferenceLP"),
              "exact": ("gridsim.batch.lp_reference", "ExactLP")}
#: engines that take the evaluator's factorisation (``flow=``) instead of building their own
_TAKES_FLOW = ("highs", "exact")

_EMPTY = np.zeros(0, dtype=np.int64)


def check_supported(scenario) -> None:
    """ValueError unless the scenario is one this evaluator reproduces."""
    solver, response = getattr(scenario, "solver", "dc"), getattr(scenario, "response", "none")
    if solver not in SOLVERS or response not in RESPONSES:
        raise ValueError(f"FastDCEvaluator does solver {'/'.join(SOLVERS)} with response "
                         f"{' or '.join(RESPONSES)}, not solver {solver!r} with response {response!r}; use "
                         "SimulateEvaluator (gridsim.batch.cases) for this scenario")


class FastDCEvaluator:
    """Evaluate cases (``CaseSpec``) on one prepared model; records as ``gridsim.batch.cases.record_of``."""

    def __init__(self, scenario, net=None, lp: str = "exact"):
        check_supported(scenario)
        if lp not in LP_ENGINES:
            raise ValueError(f"lp must be one of {', '.join(LP_ENGINES)}, got {lp!r}")
        self.lp_engine = lp
        self.scenario = scenario
        self.method = scenario.shedding
        self.optimal = getattr(scenario, "response", "none") == "optimal"
        self.model = pm = PreparedModel(scenario, net)
        self.flow = DCFlow(pm)
        self._lp = None
        self._bridges: Bridges | None = None
        self._screen = SingleBranchScreen(pm)
        self._single_cache: dict = {}
        self.empty = CaseMasks(_EMPTY, _EMPTY, _EMPTY, None, _EMPTY)
        self._threshold = pm.detect_limit * (1.0 + OVERLOAD_MARGIN_PCT / 100.0)
        self.notes = _notes(scenario)
        self._set_base()
        if self.optimal:    # part of preparing: importing HiGHS (~0.1 s) is not paid by the first LP case
            self.lp  # noqa: B018

    # -- public ----------------------------------------------------------------------------------------------
    def evaluate(self, case: CaseSpec) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            rec = self.evaluate_masks(self.case_masks(case))
        except Exception as exc:  # noqa: BLE001 -- a batch never dies because one case failed
            return failed_record(FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        rec["time_s"] = time.perf_counter() - t0
        return rec

    def evaluate_many(self, cases) -> list[dict[str, Any]]:
        """Records for ``cases`` in order. Cases that only take out branches are done in blocks: single branches
        through the screen (``gridsim.batch.screen``), sets of up to ``MULTI_MAX`` branches by batched
        compensation (``DCFlow.multi_outage_flows``); a case goes one by one when its block cannot finish it (an
        overload for the LP, a set that may split the grid) and every other case always does."""
        cases = list(cases)
        out: list[dict[str, Any] | None] = [None] * len(cases)
        singles: list[tuple[int, int]] = []
        multi: dict[int, list[tuple[int, CaseMasks]]] = {}
        for i, case in enumerate(cases):
            k = self.single_branch(case)
            if k is not None:
                singles.append((i, k))
                continue
            t0 = time.perf_counter()
            try:
                masks = self.case_masks(case)
                if masks.injections_unchanged and 2 <= len(masks.branch_out) <= MULTI_MAX:
                    multi.setdefault(len(masks.branch_out), []).append((i, masks))
                    continue
                out[i] = self.evaluate_masks(masks)
                out[i]["time_s"] = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001 -- a batch never dies because one case failed
                out[i] = failed_record(FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        self._in_blocks(cases, out, singles, self._singles, self.chunk)
        for k, items in multi.items():
            self._in_blocks(cases, out, items, self._multis, max(1, self.chunk // k))
        return out  # type: ignore[return-value]

    def _in_blocks(self, cases, out: list, items: list, evaluate_block, size: int) -> None:
        """``out[i]`` for each ``(i, item)`` of ``items``, ``size`` at a time through ``evaluate_block``."""
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            t0 = time.perf_counter()
            try:
                recs = evaluate_block([item for _, item in chunk])
            except Exception:  # noqa: BLE001 -- one case spoiled the block: evaluate its cases one by one
                recs = [self.evaluate(cases[i]) for i, _ in chunk]
            dt = (time.perf_counter() - t0) / len(chunk)
            for (i, _), rec in zip(chunk, recs):
                out[i] = rec
                rec["time_s"] = dt

    @property
    def chunk(self) -> int:
        """How many single-branch cases ``evaluate_many`` screens together (``CHUNK``, ``CHUNK_CELLS``)."""
        return int(np.clip(CHUNK_CELLS // max(self.model.n_branch, 1), 16, CHUNK))

    def single_branch(self, case: CaseSpec) -> int | None:
        """The model branch a case takes out when it takes out exactly one branch and nothing else (one plain
        branch item, ``PreparedModel.branch_masks``), else None; remembered per item."""
        if len(case.outages) != 1 or len(case.outages[0]) != 1:
            return None
        (kind, value), = case.outages[0].items()
        key = (kind, type(value), value)
        try:
            hit = self._single_cache.get(key)
        except TypeError:       # an unhashable value: not a plain branch item
            return None
        if hit is None:
            masks = self.model.branch_masks(case.outages)
            hit = int(masks.branch_out[0]) if masks is not None and len(masks.branch_out) == 1 else -1
            if len(self._single_cache) < 100_000:
                self._single_cache[key] = hit
        return hit if hit >= 0 else None

    def screen(self, branches: np.ndarray) -> ScreenColumns:
        """Flows, islands, balance and overloads of the single-branch cases ``branches`` (model branches), all
        at once, before any optimal response (``gridsim.batch.screen``)."""
        return self._screen.run(self, np.asarray(branches, dtype=np.int64))

    def case_masks(self, case: CaseSpec) -> CaseMasks:
        """The case's masks (``PreparedModel.branch_masks`` for plain branch outages, else ``masks``)."""
        masks = self.model.branch_masks(case.outages)
        return masks if masks is not None else self.model.masks(outage_models(case))

    def evaluate_masks(self, masks: CaseMasks) -> dict[str, Any]:
        """The record of one case given as masks (``PreparedModel.masks``)."""
        notes = list(self.notes)
        st, n_over = self.evaluate_state(masks, notes)
        return self._record(st, n_over, notes)

    def evaluate_state(self, masks: CaseMasks, notes: list[str] | None = None,
                       islands: tuple | None = None) -> tuple[CaseState, int]:
        """The case's state after the response (islands, balance and, for the optimal response, the LP's
        re-dispatch of the islands with an overload) and the number of branches still overloaded; the response's
        notes are appended to ``notes``. ``islands``: the case's ``(labels, n_islands, n_labels)`` when the caller
        knows them (they depend on the branches and buses out only: ``gridsim.timeline_fast`` keeps them per
        damage state)."""
        if not len(masks.branch_out) and masks.injections_unchanged:
            st, flow = self.base, self.base_flow
        else:
            one = masks.injections_unchanged and len(masks.branch_out) == 1
            islands = self.bridges.islands(int(masks.branch_out[0])) if one else islands
            st = case_state(self.model, masks, self.method, islands=islands)
            flow = self._flows(st, masks.branch_out)
        return self._response(masks, st, flow, [] if notes is None else notes)

    def with_demand(self, demand: np.ndarray) -> FastDCEvaluator:
        """A copy of this evaluator whose model has ``demand`` (MW per load); names, factorisation and bridges
        are shared, the base state is balanced again and the shedding LP is built afresh on first use."""
        pm = copy.copy(self.model)
        pm.demand = np.asarray(demand, dtype=float)
        new = copy.copy(self)
        new.model, new._lp = pm, None
        new._set_base()
        return new

    def _set_base(self) -> None:
        """The base state (no case outage), its flows, energised branches and record."""
        pm = self.model
        self.base = case_state(pm, self.empty, self.method)
        self.base_flow = self.flow.flows(self.base.injection(pm))
        self.base_live = self.base.branch_energised(pm)
        self._base_record = self._record(self.base, 0, self.notes)

    # -- steps -----------------------------------------------------------------------------------------------
    def _multis(self, block: list[CaseMasks]) -> list[dict[str, Any]]:
        """Records of cases that each take out the same number of branches and nothing else."""
        sets = np.array([m.branch_out for m in block], dtype=np.int64)
        flows, split = self.flow.multi_outage_flows(self.base_flow, sets)
        over = self.base_live[:, None] & (np.abs(flows) > self._threshold[:, None])
        over[sets, np.arange(len(block))[:, None]] = False
        n_over = over.sum(axis=0)
        recs = []
        for j, masks in enumerate(block):
            if split[j]:
                recs.append(self.evaluate_masks(masks))
            elif self.optimal and n_over[j]:
                st = dataclasses.replace(self.base, branch_on=self._on_without(masks.branch_out))
                recs.append(self._respond(masks, st, flows[:, j]))
            else:   # the base case's islands and balance: its record, with this case's overloads
                recs.append(dict(self._base_record, n_overloaded=int(n_over[j])))
        return recs

    def _singles(self, branches) -> list[dict[str, Any]]:
        branches = np.asarray(branches, dtype=np.int64)
        cols = self.screen(branches)
        recs = []
        for j, k in enumerate(branches.tolist()):
            lp = self.optimal and cols.n_over[j] > 0
            if cols.per_case[j] or (lp and cols.split[j]):
                recs.append(self.evaluate_masks(self._branch_case(k)))
            elif lp:
                st = dataclasses.replace(self.base, branch_on=self._on_without(k))
                recs.append(self._respond(self._branch_case(k), st, cols.flows[:, j]))
            elif cols.split[j]:
                recs.append(self._column_record(cols, j))
            else:   # the base case's islands and balance: its record, with this case's overloads
                recs.append(dict(self._base_record, n_overloaded=int(cols.n_over[j])))
        return recs

    def _branch_case(self, k: int) -> CaseMasks:
        return CaseMasks(np.array([k], dtype=np.int64), _EMPTY, _EMPTY, None, _EMPTY)

    def _column_record(self, cols: ScreenColumns, j: int) -> dict[str, Any]:
        """The record of a screened case that needs no response (``_record`` from the screen's columns)."""
        iso, deficit, n_over = float(cols.isolated[j]), float(cols.deficit[j]), int(cols.n_over[j])
        status = "dead" if cols.dead[j] else ("violated" if self.optimal and n_over else "converged")
        return dict(self._base_record, unserved_mw=iso + deficit, unserved_isolated_mw=iso,
                    unserved_deficit_mw=deficit, unserved_network_mw=0.0,
                    critical_unserved_mw=float(cols.critical[j]), n_islands=int(cols.n_islands[j]),
                    n_overloaded=n_over, status=status)

    def _on_without(self, branch) -> np.ndarray:
        on = np.ones(self.model.n_branch, dtype=bool)
        on[branch] = False
        return on

    def _flows(self, st: CaseState, branch_out: np.ndarray) -> np.ndarray:
        base = self.flow.flows(st.injection(self.model))
        return self.flow.outage_flows(base, branch_out)

    def _overloaded(self, st: CaseState, flow: np.ndarray) -> np.ndarray:
        return st.branch_energised(self.model) & (np.abs(flow) > self._threshold)

    def _respond(self, masks: CaseMasks, st: CaseState, flow: np.ndarray) -> dict[str, Any]:
        notes = list(self.notes)
        st, n_over = self._response(masks, st, flow, notes)
        return self._record(st, n_over, notes)

    def _response(self, masks: CaseMasks, st: CaseState, flow: np.ndarray, notes: list) -> tuple[CaseState, int]:
        over = self._overloaded(st, flow)
        if self.optimal and over.any():
            st, over = self._optimal(masks, st, flow, over, notes)
        return st, int(over.sum())

    def _optimal(self, masks: CaseMasks, st: CaseState, flow: np.ndarray, over: np.ndarray, notes: list):
        """``gridsim.solvers.response.respond_optimal`` in DC: the islands with an overload are re-dispatched by
        the LP, flows re-solved, and what is still overloaded is reported (status ``violated``). In DC the
        response never tightens a limit, so an island's LP, once solved, would give the same answer again:
        later rounds only solve islands not solved before."""
        pm = self.model
        st = dataclasses.replace(st, served=st.served.copy(), deficit=st.deficit.copy(),
                                 network=st.network.copy(), dispatch=st.dispatch.copy())
        gen_on = pm.gen_on.copy()
        gen_on[masks.gen_out] = False
        done = np.zeros(len(st.energised), dtype=bool)
        for _ in range(AC_ROUNDS):
            todo = np.zeros(len(st.energised), dtype=bool)
            todo[st.labels[pm.br_from[over]]] = True
            todo &= ~done
            if not todo.any():
                break
            # the engines that share this factorisation start from the flows at hand (round 1: the case's)
            extra = {"flows": flow} if self.lp_engine in _TAKES_FLOW and flow is not None else {}
            res = self.lp.solve(st, todo, gen_on, pm.lp_limit, **extra)
            flow = None
            if res.ok:
                _apply_lp(pm, st, todo, gen_on, res)
            else:
                notes.append(f"optimal shedding LP {res.status}; kept the balance")
            done |= todo
            over = self._overloaded(st, self._flows(st, masks.branch_out))
        if over.any():
            notes.append(f"limits still violated after the response: {int(over.sum())} branch(es) overloaded")
        return st, over

    @property
    def bridges(self) -> Bridges:
        """The islands of single-branch cases (built on first use: ~0.2 s on case2000)."""
        if self._bridges is None:
            self._bridges = Bridges(self.model)
        return self._bridges

    @property
    def lp(self):
        if self._lp is None:
            import importlib

            module, name = LP_ENGINES[self.lp_engine]
            extra = {"flow": self.flow} if self.lp_engine in _TAKES_FLOW else {}
            self._lp = getattr(importlib.import_module(module), name)(self.model, self.method, **extra)
            if hasattr(self._lp, "anchor"):     # answers that do not depend on the cases solved before
                self._lp.anchor(self.base, self.model.gen_on, self.model.lp_limit)
        return self._lp

    def _record(self, st: CaseState, n_over: int, notes: list[str]) -> dict[str, Any]:
        pm = self.model
        unserved = st.isolated + st.deficit + st.network
        by_cause = {"isolated": float(st.isolated.sum()), "deficit": float(st.deficit.sum()),
                    "network": float(st.network.sum()), "cascade": 0.0}
        rec: dict[str, Any] = {c: None for c in CASE_COLUMNS}
        rec.update({f"unserved_{c}_mw": v for c, v in by_cause.items()})
        rec.update(unserved_mw=float(unserved.sum()), critical_unserved_mw=float(unserved[pm.critical].sum()),
                   n_islands=st.n_islands, n_overloaded=n_over,
                   status=_status(st, n_over, self.optimal), message="; ".join(notes)[:500],
                   time_s=0.0)
        return rec


def _apply_lp(pm, st: CaseState, lp_islands: np.ndarray, gen_on: np.ndarray, res) -> None:
    """Write the LP's shed and dispatch into ``st`` for the re-dispatched islands; split each island's shed
    into deficit (what its capacity could not cover) and network (the rest), as ``_lp_island`` does."""
    loads = np.flatnonzero((st.load_island >= 0) & lp_islands[np.maximum(st.load_island, 0)])
    isl = st.load_island[loads]
    shed = res.shed[loads]
    total = np.bincount(isl, weights=shed, minlength=len(lp_islands))
    deficit_total = np.maximum(0.0, st.demand_island - st.cap_island)
    net_share = np.divide(np.maximum(0.0, total - deficit_total), total, out=np.zeros(len(total)),
                          where=total > 1e-9)
    st.served[loads] = pm.demand[loads] - shed
    st.deficit[loads] = shed * (1.0 - net_share[isl])
    st.network[loads] = shed * net_share[isl]
    gbus = st.labels[pm.gen_bus]
    gens = np.flatnonzero(gen_on & (gbus >= 0) & lp_islands[np.maximum(gbus, 0)])
    st.dispatch[gens] = res.dispatch[gens]


def _status(st: CaseState, n_over: int, optimal: bool) -> str:
    """``gridsim.assemble.overall_status``: dead without an energised island; an optimal response that leaves
    an overload marks its island ``violated`` (``gridsim.solvers.limits.record_violations``)."""
    if not st.energised.any():
        return "dead"
    return "violated" if optimal and n_over else "converged"


def _notes(scenario) -> list[str]:
    if any(getattr(o, "at_h", 0) or getattr(o, "repair_h", None) for o in scenario.outages):
        return ["strike and repair times (at_h, repair_h) are recorded but this snapshot treats every outage "
                "as simultaneous and unrepaired"]
    return []

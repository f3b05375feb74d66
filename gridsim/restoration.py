"""Restoration: which repair first, with the crews there are (scenario ``restoration``).

A repair order is turned into a schedule by list scheduling (``list_schedule``): the next repair in the order
goes to the crew that is free first and starts when that crew is free, never before its strike; it takes its
``repair_h`` of crew work. Every schedule is evaluated by the timeline itself (``gridsim.timeline``: strikes,
restarts, the daily demand curve), and one state cache serves every evaluation, so orders that pass through
the same states cost little. Methods:

- ``greedy``: at each moment a crew is free, the repair that brings back the most demand per crew-hour
  (unserved MW at full demand with and without it, the repairs already assigned counted as done), re-evaluated
  as repairs are assigned; ties go to the shortest repair.
- ``local``: the best of the greedy order, the listed order and the order of the MILP's solution, improved by
  swapping two repairs or moving one elsewhere (first improvement) until no move helps or the time limit.
- ``exact``: every order (at most ``MAX_EXACT`` repairs); the best is optimal among list schedules.
- bound: the time-indexed MILP of ``gridsim.restoration_milp`` (small cases, ``ens`` and ``weighted``): a
  relaxation of every schedule, list schedule or not, so ``bound <= best schedule <= best list schedule <=
  greedy``; the summary reports it and the gap of the chosen schedule to it.
- reference: every repair starting at its strike (as many crews as repairs). It bounds the objective from
  below whenever putting an asset back never reduces what is served; the DC optimal response can break that
  (a line back in service can bind a flow: Braess), so it is reported as a reference with the gap to it.

A schedule's objective is the sum over its steps of the step-state values (``Restorer.value_of``); the timeline
runs its steps through the batch engine's DC model where it applies (``gridsim.timeline_fast``), so an order
costs its few new states and a dictionary look-up for the rest.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass

import pandas as pd

from gridsim.restoration_milp import MILPBound, milp_bound
from gridsim.simulate import prepare_network
from gridsim.timeline import _Runner
from gridsim.timeline_fast import StepValues

MAX_EXACT = 8
AUTO_EXACT = 6
OBJECTIVE_COLUMNS = {"ens": "unserved_mw", "weighted": "weighted_unserved_mw",
                     "customer_hours": "customers_without_power"}
OBJECTIVE_UNITS = {"ens": "MWh", "weighted": "weighted MWh", "customer_hours": "customer-hours"}


@dataclass
class Schedule:
    order: tuple[int, ...]               # outage indices, in the order crews take them
    crew: dict[int, int]
    start_h: dict[int, float]
    end_h: dict[int, float]

    def key(self) -> tuple:
        return tuple(sorted(self.end_h.items()))


def list_schedule(outages, order, crews: int) -> Schedule:
    """Crews take the repairs in ``order``: each to the crew free first (lowest number on ties), starting
    when it is free and not before the strike, working ``repair_h`` hours."""
    free = [(0.0, c) for c in range(crews)]
    heapq.heapify(free)
    crew, start, end = {}, {}, {}
    for a in order:
        t, c = heapq.heappop(free)
        s = max(t, float(outages[a].at_h))
        crew[a], start[a], end[a] = c, s, s + float(outages[a].repair_h)
        heapq.heappush(free, (end[a], c))
    return Schedule(tuple(order), crew, start, end)


def repaired_at(outages, schedule: Schedule) -> list:
    """The outages with each scheduled repair ending at its scheduled time (restore steps dropped)."""
    out = list(outages)
    for a, e in schedule.end_h.items():
        out[a] = outages[a].model_copy(update={"repair_h": e - float(outages[a].at_h), "restore": None})
    return out


class Restorer:
    """Evaluates repair orders of one scenario through its timeline, with one shared state cache."""

    def __init__(self, scenario, net=None, crews: int | None = None, share: Restorer | None = None):
        """``share``: a Restorer of the same scenario (another number of crews) whose network, timeline runner
        and caches this one uses too (a schedule's value depends on its repair times, not on the crews)."""
        self.scenario = scenario
        self.rest = scenario.restoration
        self.crews = int(crews if crews is not None else self.rest.crews)
        self.outages = list(scenario.outages)
        self.repairs = [i for i, o in enumerate(self.outages) if o.repair_h is not None]
        self.column = OBJECTIVE_COLUMNS[self.rest.objective]
        self.evaluations = 0
        if share is not None:
            self.base, self.runner, self.memo = share.base, share.runner, share.memo
            self._peak, self._step_values, self._fast = share._peak, share._step_values, share._fast
            return
        self.base = prepare_network(scenario, net)
        self.runner = _Runner(scenario, self.base, cache=True)
        self.memo: dict = {}
        self._peak: dict = {}
        self._step_values: dict = {}
        self._fast = None          # the batch engine for the greedy's scores: None (not tried), False, evaluator

    def evaluate(self, order) -> tuple[float, Schedule]:
        """The objective of the list schedule of ``order``: per step the objective's column summed over regions,
        from the step-state cache (a schedule shares most states with the orders tried before it)."""
        sched = list_schedule(self.outages, order, self.crews)
        key = sched.key()
        if key not in self.memo:
            self.memo[key] = self.value_of(sched)
            self.evaluations += 1
        return self.memo[key], sched

    def value_of(self, sched: Schedule) -> float:
        """The objective step by step. On a network with a river the timeline first plans the water of the whole
        run (``gridsim.water``, one LP per run): the search values orders without that plan (river units at
        their capacity), and ``restore`` ranks the orders it reports by their planned timelines (``table``)."""
        total = 0.0
        self.runner.water = None
        for k, t, active, forced in self.runner.states(repaired_at(self.outages, sched)):
            total += self._step_value(k, t, active, forced)
        return total * float(self.scenario.timeline.step_h)

    def _step_value(self, k: int, t: float, active: list, forced: set) -> float:
        step = self.runner._solve(k, active, forced)          # cached by state in the runner
        hit = self._step_values.get(id(step))
        if hit is None or hit[0] is not step:
            value = float(step.column(self.column).sum()) if isinstance(step, StepValues) \
                else float(self.runner._rows(k, t, step)[self.column].sum())
            hit = self._step_values[id(step)] = (step, value)
        return hit[1]

    def table(self, sched: Schedule) -> pd.DataFrame:
        """The timeline table (one row per step and region) of a schedule."""
        table, _ = self.runner.run(repaired_at(self.outages, sched), None, full_peak=False)
        return table

    def with_table(self, found: tuple[float, Schedule]) -> tuple[float, Schedule, pd.DataFrame]:
        """(objective of the schedule's timeline, schedule, timeline table)."""
        table = self.table(found[1])
        return float(table[self.column].sum() * self.scenario.timeline.step_h), found[1], table

    def reference(self) -> tuple[float, Schedule]:
        """Every repair at its strike (no waiting for a crew)."""
        crews, self.crews = self.crews, max(len(self.repairs), 1)
        try:
            return self.evaluate(tuple(self.repairs))
        finally:
            self.crews = crews

    # -- methods --------------------------------------------------------------------------------------
    def greedy_order(self) -> tuple[int, ...]:
        free = [0.0] * self.crews
        remaining, done, order = set(self.repairs), set(), []
        while remaining:
            c = min(range(self.crews), key=lambda i: (free[i], i))
            t = max(free[c], min(self.outages[a].at_h for a in remaining))
            ready = sorted(a for a in remaining if self.outages[a].at_h <= t + 1e-9)
            now = self._unserved_at_peak(done)
            best = min(ready, key=lambda a: (-(now - self._unserved_at_peak(done | {a}))
                                             / float(self.outages[a].repair_h),
                                             float(self.outages[a].repair_h), a))
            order.append(best)
            remaining.discard(best)
            done.add(best)
            free[c] = max(free[c], self.outages[best].at_h) + float(self.outages[best].repair_h)
        return tuple(order)

    def _unserved_at_peak(self, repaired: set) -> float:
        """Unserved MW at the scenario's full demand with every outage struck and ``repaired`` back (the batch
        engine's prepared DC model where it covers the scenario, else a snapshot through the timeline)."""
        key = frozenset(repaired)
        if key in self._peak:
            return self._peak[key]
        out = [i for i in range(len(self.outages)) if i not in repaired]
        fast = self._fast_scorer()
        if fast is not None:
            from gridsim.batch.cases import CaseSpec

            rec = fast.evaluate(CaseSpec(str(sorted(out)), tuple(self.outages[i].yaml_form() for i in out)))
            value = float(rec["unserved_mw"])
        else:
            k = int(self.runner.profile.total.argmax())
            active = [(i, self.outages[i].model_copy(update={"at_h": 0.0, "repair_h": None, "restore": None}))
                      for i in out]
            value = float(self.runner._solve(k, active, set()).summary["unserved_mw"])
        self._peak[key] = value
        return value

    def _fast_scorer(self):
        """The fast DC evaluator on the undamaged scenario at full demand, for the greedy's scores; None where
        it does not apply (AC, cascade, a profile whose peak is not the scenario's demand, networks it does
        not model)."""
        if self._fast is False:
            return None
        if self._fast is None:
            self._fast = False
            sc = self.scenario
            if (sc.solver == "dc" and sc.response in ("optimal", "none")
                    and abs(float(self.runner.profile.total.max()) - 1.0) < 1e-9 and not self.runner.profile.by_region):
                try:
                    from gridsim.batch.fast import FastDCEvaluator

                    plain = sc.model_copy(update={"outages": [], "timeline": None, "restoration": None,
                                                  "baseline": None})
                    self._fast = FastDCEvaluator(plain, net=self.base)
                except (ImportError, ValueError):
                    self._fast = False
        return self._fast or None

    def local_search(self, start: tuple[int, ...], deadline: float):
        """First improvement over two neighbourhoods of the order: swapping two repairs, then moving one repair
        to another place; until no move helps (complete) or the deadline passes."""
        best_value, best_sched = self.evaluate(start)
        order, improved = list(start), True
        while improved:
            improved = False
            for cand in _neighbours(order):
                if time.perf_counter() > deadline:
                    return best_value, best_sched, False
                value, sched = self.evaluate(tuple(cand))
                if value < best_value - 1e-9:
                    best_value, best_sched, order, improved = value, sched, cand, True
                    break
        return best_value, best_sched, True

    def exact(self):
        best = None
        for order in itertools.permutations(self.repairs):
            value, sched = self.evaluate(order)
            if best is None or value < best[0] - 1e-9:
                best = (value, sched)
        return best


def _neighbours(order: list):
    """Orders one swap away, then orders one move (a repair taken out and put back elsewhere) away."""
    n = len(order)
    for i, j in itertools.combinations(range(n), 2):
        cand = order.copy()
        cand[i], cand[j] = cand[j], cand[i]
        yield cand
    for i in range(n):
        rest = order[:i] + order[i + 1:]
        for j in range(n):
            if j != i and j != i - 1:         # i - 1: the same as a swap of neighbours
                yield rest[:j] + [order[i]] + rest[j:]


def restore(scenario, net=None, crews: int | None = None, bound: bool = True,
            share: Restorer | None = None) -> dict:
    """Choose the repair order; return the chosen, greedy, listed and reference schedules with their
    objectives and timelines, the method used, whether it completed, and the MILP's lower bound
    (``gridsim.restoration_milp``; ``bound=False`` skips it). The MILP gets ``time_limit_s`` and the local
    search, seeded by the best of the greedy, listed and MILP orders, another ``time_limit_s``."""
    t0 = time.perf_counter()
    r = Restorer(scenario, net, crews, share)
    method = r.rest.method
    if method == "auto":
        method = "exact" if len(r.repairs) <= AUTO_EXACT else "local"
    if method == "exact" and len(r.repairs) > MAX_EXACT:
        from gridsim.errors import ScenarioError

        raise ScenarioError(f"restoration.method: exact tries every order, at most {MAX_EXACT} repairs; this "
                            f"scenario has {len(r.repairs)}: use local")
    greedy = r.evaluate(r.greedy_order())
    listed = r.evaluate(tuple(r.repairs))
    milp = milp_bound(r, r.rest.time_limit_s) if bound else MILPBound("not built: not asked")
    finalists, complete = _search(r, method, greedy, listed, milp)
    reference = r.reference()
    search_s = time.perf_counter() - t0
    greedy, listed, reference = (r.with_table(x) for x in (greedy, listed, reference))
    finalists = [r.with_table(x) for x in {x[1].key(): x for x in finalists}.values()]
    water_planned = r.runner.water is not None
    # by their timelines: with a river, each planned (the search valued orders without the plan)
    chosen = min((*finalists, greedy, listed), key=lambda x: x[0])
    return {"method": method, "water_planned": water_planned, "complete": complete, "crews": r.crews,
            "objective": r.rest.objective, "chosen": chosen, "greedy": greedy, "listed": listed,
            "reference": reference, "bound": milp, "evaluations": r.evaluations,
            "elapsed_s": time.perf_counter() - t0, "search_s": search_s, "restorer": r}


def _search(r: Restorer, method: str, greedy, listed, milp: MILPBound) -> tuple[list, bool]:
    """The method's best schedules (one per local search: from the greedy, listed and MILP orders, best seed
    first, sharing the time limit) and whether the search completed."""
    if method == "greedy":
        return [greedy], True
    if method == "exact":
        return [r.exact()], True
    seeds = [greedy, listed, *([r.evaluate(milp_order(r, milp))] if milp.back_h else [])]
    deadline, found, complete = time.perf_counter() + r.rest.time_limit_s, [], True
    for seed in sorted(seeds, key=lambda s: s[0]):
        *best, done = r.local_search(seed[1].order, deadline)
        found.append(tuple(best))
        complete = complete and done
    return found, complete


def milp_order(r: Restorer, milp: MILPBound) -> tuple[int, ...]:
    """The repairs in the order the MILP's best solution has them back (never back: last, by strike)."""
    back = milp.back_h
    return tuple(sorted(r.repairs, key=lambda a: (back.get(a) is None, back.get(a) or 0.0,
                                                  float(r.outages[a].at_h), a)))


SCHEDULE_COLUMNS = ["asset", "crew", "strike_h", "start_h", "end_h", "work_h", "mw_back_at_peak"]


def schedule_table(r: Restorer, sched: Schedule) -> pd.DataFrame:
    """One row per repair in the order crews take them; ``mw_back_at_peak``: unserved MW at full demand
    that its repair brings back, given the repairs finished before it."""
    rows = []
    for a in sched.order:
        before = {b for b in sched.order if b != a and sched.end_h[b] <= sched.end_h[a] - 1e-9}
        back = r._unserved_at_peak(before) - r._unserved_at_peak(before | {a})
        o = r.outages[a]
        rows.append({"asset": o.label, "crew": sched.crew[a] + 1, "strike_h": float(o.at_h),
                     "start_h": sched.start_h[a], "end_h": sched.end_h[a], "work_h": float(o.repair_h),
                     "mw_back_at_peak": back})
    return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)


def simulate_restoration(scenario, net=None, progress=None):
    """``gridsim run`` on a scenario with a restoration block: choose the order, then the timeline of the
    chosen schedule, with the schedule (``Result.restoration``), the greedy and listed orders' timelines
    beside it (``Result.restoration_compare``) and the comparison in the summary."""
    from gridsim.timeline import simulate_timeline

    out = restore(scenario, net)
    r = out["restorer"]
    value, sched, _ = out["chosen"]
    final = scenario.model_copy(update={"outages": repaired_at(r.outages, sched), "restoration": None})
    result = simulate_timeline(final, net=r.base, progress=progress)
    unit = OBJECTIVE_UNITS[out["objective"]]
    ref = out["reference"][0]
    result.summary["restoration"] = {
        "crews": out["crews"], "objective": out["objective"], "unit": unit, "method": out["method"],
        "complete": out["complete"], "evaluations": out["evaluations"], "search_s": out["elapsed_s"],
        "search_without_water_plan": out["water_planned"],
        "chosen": value, "greedy": out["greedy"][0], "listed_order": out["listed"][0],
        "no_waiting_reference": ref,
        "gap_to_reference": (value - ref) / value if value > 1e-9 else 0.0,
        "bound": out["bound"].bound, "bound_status": out["bound"].status,
        "gap_to_bound": out["bound"].gap(value), "bound_s": out["bound"].elapsed_s,
        "order": [r.outages[a].label for a in sched.order],
    }
    result.restoration = schedule_table(r, sched)
    frames = []
    for name in ("chosen", "greedy", "listed"):
        t = out[name][2].groupby("step")[["time_h", "demand_mw", "served_mw", "unserved_mw"]].agg(
            {"time_h": "first", "demand_mw": "sum", "served_mw": "sum", "unserved_mw": "sum"}).reset_index()
        t.insert(0, "order", name)
        t["objective_value"] = out[name][0]
        t["bound"] = out["bound"].bound
        t["gap_to_bound"] = out["bound"].gap(out[name][0])
        frames.append(t)
    result.restoration_compare = pd.concat(frames, ignore_index=True)
    return result


def compare_crews(scenario, crews: list[int], net=None) -> pd.DataFrame:
    """The restoration method for each number of crews: objective of the chosen, greedy and listed orders."""
    rows, shared = [], None
    for c in crews:
        out = restore(scenario, net, c, share=shared)
        shared = out["restorer"]
        rows.append({"crews": c, "method": out["method"], "complete": out["complete"],
                     "chosen": out["chosen"][0], "greedy": out["greedy"][0], "listed_order": out["listed"][0],
                     "no_waiting_reference": out["reference"][0], "bound": out["bound"].bound,
                     "gap_to_bound": out["bound"].gap(out["chosen"][0]), "bound_status": out["bound"].status,
                     "evaluations": out["evaluations"],
                     "time_s": out["elapsed_s"],
                     "order": " > ".join(out["restorer"].outages[a].label for a in out["chosen"][1].order)})
    return pd.DataFrame(rows)

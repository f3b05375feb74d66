"""``find_worst``: the worst attack of k assets for every k asked (the vulnerability curve), each attack
re-simulated with ``gridsim.simulate``; ``write_worst``: worst.csv and the figures, atomically.

The search runs on the DC model of the optimal response (``solver: dc``, ``response: optimal``, the scenario's
shedding weights, ratings and state), through the batch engine's ``PreparedModel`` and ``FastDCEvaluator``.
``exact`` solves the attacker-operator MILP (``gridsim.worst.milp``) started from the heuristic's attack;
``heuristic`` runs greedy plus swaps (``gridsim.worst.heuristic``) only, whose bound is the local-supply
bound (``gridsim.worst.bounds``; all demand where no bus serves its own load). ``auto`` is exact up to ``EXACT_MAX_BUSES`` buses. Every attack is then simulated with the
scenario's own solver and response, and both numbers are reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.errors import GridsimError
from gridsim.worst.assets import catalogue, check_worst_kind, resolve_protected
from gridsim.worst.bounds import local_supply_bound
from gridsim.worst.heuristic import AttackValues, greedy_swap
from gridsim.worst.milp import M_START, AttackMILP

#: worst.csv columns
WORST_COLUMNS = ("k", "assets", "shed_mw_dc", "shed_mw_resimulated", "gap", "bound_mw", "time_s", "method",
                 "status", "resimulated_status")
METHODS = ("auto", "exact", "heuristic")
#: ``auto`` solves the MILP up to this many buses, the heuristic above
EXACT_MAX_BUSES = 300
#: a re-evaluated attack above the MILP's value by more than this (MW) means the big-M cut its prices
TOL_MW = 1e-3
#: big-M doublings at most
M_DOUBLINGS = 3
SEP = " + "

#: progress(k, message)
WorstProgress = Callable[[int, str], None]


@dataclass
class Attack:
    """The worst attack found for one k."""

    k: int
    assets: list[str]
    positions: list[int]
    shed_mw_dc: float
    bound_mw: float
    gap: float
    time_s: float
    method: str
    status: str
    shed_mw_resimulated: float = float("nan")
    resimulated_status: str = ""
    result: object = field(default=None, repr=False)


@dataclass
class WorstCase:
    """The outcome of a search: the attack per k, what could not be hit, and the scenario it ran on."""

    scenario: object
    kind: str
    attacks: list[Attack]
    protected: list[str]
    n_assets: int
    base_mw: float
    places: dict = field(default_factory=dict)     # asset label -> (branch names, bus names), for the map

    def table(self) -> pd.DataFrame:
        rows = [{"k": a.k, "assets": SEP.join(a.assets), "shed_mw_dc": a.shed_mw_dc,
                 "shed_mw_resimulated": a.shed_mw_resimulated, "gap": a.gap, "bound_mw": a.bound_mw,
                 "time_s": a.time_s, "method": a.method, "status": a.status,
                 "resimulated_status": a.resimulated_status} for a in self.attacks]
        return pd.DataFrame(rows, columns=list(WORST_COLUMNS))


class Searcher:
    """The prepared model, its assets, the evaluator and the MILP of one scenario, shared by every k (and by
    the defender's iterations in ``gridsim.worst.protect``)."""

    def __init__(self, scenario, kind: str, net=None, big_m: float = M_START):
        from gridsim.batch.fast import FastDCEvaluator
        from gridsim.batch.run import _with

        check_worst_kind(kind)
        self.scenario, self.kind = scenario, kind
        dc = _with(scenario, solver="dc", response="optimal")
        try:
            self.ev = FastDCEvaluator(dc, net, lp="highs")
        except ValueError as exc:
            raise GridsimError(f"the worst-case search needs the batch engine's DC model: {exc}") from None
        self.pm = self.ev.model
        self.assets = catalogue(self.pm, kind)
        if not self.assets:
            raise GridsimError(f"network '{scenario.network}' has no {kind} assets whose loss changes anything")
        self.values = AttackValues(self.ev, self.assets)
        self.milp = AttackMILP(self.pm, self.assets, scenario.shedding)
        self.big_m = big_m
        self.total_mw = float(self.pm.demand.sum())
        self.base_mw = self.values(())

    def outcome(self, attacks: list[Attack], protected: set[int]) -> WorstCase:
        """The WorstCase of ``attacks``, with the map places of the attacked and protected assets."""
        from gridsim.worst.assets import element_names

        shown = set(protected) | {p for a in attacks for p in a.positions}
        places = {self.assets[p].label: element_names(self.pm, self.assets[p]) for p in shown}
        return WorstCase(self.scenario, self.kind, attacks, sorted(self.assets[i].label for i in protected),
                         len(self.assets), self.base_mw, places)

    def allowed(self, protected: set[int]) -> list[int]:
        return [i for i in range(len(self.assets)) if i not in protected]

    def worst(self, k: int, protected: set[int], method: str, time_limit_s: float | None = None,
              start: list[int] | None = None) -> Attack:
        """The worst attack of at most ``k`` unprotected assets by ``method`` (exact or heuristic)."""
        t0 = time.perf_counter()
        deadline = None if time_limit_s is None else t0 + time_limit_s
        allowed = self.allowed(protected)
        h_deadline = None if deadline is None else t0 + (time_limit_s if method == "heuristic" else
                                                         0.25 * time_limit_s)
        quick = {} if method == "heuristic" else {"kicks": 0, "pair_starts": 1}    # the MILP does the rest
        h = greedy_swap(self.values, allowed, k, deadline=h_deadline, starts=[start] if start else None, **quick)
        if method == "heuristic":
            if k == 1 and h.complete:       # every single asset was evaluated: the best one is the optimum
                return self._attack(k, h.attack, h.shed_mw, h.shed_mw, "heuristic", "optimal (enumerated)", t0)
            status = "local optimum" if h.complete else "time limit"
            bound = local_supply_bound(self.pm, self.assets, allowed, k, self.scenario.shedding)
            return self._attack(k, h.attack, h.shed_mw, max(bound, h.shed_mw), "heuristic", status, t0)
        best, bound, status = self._exact(k, allowed, h.attack, deadline)
        return self._attack(k, best, self.values(best), bound, "exact", status, t0)

    def _exact(self, k: int, allowed: list[int], incumbent: list[int], deadline) -> tuple[list[int], float, str]:
        keep = np.array(allowed, dtype=np.int64)
        big_m = self.big_m
        for _ in range(M_DOUBLINGS + 1):
            left = None if deadline is None else deadline - time.perf_counter()
            r = self.milp.solve_once(k, keep, big_m, time_limit_s=left, start=incumbent)
            found = self.values(r.attack) if r.attack or not incumbent else -1.0
            best = r.attack if found >= self.values(incumbent) else incumbent
            weighted = self.scenario.shedding == "priority"
            cut = not weighted and (found > r.objective + TOL_MW or self.values(incumbent) > r.bound + TOL_MW)
            if not cut or (deadline is not None and time.perf_counter() > deadline):
                status = "optimal" if r.status == "Optimal" else r.status.lower()
                bound = r.bound if not weighted else float("nan")
                return sorted(best), max(bound, self.values(best)) if not weighted else bound, status
            big_m *= 2.0       # the prices the attack needs sit beyond M: widen and solve again
            incumbent = best
        return sorted(best), float("nan"), "big-M limit"

    def _attack(self, k: int, positions: list[int], shed: float, bound: float, method: str, status: str,
                t0: float) -> Attack:
        gap = (bound - shed) / shed if shed > 1e-9 else (0.0 if bound <= 1e-9 else float("inf"))
        return Attack(k, [self.assets[p].label for p in positions], list(positions), shed, bound,
                      max(0.0, gap) if np.isfinite(gap) else gap, time.perf_counter() - t0, method, status)


def parse_k(text) -> list[int]:
    """``5`` -> [5]; ``1..5`` -> [1, 2, 3, 4, 5]; GridsimError otherwise."""
    if isinstance(text, int):
        return [text]
    s = str(text).strip()
    try:
        if ".." in s:
            lo, hi = (int(p) for p in s.split("..", 1))
            return list(range(lo, hi + 1)) if lo <= hi else []
        return [int(s)]
    except ValueError:
        raise GridsimError(f"--k must be a number K or a range 1..K, got '{text}'") from None


def find_worst(network_or_scenario, k, kind: str = "line", *, method: str = "auto",
               time_limit_s: float | None = None, protect: Iterable[str] = (), solver: str | None = None,
               big_m: float = M_START, resimulate: bool = True, progress: WorstProgress | None = None,
               net=None) -> WorstCase:
    """The worst attack of at most k assets of ``kind`` for every k of ``k`` (an int, a list, or "1..K"), with
    the scenario's ``protected`` assets and ``protect`` out of the attacker's reach; ``time_limit_s`` per k."""
    from gridsim.batch.run import as_scenario, prepare_checked

    if method not in METHODS:
        raise GridsimError(f"unknown method '{method}': expected one of {', '.join(METHODS)}")
    ks = parse_k(k) if not isinstance(k, (list, tuple, range)) else list(k)
    scenario = as_scenario(network_or_scenario, solver)
    net = prepare_checked(scenario, net)
    searcher = Searcher(scenario, kind, net, big_m)
    names = [*getattr(scenario, "protected", []), *protect]
    protected = resolve_protected(searcher.assets, names, kind)
    n_free = len(searcher.assets) - len(protected)
    check_ks(ks, n_free, kind)
    if method == "auto":
        method = "exact" if searcher.pm.n_bus <= EXACT_MAX_BUSES else "heuristic"
    attacks: list[Attack] = []
    prev: list[int] | None = None
    for kk in ks:
        if progress is not None:
            progress(kk, f"searching the worst {kk} {kind} asset(s) ({method})")
        att = searcher.worst(kk, protected, method, time_limit_s, start=prev)
        prev = att.positions
        if resimulate:
            if progress is not None:
                progress(kk, "re-simulating the attack")
            resimulate_attack(searcher, att, net)
        attacks.append(att)
    return searcher.outcome(attacks, protected)


def check_ks(ks: list[int], n_free: int, kind: str) -> None:
    if not ks:
        raise GridsimError("--k gives no value: write K or a range 1..K with 1 <= K")
    bad = [kk for kk in ks if not 1 <= kk <= n_free]
    if bad:
        raise GridsimError(f"k = {bad[0]} is out of range: between 1 and {n_free} ({n_free} {kind} asset(s) can "
                           "be hit)")


def resimulate_attack(searcher: Searcher, att: Attack, net) -> None:
    """Simulate the attack with the scenario's own solver and response (``gridsim.simulate``)."""
    from gridsim.metrics import check_invariants
    from gridsim.scenario.schema import YAML_FORM, Outage
    from gridsim.simulate import simulate

    sc = searcher.scenario
    items = [Outage.model_validate(dict(searcher.assets[p].item), context={YAML_FORM: True})
             for p in att.positions]
    case = sc.model_copy(update={"outages": [*sc.outages, *items]})
    case._base_dir = sc.base_dir
    result = simulate(case, net=net)
    check_invariants(result)
    att.shed_mw_resimulated = float(result.unserved_mw)
    att.resimulated_status = str(result.status)
    att.result = result


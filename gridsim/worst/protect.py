"""``protect_budget``: which P assets to protect so that the worst attack of k assets hurts least
(defender-attacker-operator), by iterating the attacker problem.

Each iteration solves the attacker problem against the current protection (``Searcher.worst``: exact or
heuristic) and adds its attack to a list of plans; the defender's master problem then picks the P assets (among
those the plans use) that minimise the worst plan, a plan losing its protected assets (the attacker may use any
subset of what remains). The master's value is a lower bound on the best protection's worst case (the plans are
some of the attacks); the best worst case found so far is an upper bound (exact attacker). The loop ends when
they meet, or when the master proposes a protection already tried (then they meet too), or at
``max_iterations``. This is the "protect the best-response sets" scheme of Brown, Carlyle, Salmeron and Wood
(2006, "Defending critical infrastructure"), with the master solved by enumeration over the plans' assets.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd

from gridsim.errors import GridsimError
from gridsim.worst.assets import resolve_protected
from gridsim.worst.search import METHODS, SEP, Searcher, WorstCase, check_ks, parse_k, resimulate_attack

#: worst values closer than this (MW) count as equal
TOL_MW = 1e-3
#: candidate protections the master enumerates at most (C(assets in plans, P))
MAX_MASTER_SETS = 200_000


@dataclass
class ProtectionPlan:
    """The protection chosen, the worst case before and after it, and how the iterations went."""

    protected: list[str]
    before: WorstCase
    after: WorstCase
    lower_bound_mw: float
    iterations: int
    status: str
    history: pd.DataFrame


class _Master:
    """The defender's problem over the attack plans found so far."""

    def __init__(self, searcher: Searcher, budget: int, fixed: set[int]):
        self.s, self.budget, self.fixed = searcher, budget, fixed
        self.plans: list[frozenset[int]] = []
        self._best_sub: dict[frozenset, float] = {}

    def best_within(self, assets: frozenset) -> float:
        """The worst shed of any subset of ``assets`` (the attacker need not use every asset of a plan)."""
        hit = self._best_sub.get(assets)
        if hit is None:
            items = sorted(assets)
            hit = max(self.s.values(c) for r in range(len(items) + 1) for c in combinations(items, r))
            self._best_sub[assets] = hit
        return hit

    def value(self, protect: frozenset) -> float:
        return max((self.best_within(p - protect) for p in self.plans), default=self.s.base_mw)

    def solve(self) -> tuple[float, frozenset]:
        pool = sorted(set().union(*self.plans) - self.fixed)
        size = min(self.budget, len(pool))
        n_sets = _n_choose(len(pool), size)
        if n_sets > MAX_MASTER_SETS:
            raise GridsimError(f"the protection master problem would try {n_sets:,} sets of {size} among "
                               f"{len(pool)} assets; lower --protect-budget or --k")
        best = (float("inf"), frozenset())
        for combo in combinations(pool, size):
            v = self.value(frozenset(combo))
            if v < best[0] - TOL_MW:
                best = (v, frozenset(combo))
        return best


def _n_choose(n: int, r: int) -> int:
    from math import comb

    return comb(n, r)


def protect_budget(network_or_scenario, k, kind: str, budget: int, *, method: str = "auto",
                   time_limit_s: float | None = None, protect=(), solver: str | None = None, big_m: float = 4.0,
                   progress=None, max_iterations: int = 25, net=None) -> ProtectionPlan:
    """The ``budget`` assets to protect against the worst attack of ``max(k)`` assets of ``kind``; ``before`` and
    ``after`` hold the worst case for every k of ``k`` without and with that protection."""
    from gridsim.batch.run import as_scenario, prepare_checked

    if method not in METHODS:
        raise GridsimError(f"unknown method '{method}': expected one of {', '.join(METHODS)}")
    if budget < 1:
        raise GridsimError(f"--protect-budget must be at least 1, got {budget}")
    ks = parse_k(k) if not isinstance(k, (list, tuple, range)) else list(k)
    scenario = as_scenario(network_or_scenario, solver)
    net = prepare_checked(scenario, net)
    s = Searcher(scenario, kind, net, big_m)
    fixed = resolve_protected(s.assets, [*getattr(scenario, "protected", []), *protect], kind)
    check_ks(ks, len(s.assets) - len(fixed) - budget, kind)
    if method == "auto":
        from gridsim.worst.search import EXACT_MAX_BUSES

        method = "exact" if s.pm.n_bus <= EXACT_MAX_BUSES else "heuristic"
    kmax = max(ks)
    master = _Master(s, budget, fixed)
    tried: dict[frozenset, float] = {}
    rows, chosen, lower, status = [], frozenset(), 0.0, "iteration limit"
    best = (float("inf"), frozenset())
    for it in range(1, max_iterations + 1):
        if progress is not None:
            progress(kmax, f"protection iteration {it}: attacker against {len(chosen)} protected")
        att = s.worst(kmax, fixed | chosen, method, time_limit_s)
        tried[chosen] = att.shed_mw_dc
        if att.shed_mw_dc < best[0] - TOL_MW:
            best = (att.shed_mw_dc, chosen)
        master.plans.append(frozenset(att.positions))
        lower, proposal = master.solve()
        rows.append({"iteration": it, "protected": SEP.join(s.assets[i].label for i in sorted(chosen)),
                     "worst_mw": att.shed_mw_dc, "attack": SEP.join(att.assets),
                     "best_worst_mw": best[0], "lower_bound_mw": lower})
        if best[0] - lower <= TOL_MW or proposal in tried:
            status = "optimal" if method == "exact" else "converged (heuristic attacker)"
            break
        chosen = proposal
    plan_set = best[1]
    before = _curve(s, ks, fixed, method, time_limit_s, net, progress)
    after = _curve(s, ks, fixed | plan_set, method, time_limit_s, net, progress)
    return ProtectionPlan(sorted(s.assets[i].label for i in plan_set), before, after, min(lower, best[0]),
                          len(rows), status, pd.DataFrame(rows))


def _curve(s: Searcher, ks, protected: set[int], method: str, time_limit_s, net, progress) -> WorstCase:
    attacks, prev = [], None
    for kk in ks:
        if progress is not None:
            progress(kk, f"worst case with {len(protected)} protected")
        att = s.worst(kk, protected, method, time_limit_s, start=prev)
        prev = att.positions
        resimulate_attack(s, att, net)
        attacks.append(att)
    return s.outcome(attacks, protected)


def write_protection(plan: ProtectionPlan, out_dir: str | Path) -> dict[str, Path]:
    """worst.csv (before and after, column ``protected``), protection.csv (the iterations), worst_curve.png
    (before and after) and worst_map.png (the worst attack after protection, protected assets in green)."""
    from gridsim._atomic import atomic_write_bytes, atomic_write_text
    from gridsim.report.ranking import png_bytes
    from gridsim.report.worst_plots import plot_vulnerability, plot_worst_map

    out = Path(out_dir)
    before = plan.before.table().assign(protected=SEP.join(plan.before.protected))
    after = plan.after.table().assign(protected=SEP.join(plan.after.protected))
    table = pd.concat([before, after], ignore_index=True)
    written = {"worst.csv": atomic_write_text(out / "worst.csv", table.to_csv(index=False, float_format="%.10g")),
               "protection.csv": atomic_write_text(out / "protection.csv",
                                                   plan.history.to_csv(index=False, float_format="%.10g"))}
    sc = plan.after.scenario
    title = f"{sc.name}: worst case of k {plan.after.kind} assets, protecting {SEP.join(plan.protected)}"
    fig = plot_vulnerability(plan.after.table(), title=title, before=plan.before.table())
    written["worst_curve.png"] = atomic_write_bytes(out / "worst_curve.png", png_bytes(fig))
    last = max(plan.after.attacks, key=lambda a: a.k)
    if last.result is not None:
        fig = plot_worst_map(last.result, last, plan.after.protected, plan.after.places, plan.after.kind)
        written["worst_map.png"] = atomic_write_bytes(out / "worst_map.png", png_bytes(fig))
    return written

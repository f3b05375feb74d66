"""Where more air defence helps most: greedy placement of N units on common random numbers, and the
exhaustive reference.

A unit placed at a candidate (a region, a substation or a plant among the attack's targets) raises the
interception probability of every target asset it covers to the scenario's ``attack.air_defence_unit``
probabilities (per weapon type; an asset keeps the higher of that and what it had). A second unit at the same
candidate adds nothing, so each candidate takes at most one unit.

Greedy: for unit k, every remaining candidate is evaluated on the same draws; the one that reduces the metric
most is placed. Each step reports the reduction with its standard error (paired over draws: the SE of the
mean of the per-draw differences; for p95 a paired bootstrap), and the runner-up. The search stops early when
the best reduction is not significant (below 1.96 SE) or when the best candidate is not significantly better
than the runner-up (their paired difference below 1.96 SE): more draws are needed to tell them apart, and
it says so. Greedy is not optimal in general: docs/salvo.md gives the bound and tests compare it with
``exhaustive_defence``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.errors import ScenarioError
from gridsim.salvo.plan import AttackPlan
from gridsim.salvo.policies import PolicyEvaluator
from gridsim.salvo.stats import Z95

CANDIDATE_KINDS = ("regions", "substations", "plants")
#: metric name -> (loss vector, statistic)
METRICS = {"mean": ("unserved_mw", "mean"), "p95": ("unserved_mw", "p95"), "ens": ("ens_mwh", "mean")}
BOOTSTRAP = 400


@dataclass(frozen=True)
class Candidate:
    name: str
    assets: tuple[int, ...]


def candidates(plan: AttackPlan, kind: str) -> list[Candidate]:
    """The places a unit can go: the regions of the target assets, or the target substations or plants."""
    if kind == "regions":
        regions = sorted({a.region for a in plan.assets if a.region})
        return [Candidate(r, tuple(i for i, a in enumerate(plan.assets) if a.region == r)) for r in regions]
    kinds = {"substations": ("substation", "bus"), "plants": ("plant", "unit")}.get(kind)
    if kinds is None:
        raise ScenarioError(f"unknown candidates '{kind}': expected {', '.join(CANDIDATE_KINDS)}")
    return [Candidate(a.label, (i,)) for i, a in enumerate(plan.assets) if a.kind in kinds]


def statistic(x: np.ndarray, stat: str) -> float:
    return float(np.mean(x)) if stat == "mean" else float(np.percentile(x, 95))


def paired_difference(a: np.ndarray, b: np.ndarray, stat: str, seed: int = 0) -> tuple[float, float]:
    """statistic(a) - statistic(b) and its standard error, the draws paired."""
    diff = statistic(a, stat) - statistic(b, stat)
    n = len(a)
    if n < 2:
        return diff, math.nan
    if stat == "mean":
        return diff, float(np.std(a - b, ddof=1) / math.sqrt(n))
    idx = np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP, n))
    boot = np.percentile(a[idx], 95, axis=1) - np.percentile(b[idx], 95, axis=1)
    return diff, float(boot.std(ddof=1))


@dataclass
class Defence:
    """The greedy placement: one row per unit (``defence.csv``) and why it stopped."""

    metric: str
    table: pd.DataFrame
    stopped: str
    evaluated_states: int
    baseline: float
    placed: list[str] = field(default_factory=list)


class _Search:
    def __init__(self, pe: PolicyEvaluator, kind: str, metric: str):
        if metric not in METRICS:
            raise ScenarioError(f"unknown metric '{metric}': expected {', '.join(METRICS)}")
        if metric == "ens" and pe.scenario.timeline is None:
            raise ScenarioError("--metric ens needs a timeline in the scenario (energy not served over time)")
        unit = pe.scenario.attack.air_defence_unit
        if not unit:
            raise ScenarioError("gridsim defend needs `attack.air_defence_unit: {<type>: <probability>, ...}`: the "
                                "interception probabilities one more unit gives what it covers")
        self.pe, self.unit, self.column, self.stat = pe, unit, *METRICS[metric]
        self.cands = candidates(pe.plan, kind)
        if not self.cands:
            raise ScenarioError(f"the attack's targets hold no {kind} to defend")

    def intercept(self, placed: tuple[int, ...]) -> np.ndarray:
        p = self.pe.plan.intercept
        for c in placed:
            p = _with_unit(self.pe.plan, p, self.unit, self.cands[c].assets)
        return p

    def losses(self, placements: list[tuple[int, ...]]) -> list[np.ndarray]:
        return [r[self.column] for r in self.pe.many([self.intercept(s) for s in placements])]


def _with_unit(plan: AttackPlan, p: np.ndarray, unit: dict, assets: tuple[int, ...]) -> np.ndarray:
    out = p.copy()
    for t, name in enumerate(plan.types):
        if name in unit and assets:
            out[t, list(assets)] = np.maximum(out[t, list(assets)], unit[name])
    return out


def greedy_defence(scenario, units: int, *, candidates_kind: str = "regions", metric: str = "mean",
                   keep_going: bool = False, only: list[str] | None = None, **kwargs) -> Defence:
    """Place ``units`` units one at a time (see the module docstring); ``only`` restricts the candidates to
    these names; ``kwargs`` go to ``PolicyEvaluator`` (draws, seed, workers, scheduler, net, progress)."""
    search = _Search(PolicyEvaluator(scenario, **kwargs), candidates_kind, metric)
    pool = [i for i, c in enumerate(search.cands) if only is None or c.name in only]
    placed: tuple[int, ...] = ()
    current = search.losses([placed])[0]
    baseline = statistic(current, search.stat)
    rows, stopped = [], f"placed all {units} units"
    for k in range(1, units + 1):
        options = [c for c in pool if c not in placed]
        if not options:
            stopped = f"no candidate left after {k - 1} units"
            break
        trial = search.losses([placed + (c,) for c in options])
        scored = sorted(((paired_difference(current, x, search.stat, seed=k), c, x) for c, x in zip(options, trial)),
                        key=lambda r: -r[0][0])
        (red, se), best, best_loss = scored[0]
        row = {"unit": k, "placed": search.cands[best].name, f"{metric}_before": statistic(current, search.stat),
               f"{metric}_after": statistic(best_loss, search.stat), "reduction": red, "reduction_se": se,
               "runner_up": "", "runner_up_reduction": math.nan, "lead": math.nan, "lead_se": math.nan}
        if len(scored) > 1:
            (red2, _), second, second_loss = scored[1]
            lead, lead_se = paired_difference(second_loss, best_loss, search.stat, seed=100 + k)
            row.update(runner_up=search.cands[second].name, runner_up_reduction=red2, lead=lead, lead_se=lead_se)
        if not red > Z95 * se:
            stopped = (f"unit {k}: no candidate reduces the {metric} significantly (best {row['placed']}: "
                       f"{red:,.1f} ± {se:,.1f})")
            if not keep_going:
                break
        elif len(scored) > 1 and not row["lead"] > Z95 * row["lead_se"] and not keep_going:
            stopped = (f"unit {k}: {row['placed']} is not significantly better than {row['runner_up']} "
                       f"({row['lead']:,.1f} ± {row['lead_se']:,.1f}); more draws are needed to choose")
            break
        placed += (best,)
        current = best_loss
        rows.append(row)
    table = pd.DataFrame(rows, columns=["unit", "placed", f"{metric}_before", f"{metric}_after", "reduction",
                                        "reduction_se", "runner_up", "runner_up_reduction", "lead", "lead_se"])
    return Defence(metric, table, stopped, search.pe.evaluated, baseline, [search.cands[c].name for c in placed])


def exhaustive_defence(scenario, units: int, *, candidates_kind: str = "regions", metric: str = "mean",
                       **kwargs) -> tuple[tuple[str, ...], float, pd.DataFrame]:
    """Every placement of ``units`` units on distinct candidates, on the same draws: the best placement, its
    metric, and the table of all placements (small cases only: C(candidates, units) evaluations)."""
    search = _Search(PolicyEvaluator(scenario, **kwargs), candidates_kind, metric)
    combos = list(itertools.combinations(range(len(search.cands)), units))
    if len(combos) > 5000:
        raise ScenarioError(f"{len(combos):,} placements are too many to enumerate (at most 5,000)")
    losses = search.losses(combos)
    values = [statistic(x, search.stat) for x in losses]
    table = pd.DataFrame({"placement": [" + ".join(search.cands[c].name for c in s) for s in combos],
                          metric: values}).sort_values(metric, ignore_index=True)
    best = combos[int(np.argmin(values))]
    return tuple(search.cands[c].name for c in best), float(min(values)), table

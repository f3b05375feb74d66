"""``run_salvo``: the Monte Carlo of a scenario's attack through the batch engine.

Draw ``d`` samples its weapons from (seed, d) alone (``gridsim.salvo.sampling``) and becomes one batch case
(``CaseSpec("draw 0000042", outage items)``) on top of the scenario's own state (its ``outages`` are present in
every draw). ``gridsim.batch.run_cases`` evaluates the cases on any executor into its SQLite store (one row per
draw; ``resume=True`` skips the draws the store holds), so the numbers are the same for any number of workers.
With ``until_se`` the draws run in blocks until the relative standard error of the mean unserved MW (ENS with
a timeline) is reached, or ``draws`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridsim.salvo.evaluators import SalvoFastEvaluator, TimelineEvaluator, ens_of, regions_of
from gridsim.salvo.plan import AttackPlan, plan_attack
from gridsim.salvo.sampling import Hits, draw_hits, sample_draw
from gridsim.salvo.stats import asset_table, region_table, summarise

DEFAULT_DRAWS, DEFAULT_SEED = 1000, 0
#: draws per block when running until a standard error is reached
BLOCK = 200
#: progress(done, total)
Progress = Callable[[int, int], None]


def draw_id(d: int) -> str:
    return f"draw {d:07d}"


def evaluator_for(scenario):
    """The evaluator class of a scenario's draws: the timeline's, the fast DC engine's, or ``simulate``."""
    if scenario.timeline is not None:
        return TimelineEvaluator
    if scenario.solver == "dc" and scenario.response in ("optimal", "none"):
        return SalvoFastEvaluator
    return "simulate"


@dataclass
class SalvoRun:
    """The draws of one run and what is made of them."""

    scenario: Any
    plan: AttackPlan
    seed: int
    draws: pd.DataFrame                 # one row per draw (draws.csv)
    hits: np.ndarray                    # (draws, assets) True where the asset was hit
    region_unserved: pd.DataFrame      # (draws, regions) unserved MW by region (the peak step with a timeline)
    summary: dict[str, Any] = field(default_factory=dict)
    assets: pd.DataFrame = field(default_factory=pd.DataFrame)
    regions: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def metric(self) -> str:
        return "ens_mwh" if "ens_mwh" in self.draws and self.draws["ens_mwh"].notna().any() else "unserved_mw"


def run_salvo(scenario, *, draws: int | None = None, seed: int | None = None, workers: int | None = None,
              scheduler: str | None = None, out_dir: str | Path | None = None, resume: bool = False,
              until_se: float | None = None, progress: Progress | None = None, net=None,
              evaluator=None, block: int = BLOCK) -> SalvoRun:
    """Run the attack of ``scenario`` as a Monte Carlo; see the module docstring. ``until_se`` is a fraction
    (0.01: stop once the standard error of the mean is 1 % of the mean), checked after ``block`` draws and then
    each time the number of draws has doubled."""
    from gridsim.batch.run import prepare_checked, run_cases

    n_max = int(draws or scenario.draws or DEFAULT_DRAWS)
    seed = int(scenario.seed if seed is None and scenario.seed is not None else seed or DEFAULT_SEED)
    # the run's identity in the store: the scenario with its seed, without the number of draws (a resumed run
    # may ask for more)
    run_sc = scenario.model_copy(update={"draws": None, "seed": seed})
    base = prepare_checked(run_sc, net)
    plan = plan_attack(run_sc, base)
    frames, hits = [], []
    done = 0
    while done < n_max:
        stop = n_max if until_se is None else min(n_max, max(done + block, 2 * done))
        block = [(d, draw_hits(plan, sample_draw(plan, seed, d))) for d in range(done, stop)]
        cases = [_case(plan, d, h) for d, h in block]
        df = run_cases(run_sc, cases, evaluator=evaluator or evaluator_for(run_sc), workers=workers,
                       scheduler=scheduler, out_dir=out_dir, resume=resume or done > 0, label="salvo",
                       net=base, progress=None if progress is None else
                       (lambda k, n, off=done: progress(off + k, n_max if until_se is None else off + n)))
        frames.append(_draw_rows(df, block, plan))
        hits += [_hit_row(plan, h) for _, h in block]
        done = stop
        if until_se is not None and _converged(pd.concat(frames), until_se):
            break
    table = pd.concat(frames, ignore_index=True)
    by_region = pd.DataFrame(list(table.pop("_regions"))).fillna(0.0)
    run = SalvoRun(run_sc, plan, seed, table, np.array(hits, dtype=bool).reshape(len(table), len(plan.assets)),
                   by_region)
    loss = table[run.metric].to_numpy(float)
    run.assets = asset_table(plan, run.hits, loss)
    run.regions = region_table(plan, run.hits, loss, by_region)
    run.summary = summarise(run, until_se=until_se, requested=n_max)
    return run


def _case(plan: AttackPlan, d: int, hits: Hits):
    from gridsim.batch.cases import CaseSpec

    return CaseSpec(draw_id(d), hits.outage_items(plan))


def _hit_row(plan: AttackPlan, hits: Hits) -> np.ndarray:
    row = np.zeros(len(plan.assets), dtype=bool)
    row[hits.assets] = True
    return row


def _draw_rows(df: pd.DataFrame, block: list[tuple[int, Hits]], plan: AttackPlan) -> pd.DataFrame:
    """draws.csv rows: the draw, the weapons through, what was hit, the batch record's numbers."""
    ids = [draw_id(d) for d, _ in block]
    rec = df.loc[ids]
    out = pd.DataFrame({
        "draw": [d for d, _ in block],
        "weapons_through": [h.n_through for _, h in block],
        "assets_hit": [len(h.assets) for _, h in block],
        "hit": ["; ".join(f"{plan.assets[a].label}" + (f" ({r:.0%} left)" if plan.assets[a].deratable else "")
                          for a, r in zip(h.assets, h.remaining)) for _, h in block],
    })
    for col in ("unserved_mw", "critical_unserved_mw", "unserved_isolated_mw", "unserved_deficit_mw",
                "unserved_network_mw"):
        out[col] = rec[col].to_numpy(float)
    if plan.timeline:
        out["ens_mwh"] = [ens_of(x, m) for x, m in zip(rec["extras"], rec["message"])]
    out["status"] = rec["status"].to_numpy()
    failed = rec["status"].isin(("failed", "timeout", "died")).to_numpy()
    out["message"] = np.where(failed, rec["message"].astype(str).to_numpy(), "")
    out["_regions"] = [regions_of(x, m) for x, m in zip(rec["extras"], rec["message"])]
    return out


def _converged(table: pd.DataFrame, until_se: float) -> bool:
    col = "ens_mwh" if "ens_mwh" in table else "unserved_mw"
    x = table[col].dropna().to_numpy(float)
    if len(x) < 2:
        return False
    mean, sem = float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))
    return sem <= until_se * abs(mean) or (mean == 0.0 and sem == 0.0)

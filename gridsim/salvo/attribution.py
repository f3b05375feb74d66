"""A counterfactual attribution of the loss to the target assets: what making one asset immune would save.

For asset ``a`` every weapon aimed at it is intercepted (its column of the interception matrix set to 1) and the
same draws are evaluated again (common random numbers): ``avoided_a`` is the mean over draws of
``loss(draw) - loss(draw without a's hits)``, with the standard error of that paired mean. Unlike the
difference of means in ``stats.asset_table`` it is a well-defined expected saving, and it is what perfect point
defence of the asset would buy; it is still not additive (two assets that only matter together each avoid
little alone). It costs one evaluation per draw that hits the asset, so it runs on ``draws`` draws of its own.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gridsim.salvo.policies import PolicyEvaluator
from gridsim.salvo.sampling import draw_hits


def immunity_table(scenario, *, metric: str = "unserved_mw", **kwargs) -> pd.DataFrame:
    """One row per target asset: its hit probability over these draws and the loss its immunity avoids (mean,
    SE), largest first; ``kwargs`` go to ``PolicyEvaluator`` (draws, seed, workers, scheduler, net, progress)."""
    pe = PolicyEvaluator(scenario, **kwargs)
    plan = pe.plan
    policies = []
    for a in range(len(plan.assets)):
        p = plan.intercept.copy()
        p[:, a] = 1.0
        policies.append(p)
    base, *immune = pe.many([None, *policies])
    hit = np.zeros((pe.n, len(plan.assets)), dtype=bool)
    for d, s in enumerate(pe.samples):
        hit[d, draw_hits(plan, s).assets] = True
    rows = []
    for a, (asset, res) in enumerate(zip(plan.assets, immune)):
        diff = base[metric] - res[metric]
        rows.append({"asset": asset.label, "region": asset.region, "hit_probability": float(hit[:, a].mean()),
                     f"avoided_{metric}": float(diff.mean()),
                     "avoided_sem": float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan})
    return pd.DataFrame(rows).sort_values(f"avoided_{metric}", ascending=False, ignore_index=True)

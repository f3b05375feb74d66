"""Statistics of a salvo's draws, with their uncertainty.

- ``describe(x)``: ``{mean, sem, p50, p90, p95, p99, max}``; ``sem`` is the standard error of the mean
  (sample standard deviation / sqrt(n)); percentiles are numpy's linear interpolation.
- ``exceedance(x)``: P(loss > x) at every observed loss, with a 95 % confidence band that holds for the whole
  curve at once (Dvoretzky-Kiefer-Wolfowitz: ± sqrt(ln(2/0.05) / 2n)).
- ``asset_table``: per asset, the probability that a draw hits it and its *mean contribution*: the mean loss
  of the draws that hit it minus the mean loss of the draws that do not (a difference of two sample means, with
  its standard error). It is not additive: assets hit together share the loss, and an asset hit in most draws
  is compared with few draws. It answers "how much worse is a draw that hits this asset".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

QUANTILES = (50, 90, 95, 99)
#: statuses of draws that have no numbers (a failed, timed-out or worker-killing case)
BAD_STATUSES = ("failed", "timeout", "died")
#: two-sided 95 % normal quantile (significance of differences, defence stops)
Z95 = 1.96


def describe(x) -> dict[str, float]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return {k: math.nan for k in ("mean", "sem", *(f"p{q}" for q in QUANTILES), "max")}
    out = {"mean": float(x.mean()), "sem": float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan}
    out.update({f"p{q}": float(v) for q, v in zip(QUANTILES, np.percentile(x, QUANTILES))})
    out["max"] = float(x.max())
    return out


def exceedance(x, alpha: float = 0.05) -> pd.DataFrame:
    """Columns ``loss``, ``p_exceed`` (share of draws with a loss above it), ``low``, ``high`` (DKW band)."""
    x = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    n = len(x)
    if not n:
        return pd.DataFrame(columns=["loss", "p_exceed", "low", "high"])
    values = np.unique(x)
    p = 1.0 - np.searchsorted(x, values, side="right") / n
    eps = math.sqrt(math.log(2.0 / alpha) / (2.0 * n))
    return pd.DataFrame({"loss": values, "p_exceed": p, "low": np.clip(p - eps, 0, 1), "high": np.clip(p + eps, 0, 1)})


def asset_table(plan, hits: np.ndarray, loss: np.ndarray) -> pd.DataFrame:
    """One row per target asset (see the module docstring)."""
    ok = np.isfinite(loss)
    hits, loss = hits[ok], loss[ok]
    rows = []
    for i, asset in enumerate(plan.assets):
        h = hits[:, i]
        hit, miss = loss[h], loss[~h]
        diff = se = math.nan
        if len(hit) and len(miss):
            diff = float(hit.mean() - miss.mean())
            se = math.sqrt((hit.var(ddof=1) / len(hit) if len(hit) > 1 else 0.0)
                           + (miss.var(ddof=1) / len(miss) if len(miss) > 1 else 0.0))
        rows.append({"asset": asset.label, "kind": asset.kind, "region": asset.region,
                     "target_share": float(plan.target_p[i]), "hit_probability": float(h.mean()) if len(h) else 0.0,
                     "mean_loss_if_hit": float(hit.mean()) if len(hit) else math.nan,
                     "contribution": diff, "contribution_sem": se})
    return pd.DataFrame(rows).sort_values(["contribution", "hit_probability"], ascending=False,
                                          na_position="last").reset_index(drop=True)


def region_table(plan, hits: np.ndarray, loss: np.ndarray, unserved: pd.DataFrame) -> pd.DataFrame:
    """Per region: its target assets, the probability that a draw hits at least one of them, and the mean
    (with SEM) and p95 of the unserved MW *in the region* over the draws (``unserved``: draws x regions)."""
    ok = np.isfinite(loss)
    regions = sorted({a.region for a in plan.assets} | set(unserved.columns))
    rows = []
    for r in regions:
        cols = [i for i, a in enumerate(plan.assets) if a.region == r]
        h = hits[ok][:, cols].any(axis=1) if cols else np.zeros(int(ok.sum()), dtype=bool)
        mw = unserved[r].to_numpy(float)[ok] if r in unserved else np.zeros(int(ok.sum()))
        d = describe(mw)
        rows.append({"region": r, "target_assets": len(cols), "hit_probability": float(h.mean()) if len(h) else 0.0,
                     "unserved_mw_mean": d["mean"], "unserved_mw_sem": d["sem"], "unserved_mw_p95": d["p95"]})
    return pd.DataFrame(rows).sort_values("unserved_mw_mean", ascending=False, ignore_index=True)


def summarise(run, *, until_se: float | None, requested: int) -> dict[str, Any]:
    """summary.json of a run."""
    t = run.draws
    good = t[~t["status"].isin(BAD_STATUSES)]
    out: dict[str, Any] = {
        "scenario": run.scenario.name, "network": run.scenario.network, "seed": run.seed, "draws": int(len(t)),
        "draws_requested": requested, "draws_failed": int(len(t) - len(good)),
        "weapons": {w.type: w.count for w in run.scenario.attack.weapons},
        "unserved_mw": describe(good["unserved_mw"]),
        "critical_unserved_mw": describe(good["critical_unserved_mw"]),
        "weapons_through": describe(t["weapons_through"]),
        "p_any_loss": float((good["unserved_mw"] > 1e-6).mean()) if len(good) else math.nan,
        "statuses": {str(k): int(v) for k, v in t["status"].value_counts().items()},
        "attribution": "contribution = mean loss of draws that hit the asset - mean loss of draws that do not",
        "compounding": "several hits on one asset: product of the remaining fractions; repair: the longest",
    }
    if "ens_mwh" in t:
        out["ens_mwh"] = describe(good["ens_mwh"])
    if until_se is not None:
        m = out["ens_mwh" if "ens_mwh" in t else "unserved_mw"]
        rel = m["sem"] / m["mean"] if m["mean"] else (0.0 if m["sem"] == 0 else math.inf)
        out["until_se"] = {"target": until_se, "reached": bool(rel <= until_se), "relative_se": rel}
    out["assets"] = run.assets.head(50).to_dict(orient="records")
    out["regions"] = run.regions.to_dict(orient="records")
    return out

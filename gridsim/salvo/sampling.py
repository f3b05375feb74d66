"""One draw of a salvo: which asset each weapon aims at, whether it is intercepted, what a hit does.

Every draw has its own random stream, made from the seed and the draw's index alone
(``numpy.random.SeedSequence(seed, spawn_key=(draw,))``, the stream ``SeedSequence(seed).spawn(n)[draw]``
gives), so a draw's numbers do not depend on which worker runs it, in which order, or whether the run was
resumed. Each draw takes the same uniforms in the same layout whatever the probabilities are: one row for the
target, one for the interception, one for the derate and one for the repair time of every weapon. A weapon
aimed at asset ``a`` is intercepted when its uniform is below the interception probability, so two policies
evaluated on the same draws see the same weapons, the same targets and the same damage, and a better air
defence only removes hits (common random numbers: differences are the policy's, not the noise's).

Several hits on one asset compound as the *product of the remaining fractions* (two hits that each leave
50 % leave 25 %); the asset is back when its last repair is done (the longest repair time). Substations,
lines and transformers cannot be derated: one hit takes them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gridsim.salvo.plan import AttackPlan

#: rows of a draw's uniforms
TARGET, INTERCEPT, DERATE, REPAIR = range(4)


def draw_rng(seed: int, draw: int) -> np.random.Generator:
    """The random stream of one draw: a function of (seed, draw) only."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(int(draw),))))


@dataclass(frozen=True)
class DrawSample:
    """What one draw decided for every weapon (policy-independent)."""

    draw: int
    asset: np.ndarray      # asset index each weapon aims at
    u_intercept: np.ndarray
    derate: np.ndarray     # capacity fraction left if it hits
    repair_h: np.ndarray   # hours to repair if it hits (nan: not repaired)


def sample_draw(plan: AttackPlan, seed: int, draw: int) -> DrawSample:
    n = len(plan.weapon_type)
    u = draw_rng(seed, draw).random((4, n))
    asset = np.minimum(np.searchsorted(plan.cum_p, u[TARGET], side="right"), len(plan.assets) - 1)
    lo, hi = plan.derate_range[plan.weapon_type].T
    rlo, rhi = plan.repair_range[plan.weapon_type].T
    return DrawSample(draw, asset, u[INTERCEPT], lo + u[DERATE] * (hi - lo), rlo + u[REPAIR] * (rhi - rlo))


def through(plan: AttackPlan, sample: DrawSample, intercept: np.ndarray | None = None) -> np.ndarray:
    """Which weapons get through (a weapon is intercepted when its uniform is below the probability)."""
    p = plan.intercept if intercept is None else intercept
    return sample.u_intercept >= p[plan.weapon_type, sample.asset]


@dataclass(frozen=True)
class Hits:
    """The damage of one draw under one interception policy: per hit asset, what remains and the repair."""

    assets: np.ndarray       # asset indices hit (sorted)
    remaining: np.ndarray    # capacity fraction left (product over its hits; 0 for what cannot be derated)
    repair_h: np.ndarray     # longest repair time of its hits (nan: not repaired)
    n_through: int

    def outage_items(self, plan: AttackPlan) -> tuple[dict[str, Any], ...]:
        """The draw's damage as scenario outage items (YAML form), one per hit asset."""
        items = []
        for a, left, rep in zip(self.assets, self.remaining, self.repair_h):
            asset = plan.assets[int(a)]
            item: dict[str, Any] = asset.outage_item()
            if asset.deratable:
                item["derate"] = round(float(left), 9)
            if plan.timeline:
                if plan.at_h:
                    item["at_h"] = float(plan.at_h)
                if np.isfinite(rep):
                    item["repair_h"] = round(float(rep), 6)
            items.append(item)
        return tuple(items)


def draw_hits(plan: AttackPlan, sample: DrawSample, intercept: np.ndarray | None = None) -> Hits:
    ok = through(plan, sample, intercept)
    hit_assets = sample.asset[ok]
    if not len(hit_assets):
        return Hits(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), 0)
    assets, inverse = np.unique(hit_assets, return_inverse=True)
    remaining = np.ones(len(assets))
    np.multiply.at(remaining, inverse, sample.derate[ok])
    repair = np.full(len(assets), -np.inf)
    np.maximum.at(repair, inverse, np.where(np.isnan(sample.repair_h[ok]), np.inf, sample.repair_h[ok]))
    repair = np.where(np.isinf(repair), np.nan, repair)
    return Hits(assets, remaining, repair, int(ok.sum()))


def sample_draws(plan: AttackPlan, seed: int, draws) -> list[DrawSample]:
    return [sample_draw(plan, seed, d) for d in draws]

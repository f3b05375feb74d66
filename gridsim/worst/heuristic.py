"""Greedy plus swap local search for the worst k-asset attack, every candidate evaluated by the batch engine.

``AttackValues`` evaluates attacks (sets of positions into the asset list) with ``FastDCEvaluator`` on the
scenario's prepared model (the optimal response's warm-started shedding LP) and remembers them. The search is
seeded by the single-asset ranking (every asset alone, as ``gridsim rank`` ranks them: most unserved MW first,
ties by how heavily the asset is used in the base state), starts from the best pair among the top singles,
adds the best asset k-2 times (greedy) and then swaps one asset in and one out while that helps (first
improvement), until no swap helps or the deadline passes. Its value is a feasible attack, so a lower bound on
the worst case; it gives no upper bound of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from gridsim.worst.assets import Asset, attack_masks

#: singles kept as candidates (the pool the greedy and the swaps draw from)
POOL = 60
#: the best pair is sought among this many top singles
PAIR_POOL = 24
#: a value must grow by more than this (MW) to count as an improvement
IMPROVE_MW = 1e-6
#: greedy starts from this many of the best pairs
PAIR_STARTS = 4
#: perturbations of the best attack (replace a few assets at random, then swap again) without a deadline
KICKS = 12


class AttackValues:
    """Unserved MW of attacks through a ``FastDCEvaluator`` (cached by the set of asset positions)."""

    def __init__(self, evaluator, assets: list[Asset]):
        self.ev, self.assets = evaluator, assets
        self.cache: dict[frozenset, float] = {}
        self.n_evaluated = 0

    def __call__(self, attack) -> float:
        key = frozenset(int(a) for a in attack)
        hit = self.cache.get(key)
        if hit is None:
            rec = self.ev.evaluate_masks(attack_masks([self.assets[a] for a in sorted(key)]))
            hit = float(rec["unserved_mw"])
            self.cache[key] = hit
            self.n_evaluated += 1
        return hit

    def singles(self, allowed: list[int]) -> dict[int, float]:
        """Every allowed asset alone, as ``gridsim rank`` evaluates them: ``evaluate_many`` does the branches
        that need no LP together (one PTDF block each)."""
        from gridsim.batch.cases import CaseSpec

        todo = [a for a in allowed if frozenset((a,)) not in self.cache]
        recs = self.ev.evaluate_many([CaseSpec(self.assets[a].label, (self.assets[a].item,)) for a in todo])
        for a, rec in zip(todo, recs):
            v = float(rec["unserved_mw"])
            self.cache[frozenset((a,))] = v if v == v else self((a,))   # a failed record: the masks' own value
            self.n_evaluated += 1
        return {a: self((a,)) for a in allowed}


def seed_order(values: AttackValues, allowed: list[int]) -> list[int]:
    """The allowed assets in two rankings merged turn by turn: as the single-asset ranking orders them (most
    unserved MW alone first, ties by use), and by use alone: the MW the asset carries or supplies in the base
    state. Assets harmless alone but heavily used (a large plant covered by reserves) are the ones that hurt in
    combination, so both kinds enter the candidate pool."""
    ev = values.ev
    pm = ev.model
    flow = np.abs(ev.base_flow)
    load_mw = np.bincount(pm.load_bus, weights=pm.demand, minlength=pm.n_bus)
    single = values.singles(allowed)

    def used(a: int) -> float:
        m = values.assets[a].masks
        return float(flow[m.branch_out].sum() + pm.gen_cap[m.gen_out].sum() + load_mw[m.bus_dead].sum())

    use = {a: used(a) for a in allowed}
    by_single = sorted(allowed, key=lambda a: (-round(single[a], 6), -use[a], a))
    by_use = sorted(allowed, key=lambda a: (-use[a], a))
    merged = [a for pair in zip(by_single, by_use) for a in pair]
    return list(dict.fromkeys(merged))


@dataclass
class HeuristicResult:
    attack: list[int]
    shed_mw: float
    n_evaluated: int
    time_s: float
    complete: bool       # the local search ended in a local optimum (not at the deadline)


def greedy_swap(values: AttackValues, allowed: list[int], k: int, deadline: float | None = None,
                starts: list[list[int]] | None = None, pool: int = POOL,
                progress: Callable[[int, float], None] | None = None, kicks: int | None = None,
                pair_starts: int = PAIR_STARTS) -> HeuristicResult:
    """The worst attack of at most ``k`` of the ``allowed`` assets the search finds (see the module doc);
    ``starts`` are further attacks to improve (e.g. the worst attack of k-1 assets); ``kicks`` perturbations of
    the best attack (default: until the deadline, or ``KICKS`` without one)."""
    t0 = time.perf_counter()
    n0 = values.n_evaluated
    order = seed_order(values, allowed)
    cand = order[:max(pool, k)]
    best: tuple[float, list[int]] = (values(()), [])
    pairs = _best_pairs(values, cand[:PAIR_POOL], pair_starts) if k >= 2 else [[]]
    firsts = [_greedy(values, cand, k, p, deadline) for p in pairs]
    for s in starts or []:
        s = [a for a in s if a in set(allowed)][:k]
        firsts.append(_greedy(values, cand, k, s, deadline))
    complete = True
    for s in firsts:
        s, done = _swap(values, cand, s, deadline, progress)
        complete &= done
        v = values(s)
        if v > best[0] + IMPROVE_MW:
            best = (v, s)
    rng = np.random.default_rng(len(allowed) * 1000 + k)
    kick = 0
    limit = kicks if kicks is not None else (None if deadline is not None else KICKS)
    while k >= 2 and len(cand) > k and not _late(deadline) and (limit is None or kick < limit):
        kick += 1
        keep = list(rng.choice(best[1], size=max(0, len(best[1]) - 1 - kick % 2), replace=False))
        others = [a for a in cand if a not in keep]
        s = keep + list(rng.choice(others, size=min(k - len(keep), len(others)), replace=False))
        s, done = _swap(values, cand, [int(a) for a in s], deadline, progress)
        v = values(s)
        if v > best[0] + IMPROVE_MW:
            best = (v, s)
    return HeuristicResult(sorted(best[1]), best[0], values.n_evaluated - n0, time.perf_counter() - t0,
                           complete and (deadline is None or not _late(deadline)))


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _best_pairs(values: AttackValues, cand: list[int], n: int) -> list[list[int]]:
    """The ``n`` pairs among ``cand`` whose loss sheds most (ties: the earlier candidates)."""
    scored = sorted(((-values((a, b)), i, j) for (i, a), (j, b) in combinations(enumerate(cand), 2)))
    return [[cand[i], cand[j]] for _, i, j in scored[:n]] or [[]]


def _greedy(values: AttackValues, cand: list[int], k: int, start: list[int], deadline) -> list[int]:
    s = list(start)
    while len(s) < k and not _late(deadline):
        gains = [(values(s + [a]), -i, a) for i, a in enumerate(cand) if a not in s]
        if not gains:
            break
        s.append(max(gains)[2])     # the best addition, even if none helps yet (a later swap may use it)
    return s


def _swap(values: AttackValues, cand: list[int], s: list[int], deadline, progress) -> tuple[list[int], bool]:
    s = list(s)
    cur = values(s)
    improved = True
    while improved:
        improved = False
        for out in list(s):
            for a in cand:
                if a in s:
                    continue
                if _late(deadline):
                    return s, False
                trial = [b for b in s if b != out] + [a]
                v = values(trial)
                if v > cur + IMPROVE_MW:
                    s, cur, improved = trial, v, True
                    if progress is not None:
                        progress(values.n_evaluated, cur)
                    break
            if improved:
                break
    return s, True

"""The evaluators a salvo's draws run on (``gridsim.batch`` evaluators: ``cls(scenario, net=None)`` with
``evaluate(case)``, importable so that worker processes can build them).

- ``SalvoFastEvaluator``: the batch engine's ``FastDCEvaluator`` with the whole-model warm shedding LP
  (``lp="full"``, without ``optimal_shed``'s reference where load is shed). Salvo draws shed load in most
  islands and break many limits at once, so adding violated limit rows one round at a time (``lp="highs"``)
  is several times slower here (bench/bench_salvo.py, quiet machine: 2,000 draws 7.2 s vs 67 s on 2 workers); the shed per island
  is the same, and tests/test_salvo.py checks unserved and critical MW against ``simulate()``.
- ``TimelineEvaluator``: each draw through ``gridsim.timeline.simulate_timeline`` (the scenario's timeline, the
  draw's hits striking at ``attack.at_h`` and coming back after their repair time), so repairs count. The batch
  record holds the peak step's numbers (``unserved_mw``, critical MW, causes); the energy not served of the
  draw goes into the record's extras as ``ens_mwh``.

Both put the draw's unserved MW by region into the record's extras as ``regions_mw`` (``{"A": 1.5, ...}``),
for the map of unserved demand by region. The extras are the batch store's JSON ``extras`` column
(``gridsim.batch.store``); ``ens_of`` and ``regions_of`` read them back from a stored row (and, for a store
written by an older gridsim, from the ``ens_mwh=…; regions_mw={…}`` tags it put into the message).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from gridsim.batch.cases import EXTRAS, SimulateEvaluator, record_of
from gridsim.batch.fast import FastDCEvaluator
from gridsim.batch.store import extras_of

ENS, REGIONS = "ens_mwh", "regions_mw"
#: the tags of stores written before the extras column (read only)
_LEGACY_ENS = re.compile(r"ens_mwh=([-+0-9.eE]+|nan)")
_LEGACY_REGIONS = re.compile(r"regions_mw=(\{[^}]*\})")


class SalvoFastEvaluator(FastDCEvaluator):
    def __init__(self, scenario, net=None):
        self._load_region = None
        super().__init__(scenario, net, lp="full")

    def _record(self, st, n_over: int, notes: list[str]) -> dict[str, Any]:
        rec = super()._record(st, n_over, notes)
        if self._load_region is None:
            load = self.model.damaged.load
            region = self.model.damaged.bus.get("region")
            names = (region.reindex(load["bus"]).fillna("").astype(str).to_numpy() if region is not None
                     else np.full(len(load), "", dtype=object))
            self._region_names, self._load_region = np.unique(names, return_inverse=True)
        by_region = np.bincount(self._load_region, weights=st.isolated + st.deficit + st.network,
                                minlength=len(self._region_names))
        rec[EXTRAS] = {REGIONS: _regions(dict(zip(self._region_names, by_region)))}
        return rec


class TimelineEvaluator(SimulateEvaluator):
    """One ``simulate_timeline`` per draw, on the scenario's prepared network."""

    def solve(self, scenario):
        from gridsim.timeline import simulate_timeline

        return simulate_timeline(scenario, net=self.base)

    def record(self, result, time_s: float) -> dict[str, Any]:
        rec = record_of(result, time_s)
        ens = float(result.summary["energy_not_served_mwh"])
        regions = result.regions["unserved_mw"].astype(float).to_dict() if len(result.regions) else {}
        rec[EXTRAS] = {ENS: ens, REGIONS: _regions(regions)}
        return rec


def _regions(regions: dict) -> dict[str, float]:
    return {str(k): round(float(v), 3) for k, v in regions.items()}


def regions_of(extras: Any, message: Any = None) -> dict[str, float]:
    """The unserved MW by region of a stored salvo row (its ``extras``; ``message`` for an older store)."""
    got = extras_of(extras).get(REGIONS)
    if got is not None:
        return {str(k): float(v) for k, v in got.items()}
    m = _LEGACY_REGIONS.search(str(message or ""))
    return json.loads(m.group(1)) if m else {}


def ens_of(extras: Any, message: Any = None) -> float:
    """The energy not served of a stored ``TimelineEvaluator`` row (nan if none)."""
    got = extras_of(extras).get(ENS)
    if got is not None:
        return float(got)
    m = _LEGACY_ENS.search(str(message or ""))
    return float(m.group(1)) if m else math.nan

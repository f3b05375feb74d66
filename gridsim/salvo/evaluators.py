"""The evaluators a salvo's draws run on (``gridsim.batch`` evaluators: ``cls(scenario, net=None)`` with
``evaluate(case)``, importable so that worker processes can build them).

- ``SalvoFastEvaluator``: the batch engine's ``FastDCEvaluator`` with the warm-started shedding LP
  (``lp="highs"``), 2-3x faster than its default on salvo draws (which shed load in most islands); the shed per
  island is the same, and tests/test_salvo.py checks unserved and critical MW against ``simulate()``.
- ``TimelineEvaluator``: each draw through ``gridsim.timeline.simulate_timeline`` (the scenario's timeline, the
  draw's hits striking at ``attack.at_h`` and coming back after their repair time), so repairs count. The batch
  record holds the peak step's numbers (``unserved_mw``, critical MW, causes); the energy not served of the
  draw goes into the record's ``message`` as ``ens_mwh=<number>`` (the batch store has no column for it: see
  docs/salvo.md), read back by ``ens_of``.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from gridsim.batch.cases import FAILED, CaseSpec, failed_record, outage_models, record_of
from gridsim.batch.fast import FastDCEvaluator

ENS_TAG = "ens_mwh="
_ENS = re.compile(r"^ens_mwh=([-+0-9.eE]+|nan)")


class SalvoFastEvaluator(FastDCEvaluator):
    def __init__(self, scenario, net=None):
        super().__init__(scenario, net, lp="highs")


class TimelineEvaluator:
    """One ``simulate_timeline`` per draw, on the scenario's prepared network."""

    def __init__(self, scenario, net=None):
        from gridsim.simulate import prepare_network

        self.scenario = scenario
        self.base = prepare_network(scenario, net)

    def evaluate(self, case: CaseSpec) -> dict[str, Any]:
        from gridsim.timeline import simulate_timeline

        t0 = time.perf_counter()
        try:
            sc = self.scenario.model_copy(update={"outages": [*self.scenario.outages, *outage_models(case)]})
            result = simulate_timeline(sc, net=self.base)
        except Exception as exc:  # noqa: BLE001 -- a failed draw is a record, never the end of the run
            return failed_record(FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        rec = record_of(result, time.perf_counter() - t0)
        ens = float(result.summary["energy_not_served_mwh"])
        rec["message"] = f"{ENS_TAG}{ens!r}; {rec['message']}"[:500]
        return rec


def ens_of(message: Any) -> float:
    """The energy not served a ``TimelineEvaluator`` record carries in its message (nan if none)."""
    m = _ENS.match(str(message or ""))
    return float(m.group(1)) if m else math.nan

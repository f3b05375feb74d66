"""Cases, the record each case produces, and the reference evaluator.

A case is a set of outages applied *on top of* a scenario's own state (its outages, availability, load
level, solver and response). Every evaluator takes the scenario once, prepares what it needs, and returns
one record per case with the columns ``CASE_COLUMNS`` (and optionally ``EXTRAS``, a dict); a failure is a record with a status and a message,
never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gridsim.results import CAUSES

#: one record per case (besides ``case_id``): unserved MW in total and by cause, critical (priority 1)
#: unserved MW, number of islands, number of overloaded branches after the response, status, message, time
CASE_COLUMNS: tuple[str, ...] = ("unserved_mw", *(f"unserved_{c}_mw" for c in CAUSES), "critical_unserved_mw",
                                 "n_islands", "n_overloaded", "status", "message", "time_s")
#: the record's optional per-case extras: a JSON-ready dict of numbers an evaluator adds beside ``CASE_COLUMNS``
#: (e.g. a salvo draw's energy not served and unserved MW by region); stored as JSON text in the ``extras``
#: column of the result store (``gridsim.batch.store.extras_of`` reads it back)
EXTRAS = "extras"
#: status of a case that raised or was stopped (besides the power-flow statuses of ``gridsim.solvers``)
FAILED, TIMEOUT = "failed", "timeout"


@dataclass(frozen=True)
class CaseSpec:
    """One case: a stable unique id and the outage items it adds, in the scenario file's YAML form
    (e.g. ``({"substation": "Kalynivsk"},)``)."""

    case_id: str
    outages: tuple[Mapping[str, Any], ...]


class Evaluator(Protocol):
    """Built once per worker from a scenario; ``evaluate`` is called once per case."""

    def evaluate(self, case: CaseSpec) -> dict[str, Any]: ...


def outage_models(case: CaseSpec) -> list:
    """The case's outage items as scenario ``Outage`` models (validated like a scenario file's)."""
    from gridsim.scenario.schema import YAML_FORM, Outage

    return [Outage.model_validate(dict(item), context={YAML_FORM: True}) for item in case.outages]


def failed_record(status: str, message: str, time_s: float = 0.0) -> dict[str, Any]:
    rec: dict[str, Any] = {c: float("nan") for c in CASE_COLUMNS}
    rec.update(status=status, message=message[:500], time_s=time_s, n_islands=-1, n_overloaded=-1)
    return rec


def record_of(result, time_s: float) -> dict[str, Any]:
    """The case record of a full ``Result``."""
    s = result.summary
    rec: dict[str, Any] = {"unserved_mw": s["unserved_mw"], "critical_unserved_mw": s["critical_unserved_mw"],
                           "n_islands": s["n_islands"], "n_overloaded": len(s["overloaded_branches"]),
                           "status": s["status"], "message": "; ".join(s.get("notes", []))[:500],
                           "time_s": time_s}
    rec.update({f"unserved_{c}_mw": s["unserved_by_cause_mw"][c] for c in CAUSES})
    return rec


class SimulateEvaluator:
    """The reference: every case through ``simulate()`` on the scenario's prepared network."""

    def __init__(self, scenario, net=None):
        from gridsim.simulate import prepare_network

        self.scenario = scenario
        self.base = prepare_network(scenario, net)

    def evaluate(self, case: CaseSpec) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            sc = self.scenario.model_copy(update={"outages": [*self.scenario.outages, *outage_models(case)]})
            result = self.solve(sc)
        except Exception as exc:  # noqa: BLE001 -- a batch never dies because one case failed
            return failed_record(FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        return self.record(result, time.perf_counter() - t0)

    def solve(self, scenario):
        """The full Result of one case's scenario (subclasses solve it otherwise, e.g. over a timeline)."""
        from gridsim.simulate import simulate

        return simulate(scenario, net=self.base)

    def record(self, result, time_s: float) -> dict[str, Any]:
        return record_of(result, time_s)

"""Salvos against air defence: Monte Carlo attacks on the batch engine, and where more air defence helps most.

- ``plan``: an attack resolved on a network (assets, target probabilities, interception per type and asset)
- ``sampling``: one draw from (seed, draw index) alone; hits compound as the product of remaining fractions
- ``evaluators``: the batch evaluators draws run on (fast DC engine; the timeline for ENS)
- ``montecarlo``: ``run_salvo(scenario, ...)`` -> ``SalvoRun`` (draws, per-asset table, summary)
- ``stats``: mean with standard error, quantiles, exceedance curve with its band, per-asset attribution
- ``policies``: evaluating many interception policies on common random numbers (``--compare``, ``defend``)
- ``defend``: greedy placement of air-defence units, and the exhaustive reference
- ``attribution``: what making one asset immune would save (``--immunity-draws``)

The outputs of a run (summary.json, draws.csv, assets.csv, regions.csv, figures, report.html) are written by
``gridsim.report.salvo_report``; the command line is ``gridsim.cli_salvo``.

Names are imported on first use.
"""

from __future__ import annotations

from gridsim._lazy import lazy_exports

_PUBLIC: dict[str, str] = {
    "run_salvo": "gridsim.salvo.montecarlo", "SalvoRun": "gridsim.salvo.montecarlo",
    "plan_attack": "gridsim.salvo.plan", "AttackPlan": "gridsim.salvo.plan",
    "sample_draw": "gridsim.salvo.sampling", "draw_hits": "gridsim.salvo.sampling",
    "describe": "gridsim.salvo.stats", "exceedance": "gridsim.salvo.stats",
    "greedy_defence": "gridsim.salvo.defend", "exhaustive_defence": "gridsim.salvo.defend",
    "compare_policies": "gridsim.salvo.policies", "immunity_table": "gridsim.salvo.attribution",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

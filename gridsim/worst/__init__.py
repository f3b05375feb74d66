"""Worst-case k-asset search: which k assets, lost together, leave most demand unserved, and which P assets to
protect so that this worst case is as small as possible.

- ``assets``: the assets an attacker may hit (lines and transformers, substations, plants) as masks on the batch
  engine's prepared model (``gridsim.batch.model.PreparedModel``).
- ``milp``: the exact attacker-operator problem as one MILP through LP duality (HiGHS), with its bound and gap.
- ``heuristic``: greedy plus swap local search seeded by the single-asset ranking, every candidate evaluated by
  the batch engine's ``FastDCEvaluator``.
- ``bounds``: ``local_supply_bound``, a valid upper bound on any attack's shed (the zero-flow response), the
  heuristic's ``bound_mw``.
- ``search``: ``find_worst`` (the vulnerability curve for k = 1..K, every attack re-simulated with
  ``gridsim.simulate``) and ``write_worst`` (worst.csv and the figures).
- ``protect``: ``protect_budget``, the defender-attacker-operator problem by iterating the attacker problem.

Names are imported on first use, so importing this package (as the CLI does to register ``gridsim worst``)
costs nothing.
"""

from __future__ import annotations

from gridsim._lazy import lazy_exports

_PUBLIC: dict[str, str] = {
    "WORST_KINDS": "gridsim.worst.assets", "Asset": "gridsim.worst.assets", "catalogue": "gridsim.worst.assets",
    "AttackMILP": "gridsim.worst.milp", "greedy_swap": "gridsim.worst.heuristic",
    "find_worst": "gridsim.worst.search", "WorstCase": "gridsim.worst.search", "Attack": "gridsim.worst.search",
    "write_worst": "gridsim.worst.search", "protect_budget": "gridsim.worst.protect",
    "local_supply_bound": "gridsim.worst.bounds",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

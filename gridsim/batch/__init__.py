"""Batch runs: many cases on one prepared network state.

- ``cases``: the case list (``CaseSpec``), the per-case record (``CASE_COLUMNS``) and the reference evaluator
  (``SimulateEvaluator``: one ``simulate()`` per case, slow but the definition of the right answer).
- fast evaluators (a prepared model of masks on one factorisation) must give the same numbers; a
  differential test keeps them equal to ``SimulateEvaluator``.
- ``executors``: where the cases run: ``local`` (a process pool, the default), ``serial`` (in-process) and Dask
  (``dask:local`` or ``tcp://host:port``); a failed case is a record, a dead worker process is not the end.
- ``store``: the crash-safe SQLite result store (``results.sqlite``, one row per finished case) behind
  ``--resume`` and the CSV/Parquet exports.
- ``run``: ``run_cases(network_or_scenario, cases, ...) -> DataFrame``, the Python API.
- ``rank``: critical-asset ranking (the loss of every asset of a kind, and pairs of the worst), behind
  ``gridsim rank``.

Names are imported on first use, so importing this package (as the CLI does to register ``gridsim rank``)
costs nothing.
"""

from __future__ import annotations

from gridsim._lazy import lazy_exports


_PUBLIC: dict[str, str] = {
    "CASE_COLUMNS": "gridsim.batch.cases", "CaseSpec": "gridsim.batch.cases", "Evaluator": "gridsim.batch.cases",
    "SimulateEvaluator": "gridsim.batch.cases", "failed_record": "gridsim.batch.cases",
    "EVALUATORS": "gridsim.batch.run", "run_cases": "gridsim.batch.run", "as_scenario": "gridsim.batch.run",
    "EXECUTORS": "gridsim.batch.executors", "ResultStore": "gridsim.batch.store",
    "StoreMismatch": "gridsim.batch.store", "RANK_KINDS": "gridsim.batch.rank", "rank_assets": "gridsim.batch.rank",
    "Ranking": "gridsim.batch.rank", "write_ranking": "gridsim.batch.rank",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

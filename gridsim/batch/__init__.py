"""Batch runs: many cases on one prepared network state.

- ``cases``: the case list (``CaseSpec``), the per-case record (``CASE_COLUMNS``) and the reference evaluator
  (``SimulateEvaluator``: one ``simulate()`` per case, slow but the definition of the right answer).
- fast evaluators (a prepared model of masks on one factorisation) must give the same numbers; a
  differential test keeps them equal to ``SimulateEvaluator``.
"""

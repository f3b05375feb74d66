"""The LP solver behind the water plan: HiGHS through ``highspy`` where installed (rows added between rounds
keep the previous basis: a warm start), else HiGHS through ``scipy.optimize.milp`` (each round solved afresh).
Both give the same optimum; ``highspy`` comes with ``pip install gridsim[fast]``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

_STATUS = {0: "optimal", 1: "iteration_limit", 2: "infeasible", 3: "unbounded"}


def lp_backend(c, a: sp.csr_matrix, row_lo, row_hi, col_lo, col_hi):
    """The fastest backend available for ``min c x, row_lo <= a x <= row_hi, col_lo <= x <= col_hi``."""
    try:
        return HighsLP(c, a, row_lo, row_hi, col_lo, col_hi)
    except ImportError:
        return ScipyLP(c, a, row_lo, row_hi, col_lo, col_hi)


class ScipyLP:
    def __init__(self, c, a, row_lo, row_hi, col_lo, col_hi):
        self.c, self.a, self.lo, self.hi, self.bounds = c, a.tocsr(), row_lo, row_hi, Bounds(col_lo, col_hi)

    def solve(self) -> tuple[str, np.ndarray, str]:
        res = milp(self.c, constraints=LinearConstraint(self.a, self.lo, self.hi), bounds=self.bounds,
                   options={"presolve": True})
        status = _STATUS.get(res.status, "numerical_error")
        x = res.x if res.x is not None and status == "optimal" else np.full(len(self.c), np.nan)
        return status, x, str(res.message)

    def add_rows(self, a: sp.csr_matrix, lo, hi) -> None:
        self.a = sp.vstack([self.a, a], format="csr")
        self.lo, self.hi = np.concatenate([self.lo, lo]), np.concatenate([self.hi, hi])


class HighsLP:
    def __init__(self, c, a, row_lo, row_hi, col_lo, col_hi):
        import highspy

        from gridsim.batch.lp import _quiet_highs

        inf = highspy.kHighsInf
        a = a.tocsc()
        n_row, n_col = a.shape
        cost, col_lo, col_hi = np.asarray(c, float), np.clip(col_lo, -inf, inf), np.clip(col_hi, -inf, inf)
        row_lo, row_hi = np.clip(row_lo, -inf, inf), np.clip(row_hi, -inf, inf)
        self.h, self.inf, self.highspy = _quiet_highs(highspy), inf, highspy
        # the model from arrays (every column continuous): the same LP as a HighsLp object, without pybind's
        # element-by-element copy of the matrix into it (~15 ms for a 72-step plan)
        try:
            status = self.h.passModel(n_col, n_row, a.nnz, int(highspy.MatrixFormat.kColwise),
                                      int(highspy.ObjSense.kMinimize), 0.0, cost, col_lo, col_hi, row_lo, row_hi,
                                      a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
                                      np.zeros(n_col, dtype=np.int32))
        except TypeError:          # a highspy without this overload
            status = None
        if status != highspy.HighsStatus.kOk:
            lp = highspy.HighsLp()
            lp.num_col_, lp.num_row_ = n_col, n_row
            lp.col_cost_, lp.col_lower_, lp.col_upper_, lp.row_lower_, lp.row_upper_ = \
                cost, col_lo, col_hi, row_lo, row_hi
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
            self.h.passModel(lp)

    def solve(self) -> tuple[str, np.ndarray, str]:
        self.h.run()
        status = self.h.getModelStatus()
        message = self.h.modelStatusToString(status)
        if status != self.highspy.HighsModelStatus.kOptimal:
            return ("infeasible" if "nfeasible" in message else "numerical_error"), \
                np.full(self.h.getNumCol(), np.nan), message
        return "optimal", np.asarray(self.h.getSolution().col_value), message

    def add_rows(self, a: sp.csr_matrix, lo, hi) -> None:
        a = a.tocsr()
        self.h.addRows(a.shape[0], np.clip(lo, -self.inf, self.inf), np.clip(hi, -self.inf, self.inf), a.nnz,
                       a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32), a.data)

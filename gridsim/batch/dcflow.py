"""DC flows of many cases from one factorisation of the prepared model's susceptance matrix.

The base system (every branch of the prepared state in service) is factorised once, with one reference bus
per connected component. A case's flows are the base solution for its injections, corrected for its outaged
branches by compensation (the multi-outage form of LODF, a Woodbury update): with ``H = PTDF[O, O]`` the
flows the outaged branches ``O`` would carry under a transfer across themselves, the transfers ``x`` with
``(I - H) x = f[O]`` make the outaged branches carry nothing, and ``f' = f + PTDF[:, O] x``.

Outages that split the grid make ``I - H`` singular; the system stays consistent as long as every resulting
island's injections balance (they do: ``gridsim.balance`` balances each energised island and a dead island
injects nothing), and every solution gives the same flows on the branches still in service (the part of
``x`` in the null space is a transfer that returns through the outaged branches alone), so a least-squares
solution is exact there. Each island thereby gets flows as if it had its own reference.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

#: |1 - H| below this: the outage splits the grid (a bridge); the transfer across it is zero
SINGULAR = 1e-9
#: smallest singular value of ``I - H`` below which ``multi_outage_flows`` leaves a case to the one-case path (it
#: may split the grid; a cut makes ``I - H`` exactly singular, so a cautious threshold only costs time)
MULTI_SINGULAR = 1e-6
#: up to this many buses the bus PTDF matrix is kept dense (case2000: 3,639 x 2,000, 58 MB): a PTDF column is
#: then two gathered columns instead of a sparse solve
DENSE_MAX_BUSES = 4000
#: ``injection_flows`` gathers PTDF columns up to this many buses whose injection changes, else solves
DENSE_MAX_TOUCHED = 64


class DCFlow:
    """Factorised DC system of a ``PreparedModel`` (``gridsim.batch.model``)."""

    def __init__(self, pm):
        n, m = pm.n_bus, pm.n_branch
        rows = np.repeat(np.arange(m), 2)
        cols = np.column_stack([pm.br_from, pm.br_to]).ravel()
        self.inc = sp.csr_matrix((np.tile([1.0, -1.0], m), (rows, cols)), shape=(m, n))
        self.bw = pm.bw
        self.f_shift = pm.f_shift
        self.shift_inj = self.inc.T @ pm.f_shift
        b = (self.inc.T @ sp.diags(self.bw) @ self.inc).tocsr()
        _, labels = connected_components(abs(b) > 0, directed=False)
        _, ref = np.unique(labels, return_index=True)
        self.grounded = np.zeros(n, dtype=bool)
        self.grounded[ref] = True
        keep = sp.diags((~self.grounded).astype(float))
        bg = keep @ b @ keep + sp.diags(self.grounded.astype(float))
        self.lu = splu(bg.tocsc())
        self._inc_t = self.inc.T.tocsc()
        self.from_bus, self.to_bus = pm.br_from, pm.br_to
        self.ptdf_bus = None
        if n <= DENSE_MAX_BUSES:     # flows per MW injected at each bus (withdrawn at its reference)
            # the inverse from the sparse factors (case2000: 0.15 s of CPU; dense LAPACK inv: 0.57 s on one
            # thread, and it wakes every BLAS thread)
            full = self.lu.solve(np.eye(n)) if n else np.zeros((0, 0))
            full[:, self.grounded] = 0.0
            # column-major: a case gathers columns (``ptdf_columns``, ``injection_flows``), contiguous this way
            self.ptdf_bus = np.asfortranarray(self.bw[:, None] * (self.inc @ full))

    def angles(self, injection_mw: np.ndarray) -> np.ndarray:
        """Bus angles (rad) for net injections (MW, one column per case), each component's reference at 0."""
        rhs = injection_mw - (self.shift_inj if injection_mw.ndim == 1 else self.shift_inj[:, None])
        rhs = np.array(rhs, dtype=float, copy=True)
        rhs[self.grounded] = 0.0
        return self.lu.solve(rhs)

    def flows(self, injection_mw: np.ndarray) -> np.ndarray:
        """Branch flows (MW, from side) on the base system for net injections (one column per case)."""
        th = self.angles(injection_mw)
        shift = self.f_shift if th.ndim == 1 else self.f_shift[:, None]
        bw = self.bw if th.ndim == 1 else self.bw[:, None]
        return bw * (self.inc @ th) + shift

    def injection_flows(self, injection_mw: np.ndarray) -> np.ndarray:
        """Flow changes (MW, base system) for changes of the net injections (one column per case; each
        component's reference takes up the balance): the bus PTDF columns of the buses that change, or a solve."""
        touched = np.flatnonzero(injection_mw if injection_mw.ndim == 1 else np.any(injection_mw != 0, axis=1))
        if self.ptdf_bus is not None and len(touched) <= DENSE_MAX_TOUCHED:
            return self.ptdf_bus[:, touched] @ injection_mw[touched]
        rhs = np.array(injection_mw, dtype=float, copy=True)
        rhs[self.grounded] = 0.0
        th = self.lu.solve(rhs)
        return (self.bw if th.ndim == 1 else self.bw[:, None]) * (self.inc @ th)

    def ptdf_columns(self, branches: np.ndarray) -> np.ndarray:
        """``PTDF[:, branches]``: flows (MW per MW) on every branch for a transfer across each branch."""
        if self.ptdf_bus is not None:
            return self.ptdf_bus[:, self.from_bus[branches]] - self.ptdf_bus[:, self.to_bus[branches]]
        rhs = self._inc_t[:, branches].toarray()
        rhs[self.grounded] = 0.0
        return self.bw[:, None] * (self.inc @ self.lu.solve(rhs))

    def outage_flows(self, base_flow: np.ndarray, branches: np.ndarray,
                     ptdf: np.ndarray | None = None) -> np.ndarray:
        """Flows with ``branches`` out, from the base-system flows ``base_flow`` of the same injections."""
        if not len(branches):
            return base_flow
        cols = self.ptdf_columns(branches) if ptdf is None else ptdf
        h = cols[branches]
        lhs = np.eye(len(branches)) - h
        rhs = base_flow[branches]
        if len(branches) == 1:
            x = np.zeros(1) if abs(lhs[0, 0]) < SINGULAR else rhs / lhs[0, 0]
        else:
            x = np.linalg.lstsq(lhs, rhs, rcond=SINGULAR)[0]
        out = base_flow + cols @ x
        out[branches] = 0.0
        return out

    def single_outage_flows(self, base_flow: np.ndarray, branches: np.ndarray):
        """Flows (branches x cases) for each branch of ``branches`` out alone, and which of them split the grid
        (those columns are left as the base flows; a split changes the injections, see ``outage_flows``)."""
        cols = self.ptdf_columns(branches)
        k = np.arange(len(branches))
        denom = 1.0 - cols[branches, k]
        split = np.abs(denom) < SINGULAR
        x = np.where(split, 0.0, base_flow[branches] / np.where(split, 1.0, denom))
        out = base_flow[:, None] + cols * x[None, :]
        out[branches, k] = 0.0
        return out, split

    def multi_outage_flows(self, base_flow: np.ndarray, sets: np.ndarray):
        """Flows (branches x cases) for each row of ``sets`` (cases x k, k >= 1 branches each) out together:
        ``outage_flows`` for all cases at once (batched k x k solves), and which cases may split the grid
        (``I - H`` near singular: their columns are left as the base flows)."""
        n, k = sets.shape
        uniq, inv = np.unique(sets, return_inverse=True)
        inv = inv.reshape(n, k)
        cols = self.ptdf_columns(uniq)                                   # branches x unique outaged branches
        lhs = np.eye(k)[None, :, :] - cols[sets[:, :, None], inv[:, None, :]]
        split = np.linalg.svd(lhs, compute_uv=False)[:, -1] < MULTI_SINGULAR
        lhs[split] = np.eye(k)
        rhs = np.where(split[:, None], 0.0, base_flow[sets])
        x = np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0]
        out = base_flow[:, None] + np.einsum("mck,ck->mc", cols[:, inv], x)
        out[sets, np.arange(n)[:, None]] = 0.0
        return out, split

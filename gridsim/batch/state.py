"""Islands and balance of one case on the prepared model, vectorised.

The same rules as ``gridsim.topology.find_islands`` and ``gridsim.balance.balance`` (DC: no loss allowance; AC
passes ``gridsim.solvers.powerflow.AC_LOSS_ALLOWANCE``):
an island is energised if it has an in-service unit with capacity > 1e-9 MW; a dead island's load is lost
(``isolated``); an energised island short of capacity sheds the difference with ``gridsim.balance.shed_to``
(``deficit``) and dispatches its units in merit order (``merit_dispatch_grouped``, equal to
``gridsim.dispatch.merit_dispatch`` island by island; tests/test_batch_fast.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridsim.balance import shed_to
from gridsim.bridges import bridge_search

#: a unit with at most this capacity does not energise its island (``gridsim.topology``)
MIN_CAPACITY_MW = 1e-9


@dataclass
class CaseState:
    """Per-case arrays (positions into the prepared model's arrays)."""

    branch_on: np.ndarray     # per model branch
    labels: np.ndarray        # island per model bus (-1: out of service)
    n_islands: int            # islands (the island table's -1 row for buses out of service is not one)
    energised: np.ndarray     # per island
    gen_island: np.ndarray    # per gen: island of a live unit (-1: not live)
    gen_cap: np.ndarray       # per gen: capacity in this case
    load_island: np.ndarray   # per load: island it is served from (-1: none)
    demand_island: np.ndarray  # per island (MW)
    cap_island: np.ndarray    # per island (MW)
    served: np.ndarray        # per load (MW)
    isolated: np.ndarray      # per load (MW)
    deficit: np.ndarray       # per load (MW)
    network: np.ndarray       # per load (MW), set by the optimal response
    dispatch: np.ndarray      # per gen (MW)

    def injection(self, pm) -> np.ndarray:
        """Net injection per model bus (MW): dispatch less served demand."""
        return (np.bincount(pm.gen_bus, weights=self.dispatch, minlength=pm.n_bus)
                - np.bincount(pm.load_bus, weights=self.served, minlength=pm.n_bus))

    def branch_energised(self, pm) -> np.ndarray:
        """Per model branch: in service and inside an energised island."""
        lab = self.labels[pm.br_from]
        return self.branch_on & (lab >= 0) & self.energised[np.maximum(lab, 0)]


def case_state(pm, masks, method: str, loss_allowance: float = 0.0, islands=None) -> CaseState:
    """Islands and balance of the case ``masks`` (``gridsim.batch.model.CaseMasks``); ``loss_allowance`` as in
    ``gridsim.balance.balance`` (a fraction of the served demand kept for losses: 0 in DC). ``islands``
    (optional): the case's ``(labels, n_islands, n_labels)`` when known (``Bridges.islands``)."""
    branch_on = np.ones(pm.n_branch, dtype=bool)
    branch_on[masks.branch_out] = False
    bus_on = pm.bus_active.copy()
    bus_on[masks.bus_dead] = False
    labels, n_islands, n_lab = _islands(pm, branch_on, bus_on) if islands is None else islands
    cap = pm.gen_cap if masks.gen_cap is None else masks.gen_cap
    gen_live = pm.gen_on & (cap > MIN_CAPACITY_MW)
    gen_live[masks.gen_out] = False
    gen_island = np.where(gen_live, labels[pm.gen_bus], -1)
    energised = np.bincount(gen_island[gen_island >= 0], minlength=n_lab) > 0
    load_ok = pm.load_on.copy()
    load_ok[masks.load_out] = False
    load_island = np.where(load_ok, labels[pm.load_bus], -1)
    return balance_state(pm, branch_on, labels, n_islands, energised, gen_island, cap, load_island, method,
                         loss_allowance)


def balance_state(pm, branch_on, labels, n_islands, energised, gen_island, cap, load_island,
                  method: str, loss_allowance: float = 0.0) -> CaseState:
    n_lab = len(energised)
    live = gen_island >= 0
    served_from = np.where((load_island >= 0) & energised[np.maximum(load_island, 0)], load_island, -1)
    inside = served_from >= 0
    demand = pm.demand
    d_isl = np.bincount(served_from[inside], weights=demand[inside], minlength=n_lab)
    c_isl = np.bincount(gen_island[live], weights=cap[live], minlength=n_lab)
    # gridsim.balance.balance_island: an island with loads keeps the allowance; one without loads needs none
    allow = np.where(d_isl > 0, loss_allowance, 0.0) if loss_allowance else np.zeros(n_lab)
    target = np.minimum(d_isl, c_isl / (1.0 + allow))
    served = np.where(inside, demand, 0.0)
    for isl in np.flatnonzero(energised & (target < d_isl - 1e-12)):
        members = np.flatnonzero(served_from == isl)
        served[members] = shed_to(demand[members], pm.priority[members], float(target[isl]), method)
    served_isl = np.bincount(served_from[inside], weights=served[inside], minlength=n_lab)
    dispatch = merit_dispatch_grouped(cap, pm.gen_cost, gen_island, np.minimum(c_isl, served_isl * (1.0 + allow)))
    isolated = np.where(inside, 0.0, demand)
    deficit = np.clip(demand - served - isolated, 0.0, None)
    return CaseState(branch_on, labels, n_islands, energised, gen_island, cap, served_from, d_isl, c_isl,
                     served, isolated, deficit, np.zeros(len(demand)), dispatch)


def _islands(pm, branch_on: np.ndarray, bus_on: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(label per model bus, number of islands find_islands counts, number of labels)."""
    order = pm.edge_order                       # branches sorted by from bus: CSR rows without a sort
    keep = branch_on[order]
    indptr = np.zeros(pm.n_bus + 1, dtype=np.int32)
    np.cumsum(np.bincount(pm.br_from[order][keep], minlength=pm.n_bus), out=indptr[1:])
    indices = pm.br_to[order][keep].astype(np.int32)
    graph = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(pm.n_bus, pm.n_bus))
    n_lab, labels = connected_components(graph, directed=False)
    labels = np.where(bus_on, labels, -1)
    counted = labels[pm.bus_counted & bus_on]
    # the island table's -1 row (buses out of service) is not an island: the summary does not count it
    return labels, len(np.unique(counted)), n_lab


def merit_dispatch_grouped(cap: np.ndarray, cost: np.ndarray, group: np.ndarray,
                           target: np.ndarray) -> np.ndarray:
    """``gridsim.dispatch.merit_dispatch`` for every group at once: units with ``group[i] >= 0`` meet
    ``target[group]`` cheapest first, units of equal cost in a group at one utilisation; others give 0."""
    out = np.zeros(len(cap))
    live = np.flatnonzero(group >= 0)
    if not len(live):
        return out
    g, c, p = group[live], cost[live], np.maximum(cap[live], 0.0)
    order = np.lexsort((c, g))
    g, c, p = g[order], c[order], p[order]
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (c[1:] != c[:-1])
    block = np.cumsum(new) - 1
    block_cap = np.bincount(block, weights=p)
    block_group = g[new]
    first = np.ones(len(block_group), dtype=bool)
    first[1:] = block_group[1:] != block_group[:-1]
    excl = np.cumsum(block_cap) - block_cap
    offset = np.repeat(excl[first], np.diff(np.append(np.flatnonzero(first), len(block_group))))
    before = excl - offset
    u = np.divide(np.clip(target[block_group] - before, 0.0, block_cap), block_cap,
                  out=np.zeros(len(block_cap)), where=block_cap > 0)
    out[live[order]] = p * u[block]
    return out


class Bridges:
    """The islands of the cases that take out one branch and nothing else, without a graph search per case.

    A depth-first search of the prepared model's graph (once, ``gridsim.bridges``) numbers every bus in preorder
    and records each bus's subtree. A branch whose loss splits its component is a bridge, always an edge of the
    search tree, and what it cuts off is exactly the subtree below it: the case's labels are the base labels with that subtree
    given a label of its own."""

    def __init__(self, pm):
        self.pm = pm
        on = np.ones(pm.n_branch, dtype=bool)
        self.labels, self.n_islands, self.n_lab = _islands(pm, on, pm.bus_active)
        search = bridge_search(pm.n_bus, pm.br_from, pm.br_to)
        self.order, self.tin, self.size, self.child = search.order, search.tin, search.size, search.child
        self.is_bridge = search.is_bridge()
        self.case_n_islands = self._case_n_islands()

    def cut_range(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per bridge ``k``: the preorder range ``[lo, hi)`` of the buses it cuts off (``order[lo:hi]``)."""
        w = self.child[k]
        return self.tin[w], self.tin[w] + self.size[w]

    def _case_n_islands(self) -> np.ndarray:
        """Per branch: the islands ``find_islands`` counts with that branch out alone (``islands(k)[1]``)."""
        pm = self.pm
        counted = pm.bus_counted & pm.bus_active
        out = np.full(pm.n_branch, self.n_islands, dtype=np.int64)
        k = np.flatnonzero(self.is_bridge)
        if not len(k):
            return out
        prefix = np.concatenate([[0], np.cumsum(counted[self.order])])
        lo, hi = self.cut_range(k)
        cut = prefix[hi] - prefix[lo]
        per_label = np.bincount(self.labels[counted], minlength=self.n_lab)
        side = self.labels[pm.br_from[k]]
        whole = np.where(side >= 0, per_label[np.maximum(side, 0)], 0)
        out[k] += (cut > 0) & (whole - cut > 0)
        return out

    def islands(self, k: int) -> tuple[np.ndarray, int, int]:
        """``_islands`` of the case with branch ``k`` out (and nothing else)."""
        labels = self.labels
        if not self.is_bridge[k]:
            return labels, self.n_islands, self.n_lab
        w = self.child[k]
        cut = self.order[self.tin[w]:self.tin[w] + self.size[w]]
        labels = labels.copy()
        labels[cut] = np.where(labels[cut] >= 0, self.n_lab, -1)
        counted = self.pm.bus_counted[cut] & self.pm.bus_active[cut]
        n_islands = self.n_islands + int(counted.any() and self._rest_counted(k, cut))
        return labels, n_islands, self.n_lab + 1

    def _rest_counted(self, k: int, cut: np.ndarray) -> bool:
        """Whether the part left behind still has a counted bus (else the count of islands is unchanged)."""
        pm = self.pm
        side = self.labels[pm.br_from[k]]
        rest = (self.labels == side) & pm.bus_counted & pm.bus_active
        rest[cut] = False
        return bool(rest.any())

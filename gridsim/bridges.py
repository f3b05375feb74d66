"""Bridges of an undirected graph (edges whose loss splits their component), by one depth-first search.

Tarjan's search, iterative: vertices are numbered in preorder, each vertex's ``low`` is the smallest preorder
number reachable from its subtree through one edge other than the tree edge into it, and a tree edge into ``v``
is a bridge exactly when ``low[v]`` exceeds its parent's number. What the edge cuts off is then ``v``'s subtree,
the vertices ``order[tin[v]:tin[v] + size[v]]``. Parallel edges are different edges (neither is a bridge).

Used by the batch engine (``gridsim.batch.state.Bridges``: the islands of every single-branch outage) and by the
built-in grid's planner (``gridsim.networks.synthetic_branches``: a 330 kV mesh without bridges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BridgeSearch:
    """The depth-first search of a graph with ``n`` vertices and edges ``(a[k], b[k])``."""

    order: np.ndarray     # vertices in preorder
    tin: np.ndarray       # preorder number of each vertex
    size: np.ndarray      # size of each vertex's subtree
    child: np.ndarray     # per edge: the lower vertex of a tree edge, -1 for other edges
    found: list[int]      # the bridges (edge positions), in the order the search completes them

    def is_bridge(self) -> np.ndarray:
        out = np.zeros(len(self.child), dtype=bool)
        out[self.found] = True
        return out


def bridge_search(n: int, a, b) -> BridgeSearch:
    """Search the graph with ``n`` vertices and edges ``(a[k], b[k])``; roots in vertex order, each vertex's
    edges in edge order."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for k, (i, j) in enumerate(zip(np.asarray(a).tolist(), np.asarray(b).tolist())):
        adj[i].append((j, k))
        adj[j].append((i, k))
    order, tin, size, low = [0] * n, [-1] * n, [1] * n, [0] * n     # lists: scalar access is faster
    child = [-1] * len(np.asarray(a))
    found: list[int] = []
    pos = 0
    for root in range(n):
        if tin[root] >= 0:
            continue
        tin[root] = low[root] = pos
        order[pos] = root
        pos += 1
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            v, via, it = stack[-1]
            for w, k in it:
                if k == via:
                    continue
                if tin[w] < 0:
                    tin[w] = low[w] = pos
                    order[pos] = w
                    pos += 1
                    child[k] = w
                    stack.append((w, k, iter(adj[w])))
                    break
                low[v] = min(low[v], tin[w])
            else:
                stack.pop()
                if stack:
                    u = stack[-1][0]
                    low[u] = min(low[u], low[v])
                    size[u] += size[v]
                    if low[v] > tin[u]:
                        found.append(via)
    order_a, tin_a, size_a, child_a = (np.array(x, dtype=np.int64) for x in (order, tin, size, child))
    return BridgeSearch(order_a, tin_a, size_a, child_a, found)

"""gridsim.bridges against brute force: an edge is a bridge exactly when removing it adds a component, and the
subtree below it is exactly the part it cuts off; the first bridge found is the one the built-in grid's planner
has always taken (its network is unchanged)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridsim.bridges import bridge_search


def components(n, a, b):
    return connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)


@pytest.mark.parametrize("seed", range(12))
def test_bridges_and_cut_sides_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 25))
    m = int(rng.integers(1, 2 * n))
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = a != b                                   # no self-loops; parallel edges stay
    a, b = a[keep], b[keep]
    search = bridge_search(n, a, b)
    assert sorted(search.order.tolist()) == list(range(n))
    base, _ = components(n, a, b)
    for k in range(len(a)):
        rest = np.arange(len(a)) != k
        count, labels = components(n, a[rest], b[rest])
        assert search.is_bridge()[k] == (count > base), (seed, k)
        if search.is_bridge()[k]:
            w = search.child[k]
            cut = search.order[search.tin[w]:search.tin[w] + search.size[w]]
            assert set(np.flatnonzero(labels == labels[w]).tolist()) == set(cut.tolist()), (seed, k)


def test_parallel_edges_are_no_bridges_and_a_path_is_all_bridges():
    assert bridge_search(2, [0, 0], [1, 1]).found == []
    assert sorted(bridge_search(4, [0, 1, 2], [1, 2, 3]).found) == [0, 1, 2]


def test_the_first_bridge_of_the_planner_is_the_first_one_completed():
    from gridsim.networks.synthetic_branches import _first_bridge

    # a triangle 0-1-2 with a tail 2-3-4: the search from 0 completes 3-4 before 2-3
    assert _first_bridge(5, {(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)}) == (3, 4)
    assert _first_bridge(3, {(0, 1), (1, 2), (0, 2)}) is None

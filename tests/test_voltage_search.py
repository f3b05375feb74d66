"""gridsim.solvers.voltage.least_in_band: the voltage relief's search for the least in-band shed fraction gives
the seven-step bisection's answer wherever the margin grows with the shed, in fewer AC runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsim.solvers.voltage import BISECT_STEPS, GRID, ACState, least_in_band


def bisection(ok) -> int:
    """The relief's former search: BISECT_STEPS bisection steps on [0, 1], the answer as k / GRID."""
    lo, hi = 0.0, 1.0
    for _ in range(BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        if ok(round(mid * GRID)):
            hi = mid
        else:
            lo = mid
    return round(hi * GRID)


def search(margins):
    """least_in_band on a table of margins per grid point (None: not converged); (k, state, runs)."""
    runs = []

    def run(k):
        runs.append(k)
        return ACState(margins[k] is not None, min_vm_pu=k)     # min_vm_pu carries k, to check the state

    def margin(state):
        return margins[int(state.min_vm_pu)] if state.converged else None

    full = ACState(True, min_vm_pu=GRID)
    k, best = least_in_band(run, margin, full)
    assert int(best.min_vm_pu) == k
    return k, runs


@settings(max_examples=300, deadline=None)
@given(start=st.floats(-0.3, -1e-4), end=st.floats(1e-4, 0.3), power=st.floats(0.2, 5.0),
       unconverged_below=st.integers(0, 40))
def test_equals_the_bisection_on_monotone_margins(start, end, power, unconverged_below):
    x = np.linspace(0.0, 1.0, GRID + 1)
    margins = [start + (end - start) * v ** power for v in x]     # concave, linear or convex, increasing
    margins = [None if 0 < k < unconverged_below and margins[k] < 0 else m for k, m in enumerate(margins)]
    k, runs = search(margins)
    assert k == bisection(lambda j: margins[j] is not None and margins[j] >= 0)
    assert len(set(runs)) == len(runs) and len(runs) <= 1 + 2 * BISECT_STEPS


def test_fewer_runs_than_the_bisection_on_smooth_margins():
    x = np.linspace(0.0, 1.0, GRID + 1)
    for power in (0.3, 0.5, 1.0, 2.0):
        margins = list(-0.04 + 0.12 * x ** power)
        k, runs = search(margins)
        assert k == bisection(lambda j: margins[j] >= 0)
        assert len(runs) - 1 < BISECT_STEPS      # the run at 0 is the relief's first state (asked again)


@pytest.mark.parametrize("ok_from", [1, 2, 64, 127, 128])
def test_edges_of_the_grid(ok_from):
    margins = [-0.01 if k < ok_from else 0.01 for k in range(GRID + 1)]
    assert search(margins)[0] == ok_from == bisection(lambda j: margins[j] >= 0)


def test_in_band_at_zero_is_the_bisections_first_grid_point():
    """The bisection never tries 0: a state in band already there gives 1/GRID, as before."""
    assert search([0.01] * (GRID + 1))[0] == 1

"""The myopic reference: the same water and the same network, decided one step at a time.

Each step is the water LP of that step alone (``gridsim.water.lp``) with what the reservoirs hold at its start
and what upstream released before it, water left valued as the plan values it at the horizon's end. No
foresight: water is spent when it is needed now, or kept. The plan's energy not served is never more than
this (it could have made the same decisions), and equals it when water is not scarce (tests/test_water.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gridsim.water.lp import RiverInputs, _refill_floor, solve_water_lp


def myopic_unserved(blocks: list, inputs: RiverInputs, cost_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per step, unserved MW of the step-by-step decisions, and their water (steps, plants, 4: q, s, v, P)."""
    n_t, n_p = len(blocks), len(inputs.river)
    floor = _refill_floor(inputs)
    storage = inputs.river["storage_init_hm3"].to_numpy(float).copy()
    water = np.zeros((n_t, n_p, 4))
    unserved = np.zeros(n_t)
    for t in range(n_t):
        river = inputs.river.copy()
        river["storage_init_hm3"] = storage
        window = RiverInputs(river, inputs.inflow_m3s[:, t:t + 1], inputs.dam_ok[:, t:t + 1], inputs.step_h,
                             None if inputs.pump_off is None else inputs.pump_off[:, t:t + 1],
                             history=water[:t, :, 0] + water[:t, :, 1], floor=floor[:, t:t + 1])
        window = dataclasses.replace(window, history=_with_steady(inputs, window.history))
        result = solve_water_lp(blocks[t:t + 1], window, cost_scale)
        if not result.ok:
            raise RuntimeError(f"myopic step {t}: {result.status} ({result.message})")
        water[t] = result.water[0]
        unserved[t] = result.unserved_mw[0]
        storage = water[t, :, 2]
    return unserved, water


def _with_steady(inputs: RiverInputs, history: np.ndarray) -> np.ndarray:
    """Releases before hour 0 are the steady river's: prepend enough of them for the longest travel time."""
    from gridsim.water.lp import travel_split
    from gridsim.water.river import steady_release

    lag = max((travel_split(float(h), inputs.step_h)[0] + 1 for h in inputs.river["travel_h"]), default=1)
    steady = steady_release(inputs.river, inputs.inflow_m3s)
    return np.vstack([np.repeat(steady[None, :], lag, axis=0), history])

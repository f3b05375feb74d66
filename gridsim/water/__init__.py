"""Water: energy-limited hydro and pumped storage on a river, with travel times and the loss of a dam.

- ``river``: the network's river data (``net["river"]``), checked and put in river order;
- ``lp``: the multi-period LP (every step's DC load-shed LP coupled through the reservoirs);
- ``plan``: a timeline's water plan: builds every step's block as the snapshot builds its network, solves,
  and gives each river unit its output per step (``WaterPlan.apply``).

``plan_water(runner, states, matches)`` is the timeline's hook (``gridsim.timeline``): None on a network
without a river, so nothing changes there. docs/water.md describes the model and the data.
"""

from __future__ import annotations

from gridsim.water.river import has_river


def plan_water(runner, states: list, matches: list):
    """The water plan of one timeline run (``states``: per step ``(k, t, active, forced)``), or None when the
    network declares no river."""
    if not has_river(runner.base):
        return None
    from gridsim.water.plan import plan_timeline

    return plan_timeline(runner, [(active, forced) for _, _, active, forced in states], matches)


__all__ = ["has_river", "plan_water"]

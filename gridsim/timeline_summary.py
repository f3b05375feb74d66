"""Figures of a timeline: energy not served, the peak, customer-hours, and when each region is back.

Pure functions of the per-step, per-region table (``Result.timeline``); the energy balance holds by
construction: ``energy_not_served_mwh == sum(unserved_mw * step_h)`` over the table, by cause and region too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.results import CAUSES

#: a region counts as without full supply in a step where it has more than this unserved (MW)
UNSERVED_TOL_MW = 1e-3


def energy_figures(table: pd.DataFrame, step_h: float, horizon_h: float) -> dict:
    """ENS (total, by cause, by region), peak and when, customer-hours lost, per-region outage hours and
    restoration time, from a timeline table."""
    if not len(table):
        return {}
    per_step = table.groupby("step")[["time_h", "unserved_mw", "demand_mw"]].agg(
        {"time_h": "first", "unserved_mw": "sum", "demand_mw": "sum"})
    peak_step = int(per_step["unserved_mw"].idxmax())
    regions = {}
    for region, grp in table.groupby("region"):
        dark = grp["unserved_mw"].to_numpy() > UNSERVED_TOL_MW
        times = grp["time_h"].to_numpy()
        restored = None
        if not dark.any():
            restored = 0.0
        elif not dark[-1]:
            restored = float(times[np.flatnonzero(dark)[-1]] + step_h)
        regions[str(region)] = {
            "energy_not_served_mwh": float(grp["unserved_mw"].sum() * step_h),
            "hours_without_full_supply": float(dark.sum() * step_h),
            "restored_at_h": restored,
            "peak_unserved_mw": float(grp["unserved_mw"].max()),
        }
    return {
        "energy_not_served_mwh": float(table["unserved_mw"].sum() * step_h),
        "energy_not_served_by_cause_mwh": {c: float(table[f"unserved_{c}_mw"].sum() * step_h) for c in CAUSES},
        "energy_not_served_by_region_mwh": {r: v["energy_not_served_mwh"] for r, v in regions.items()},
        "energy_demand_mwh": float(table["demand_mw"].sum() * step_h),
        "peak_unserved_mw": float(per_step["unserved_mw"].max()),
        "peak_at_h": float(per_step.at[peak_step, "time_h"]),
        "customer_hours_lost": float(table["customers_without_power"].sum() * step_h),
        "regions_over_time": regions,
    }


def timeline_summary(scenario, table: pd.DataFrame, baseline: pd.DataFrame, peak, events: list) -> dict:
    tl = scenario.timeline
    out = {"timeline": {"horizon_h": tl.horizon_h, "step_h": tl.step_h, "steps": tl.n_steps,
                        "start": tl.start.isoformat() if tl.start else None, "profile": tl.profile},
           "events": events, "peak_step_snapshot": "the other tables are the snapshot at peak_at_h"}
    out.update(energy_figures(table, tl.step_h, tl.horizon_h))
    if len(baseline):
        base = energy_figures(baseline, tl.step_h, tl.horizon_h)
        out["baseline"] = {"scenario": scenario.baseline, **base}
        out["added_by_this_scenario"] = {
            k: out[k] - base[k] for k in ("energy_not_served_mwh", "customer_hours_lost", "peak_unserved_mw")}
    return out


def events_of(scenario, baseline: list) -> list[dict]:
    """Strikes, partial repairs and repairs within the horizon, for the figures and the report."""
    horizon = scenario.timeline.horizon_h
    events = []
    for o in scenario.outages:
        events.append({"time_h": float(o.at_h), "what": "strike", "asset": o.label})
        for r in o.restore or ():
            if o.at_h + r.after_h <= horizon:
                what = "repaired" if r.derate is None else f"partly repaired ({r.derate:.0%})"
                events.append({"time_h": float(o.at_h + r.after_h), "what": what, "asset": o.label})
        if o.repair_h is not None and o.at_h + o.repair_h <= horizon:
            events.append({"time_h": float(o.at_h + o.repair_h), "what": "repaired", "asset": o.label})
    for o in baseline:
        if o.repair_h is not None and o.repair_h <= horizon:
            events.append({"time_h": float(o.repair_h), "what": "repaired (baseline)", "asset": o.label})
    return sorted(events, key=lambda e: (e["time_h"], e["what"]))

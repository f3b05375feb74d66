"""The river figure (``Result.hydro``, ``gridsim.water``): storage and output of each water plant over time, in
river order (upstream first), with strikes and repairs marked. Takes ``ax=None`` and returns the Figure, or
None for a Result without a water plan."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridsim.report.plots import _txt
from gridsim.report.timeline_plots import EVENT_COLOURS
from gridsim.results import Result

STORAGE_COLOUR, OUTPUT_COLOUR, PUMP_COLOUR, SPILL_COLOUR = "#1f5fa8", "#e08214", "#5e3c99", "#8c8c8c"


def plot_river(result: Result, ax: Axes | None = None) -> Figure | None:
    """One panel per plant, upstream first: output (MW, orange; pumping below zero, purple), the steps it
    spills (grey shading) and its storage at the end of each step (hm³, blue, right axis); strikes and repairs
    marked. With ``ax``: every plant's output less pumping on that one axis."""
    hydro = result.hydro
    if hydro is None or not len(hydro):
        return None
    plants = list(dict.fromkeys(hydro["plant"]))          # river order, as the plan wrote them
    step = float(result.summary.get("timeline", {}).get("step_h", 1.0))
    if ax is not None:
        for plant in plants:
            g = hydro[hydro["plant"] == plant]
            ax.step(g["time_h"], g["p_mw"] - g["pump_mw"], where="post", lw=1.0, label=_txt(plant))
        ax.set_xlabel("hour")
        ax.set_ylabel("MW")
        ax.legend(fontsize=7, frameon=False)
        _mark_events(ax, result, label=False)
        return ax.figure
    fig = Figure(figsize=(10.5, 1.55 * len(plants) + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(plants), 1, sharex=True))
    for i, (a, plant) in enumerate(zip(axes, plants)):
        _panel(a, hydro[hydro["plant"] == plant], plant, step)
        _mark_events(a, result, label=i == 0)
    axes[-1].set_xlabel("hours from the start")
    water = result.summary.get("water", {})
    fig.suptitle(_txt(f"{result.scenario_name}: the river, upstream first; hydro "
                      f"{water.get('hydro_energy_mwh', 0):,.0f} MWh, pumping "
                      f"{water.get('pumping_energy_mwh', 0):,.0f} MWh"),
                 fontsize=11, x=0.01, ha="left")
    return fig


def _panel(ax: Axes, g, plant: str, step: float) -> None:
    t = np.append(g["time_h"].to_numpy(), g["time_h"].to_numpy()[-1] + step)
    out = np.append(g["p_mw"].to_numpy(), g["p_mw"].to_numpy()[-1])
    pump = np.append(g["pump_mw"].to_numpy(), g["pump_mw"].to_numpy()[-1])
    ax.fill_between(t, out, step="post", color=OUTPUT_COLOUR, alpha=0.55, lw=0, label="output (MW)")
    if pump.max() > 0:
        ax.fill_between(t, -pump, step="post", color=PUMP_COLOUR, alpha=0.55, lw=0, label="pumping (MW)")
    ax.set_ylabel("MW", fontsize=8)
    ax.tick_params(labelsize=7)
    top = max(1.0, float(out.max()))
    ax.set_ylim(-max(pump.max(), 0.0) * 1.1 if pump.max() > 0 else 0.0, top * 1.15)
    spilled = g["spill_m3s"].to_numpy()
    if spilled.max() > 1e-6:
        ax.fill_between(t, 0, top * 1.15, where=np.append(spilled, spilled[-1]) > 1e-6, step="post",
                        color=SPILL_COLOUR, alpha=0.12, lw=0, label="spilling")
    right = ax.twinx()
    right.step(t, np.append(g["storage_hm3"].to_numpy(), g["storage_hm3"].to_numpy()[-1]), where="post",
               color=STORAGE_COLOUR, lw=1.3, label="storage (hm³)")
    right.set_ylabel("hm³", fontsize=8, color=STORAGE_COLOUR)
    right.tick_params(labelsize=7, colors=STORAGE_COLOUR)
    ax.set_title(_txt(f"{plant}: {g['p_mw'].sum() * step:,.0f} MWh, spilled "
                      f"{g['spill_m3s'].sum() * step * 0.0036:,.1f} hm³"), fontsize=8.5, loc="left")
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", bbox_to_anchor=(1.06, 1.0),
              fontsize=7, frameon=False)


def _mark_events(ax: Axes, result: Result, label: bool) -> None:
    for e in result.summary.get("events", []):
        kind = "strike" if e["what"] == "strike" else "repaired"
        ax.axvline(e["time_h"], color=EVENT_COLOURS[kind], lw=0.9, ls="--" if kind == "strike" else ":",
                   alpha=0.8, zorder=1)
        if label:
            ax.text(e["time_h"], ax.get_ylim()[1], " " + _txt(f"{e['what']}: {e['asset']}"[:40]), fontsize=6.5,
                    color=EVENT_COLOURS[kind], va="top", ha="left", clip_on=True)


def river_caption(result: Result) -> str:
    """One plain-text sentence on the water plan for the report (empty without one)."""
    water = result.summary.get("water")
    if not water or result.hydro is None or not len(result.hydro):
        return ""
    spilled = {p: v for p, v in water.get("spill_hm3", {}).items() if v > 0.05}
    spill = "; spilled " + ", ".join(f"{p} {v:,.0f} hm³" for p, v in spilled.items()) if spilled else ""
    return (f"Hydro is energy-limited: one multi-period DC dispatch over the horizon (the water plan, "
            f"{water.get('plan_s', 0):.1f} s) decides how much water each plant on the river turns into power "
            f"each step, with travel times between plants; its energy not served is "
            f"{water.get('energy_not_served_mwh', 0):,.0f} MWh{spill}. Per plant and step: hydro.csv.")

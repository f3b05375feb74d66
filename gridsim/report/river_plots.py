"""The river figure (``Result.hydro``, ``gridsim.water``): storage and output of each water plant over time, in
river order (upstream first), with strikes and repairs marked. Takes ``ax=None`` and returns the Figure, or
None for a Result without a water plan."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridsim.report.layout import (
    EDGE,
    legend_width,
    pin_axis_labels,
    place,
    text_size,
    title_height,
    xaxis_height,
    yaxis_width,
)
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
    fig = Figure(figsize=(10.5, 1.55 * len(plants) + 0.9))
    axes = np.atleast_1d(fig.subplots(len(plants), 1, sharex=True))
    panels = [_panel(a, hydro[hydro["plant"] == plant], plant, step) for a, plant in zip(axes, plants)]
    axes[-1].set_xlabel("hours from the start")
    water = result.summary.get("water", {})
    title = fig.suptitle(_txt(f"{result.scenario_name}: the river, upstream first; hydro "
                              f"{water.get('hydro_energy_mwh', 0):,.0f} MWh, pumping "
                              f"{water.get('pumping_energy_mwh', 0):,.0f} MWh"),
                         fontsize=11, x=0.01, ha="left", va="top", y=1.0 - EDGE / fig.get_size_inches()[1])
    # margins: the y axes left, the storage axes and the legends right (a legend starts 6 % of the Axes' width
    # right of it, bbox_to_anchor 1.06), the title and each panel's title above, the time axis below
    width = fig.get_size_inches()[0]
    left = max(yaxis_width(a) for a in axes)
    legend = max(w for _, w in panels)
    storage = max(yaxis_width(r) for r, _ in panels)
    span = (width - 2 * EDGE - left - legend) / 1.06
    right = legend + max(0.06 * span, storage)
    heading = max(title_height(a) for a in axes)
    place(fig, left=left, right=right, top=text_size(title.get_text(), 11)[1] + 0.08 + heading,
          bottom=xaxis_height(axes[-1]), hgap=heading + xaxis_height(axes[0], labels=False) + 0.04)
    pin_axis_labels(*axes, *(r for r, _ in panels))
    for i, a in enumerate(axes):
        _mark_events(a, result, label=i == 0)
    return fig


def _panel(ax: Axes, g, plant: str, step: float) -> tuple[Axes, float]:
    """Draw one plant; return its storage (right) Axes and the inches its legend takes."""
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
                      f"{g['spill_m3s'].sum() * step * 0.0036:,.1f} hm³"), fontsize=8.5, loc="left", y=1.0)
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", bbox_to_anchor=(1.06, 1.0),
              fontsize=7, frameon=False)
    return right, legend_width(handles[1] + more[1], 7)


def _mark_events(ax: Axes, result: Result, label: bool) -> None:
    """Strikes (red dashes) and repairs (green dots). With ``label``, one label per hour and kind (events of
    one hour that hit the same site share it: "strike: plant + substation: X"), placed from the top of the
    panel down in rows so that no two overlap."""
    groups: dict[tuple[float, str], list[str]] = {}
    for e in result.summary.get("events", []):
        kind = "strike" if e["what"] == "strike" else "repaired"
        ax.axvline(e["time_h"], color=EVENT_COLOURS[kind], lw=0.9, ls="--" if kind == "strike" else ":",
                   alpha=0.8, zorder=1)
        groups.setdefault((float(e["time_h"]), str(e["what"])), []).append(str(e["asset"]))
    if not label or not groups:
        return
    lo, hi = ax.get_xlim()
    bbox = ax.get_position()
    per_inch = (hi - lo) / max(bbox.width * ax.figure.get_size_inches()[0], 1e-6)   # hours per inch
    row_end: list[float] = []
    for (time_h, what), assets in sorted(groups.items()):
        kind = "strike" if what == "strike" else "repaired"
        text = " " + _txt(_event_label(what, assets))
        row = next((i for i, end in enumerate(row_end) if end <= time_h), len(row_end))
        if row == len(row_end):
            row_end.append(0.0)
        row_end[row] = time_h + (text_size(text, 6.5)[0] + 0.05) * per_inch
        ax.annotate(text, (time_h, 1.0), xycoords=("data", "axes fraction"), xytext=(0, -8.5 * row),
                    textcoords="offset points", fontsize=6.5, color=EVENT_COLOURS[kind], va="top", ha="left",
                    annotation_clip=True)


def _event_label(what: str, assets: list[str]) -> str:
    """'strike: plant: X' for one asset; 'strike: plant + substation: X' for several kinds of one site;
    'strike: plant: X, line: Y' otherwise (at most 48 characters)."""
    split = [a.split(": ", 1) if ": " in a else ["", a] for a in dict.fromkeys(assets)]
    names = {name for _, name in split}
    if len(split) > 1 and len(names) == 1 and all(k for k, _ in split):
        text = f"{what}: {' + '.join(k for k, _ in split)}: {names.pop()}"
    else:
        text = f"{what}: {', '.join(dict.fromkeys(assets))}"
    return text if len(text) <= 48 else text[:47] + "…"


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

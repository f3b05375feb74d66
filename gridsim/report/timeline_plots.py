"""Figures of a timeline (``Result.timeline``): demand and unserved demand over time, a region x time heatmap
of the unserved fraction, and a restoration chart. Each takes ``ax=None`` and returns the Figure, or None
for a Result without a timeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridsim.report.layout import (
    legend_width,
    pin_axis_labels,
    place,
    text_size,
    title_height,
    xaxis_height,
    xaxis_overhang,
    yaxis_width,
)
from gridsim.report.plots import _new_axes, _txt
from gridsim.results import Result
from gridsim.timeline_summary import UNSERVED_TOL_MW

#: regions drawn one by one in the stacked chart; the rest are summed as "other regions"
TOP_REGIONS = 8
EVENT_COLOURS = {"strike": "#b2182b", "repaired": "#2e7d32"}


def _pivot(result: Result, col: str) -> pd.DataFrame:
    t = result.timeline
    return t.pivot_table(index="time_h", columns="region", values=col, aggfunc="sum").sort_index()


def _events(ax: Axes, result: Result, label: bool = True) -> None:
    """Strikes (red dashes) and repairs (green dots); labels placed in rows so that none overlap."""
    top = ax.get_ylim()[1]
    lo, hi = ax.get_xlim()
    width = 0.22 * (hi - lo)                      # room a label takes along the time axis
    row_end: list[float] = []
    for e in result.summary.get("events", []):
        kind = "strike" if e["what"] == "strike" else "repaired"
        ax.axvline(e["time_h"], color=EVENT_COLOURS[kind], lw=0.9, ls="--" if kind == "strike" else ":",
                   alpha=0.8, zorder=1)
        if not label:
            continue
        row = next((i for i, end in enumerate(row_end) if end <= e["time_h"]), len(row_end))
        if row == len(row_end):
            row_end.append(0.0)
        row_end[row] = e["time_h"] + width
        ax.text(e["time_h"], top * (0.97 - 0.065 * row), " " + _txt(f"{e['what']}: {e['asset']}"[:40]),
                fontsize=6.5, color=EVENT_COLOURS[kind], va="top", ha="left", clip_on=True)


def plot_timeline(result: Result, ax: Axes | None = None) -> Figure | None:
    """Unserved demand over time stacked by region (the largest ``TOP_REGIONS``), with strikes (red dashes)
    and repairs (green dots) marked; total demand and served demand on a second panel."""
    if not len(result.timeline):
        return None
    unserved = _pivot(result, "unserved_mw")
    demand = _pivot(result, "demand_mw").sum(axis=1)
    served = _pivot(result, "served_mw").sum(axis=1)
    order = unserved.sum().sort_values(ascending=False).index
    shown = [r for r in order[:TOP_REGIONS] if unserved[r].sum() > 0]
    rest = unserved.drop(columns=shown).sum(axis=1)
    step = float(result.summary.get("timeline", {}).get("step_h", 1.0))
    t = unserved.index.to_numpy() + 0.0
    own = ax is None
    if own:
        fig = Figure(figsize=(10.5, 6.2))
        top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.6])
    else:
        fig, top = ax.figure, None
    legends = []
    if top is not None:
        top.step(t, demand, where="post", color="#333", lw=1.2, label="demand")
        top.fill_between(t, served, step="post", color="#9ecae1", label="served")
        top.set_ylabel("MW")
        top.set_ylim(0, max(1.0, float(demand.max())) * 1.08)
        top.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
        legends.append(legend_width(["demand", "served"], 8))
        top.set_title(_txt(f"{result.scenario_name}: energy not served "
                           f"{result.summary.get('energy_not_served_mwh', 0):,.0f} MWh, peak "
                           f"{result.summary.get('peak_unserved_mw', 0):,.0f} MW at hour "
                           f"{result.summary.get('peak_at_h', 0):g}"), fontsize=11, loc="left", y=1.0)
        _events(top, result, label=False)
    cmap = [f"C{i}" for i in range(10)]
    layers = [unserved[r].to_numpy() for r in shown] + ([rest.to_numpy()] if rest.sum() > 0 else [])
    labels = [_txt(r) for r in shown] + (["other regions"] if rest.sum() > 0 else [])
    if layers:
        ax.stackplot(np.append(t, t[-1] + step), *[np.append(y, y[-1]) for y in layers], labels=labels,
                     colors=cmap[:len(layers)], step="post", alpha=0.85)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, title="unserved by region",
                  title_fontsize=8, frameon=False)
        legends.append(legend_width(labels, 7.5, "unserved by region", 8))
    n_events = len(result.summary.get("events", []))
    ax.set_ylim(0, max(1.0, float(unserved.sum(axis=1).max())) * (1.25 + 0.07 * min(n_events, 8)))
    ax.set_xlim(t[0], t[-1] + step)
    ax.set_ylabel("unserved demand (MW)")
    ax.set_xlabel("hours from the start")
    ax.grid(alpha=0.25)
    _events(ax, result)
    if own:
        # the legends start half a percent of the Axes' width right of them (bbox_to_anchor 1.005)
        left = max(yaxis_width(top), yaxis_width(ax))
        legend = max(legends, default=0.0)
        right = legend + 0.005 * (fig.get_size_inches()[0] - left - legend) if legend else 0.0
        place(fig, left=left, right=right, top=title_height(top), bottom=xaxis_height(ax), hgap=0.15)
        pin_axis_labels(top, ax)
    return fig


def plot_heatmap(result: Result, ax: Axes | None = None) -> Figure | None:
    """Unserved fraction of each region's demand, region x time."""
    if not len(result.timeline):
        return None
    frac = (_pivot(result, "unserved_mw") / _pivot(result, "demand_mw").replace(0, np.nan)).fillna(0.0)
    frac = frac[frac.sum().sort_values(ascending=False).index]
    own = ax is None
    fig, ax = _new_axes(ax, (10.5, 0.32 * len(frac.columns) + 1.6), constrained=False)
    step = float(result.summary.get("timeline", {}).get("step_h", 1.0))
    t = frac.index.to_numpy()
    top = max(5.0, float(np.ceil(frac.to_numpy().max() * 100 / 5.0) * 5.0))     # scale to what happened
    im = ax.imshow(frac.T.to_numpy() * 100, aspect="auto", cmap="Reds", vmin=0, vmax=top, interpolation="nearest",
                   extent=(t[0], t[-1] + step, len(frac.columns) - 0.5, -0.5))
    ax.set_yticks(range(len(frac.columns)), [_txt(c) for c in frac.columns], fontsize=8)
    ax.set_xlabel("hours from the start")
    ax.set_title("unserved share of each region's demand over time", fontsize=11, loc="left", y=1.0)
    if own:
        # the colour bar takes 3 % of the width and a 5 % gap from the Axes (colorbar's fraction and pad);
        # its tick labels (one decimal, as high as ``top``) and its label lie right of it
        bar_ticks = max(text_size(f"{v:.1f}", "medium")[0] for v in (top, top / 2))
        right = (3.5 + 3.5) / 72 + bar_ticks + 4 / 72 + text_size("unserved (%)")[1]
        place(fig, left=yaxis_width(ax), right=right, top=title_height(ax), bottom=xaxis_height(ax))
    bar = fig.colorbar(im, ax=ax, label="unserved (%)", fraction=0.03)
    if own:
        pin_axis_labels(ax, bar.ax)
    return fig


def plot_restoration(result: Result, ax: Axes | None = None) -> Figure | None:
    """When each region was without full supply (bars) and when it was back (text), regions hit first on
    top."""
    if not len(result.timeline):
        return None
    unserved = _pivot(result, "unserved_mw")
    hit = [r for r in unserved.columns if (unserved[r] > UNSERVED_TOL_MW).any()]
    step = float(result.summary.get("timeline", {}).get("step_h", 1.0))
    own = ax is None
    fig, ax = _new_axes(ax, (10.5, 0.36 * max(len(hit), 1) + 1.6), constrained=False)
    t = unserved.index.to_numpy()
    horizon = t[-1] + step
    hit.sort(key=lambda r: (t[np.argmax(unserved[r].to_numpy() > UNSERVED_TOL_MW)], r))
    regions = result.summary.get("regions_over_time", {})
    for y, r in enumerate(hit):
        dark = unserved[r].to_numpy() > UNSERVED_TOL_MW
        edges = np.diff(np.concatenate([[0], dark.astype(int), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        spans = [(t[a], t[b - 1] + step - t[a]) for a, b in zip(starts, ends)]
        ax.broken_barh(spans, (y - 0.35, 0.7), color="#b2182b", alpha=0.75, linewidth=0)
        back = regions.get(str(r), {}).get("restored_at_h")
        text = f"back at {back:g} h" if back is not None else "not back within the horizon"
        ax.text(horizon, y, "  " + text, va="center", fontsize=7.5)
    ax.set_yticks(range(len(hit)), [_txt(r) for r in hit], fontsize=8)
    ax.set_ylim(max(len(hit), 1) - 0.5, -0.5)      # one empty row when no region was hit
    ax.set_xlim(t[0], horizon * 1.18)
    ax.set_xlabel("hours from the start")
    title = "regions without full supply" if hit else "every region fully supplied throughout"
    ax.set_title(title, fontsize=11, loc="left", y=1.0)
    ax.grid(axis="x", alpha=0.25)
    if own:
        place(fig, left=yaxis_width(ax), right=xaxis_overhang(ax), top=title_height(ax), bottom=xaxis_height(ax))
        pin_axis_labels(ax)
    return fig

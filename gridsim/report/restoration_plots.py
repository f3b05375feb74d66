"""Figures of a restoration: the crews' work (Gantt), unserved demand under the chosen, greedy and listed
repair orders, and the objective against the number of crews. ``ax=None``; each returns a Figure (None when
the Result has no restoration)."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridsim.report.layout import fit_axes
from gridsim.report.plots import _new_axes, _txt
from gridsim.results import Result

ORDER_STYLE = {"chosen": ("#1b7837", "-", 2.0), "greedy": ("#e08214", "--", 1.4), "listed": ("#6a3d9a", ":", 1.4)}


def plot_gantt(result: Result, ax: Axes | None = None) -> Figure | None:
    """Each crew's repairs in time; a thin red bar from the strike to the start shows the wait."""
    sched = result.restoration
    if not len(sched):
        return None
    crews = int(sched["crew"].max())
    own = ax is None
    fig, ax = _new_axes(ax, (10.5, 0.55 * crews + 1.8), constrained=False)
    palette = ("#4a78b5", "#2f5d8f")
    for k, (_, r) in enumerate(sched.sort_values(["crew", "start_h"]).iterrows()):
        y = int(r["crew"])
        ax.broken_barh([(r["start_h"], r["work_h"])], (y - 0.32, 0.64), color=palette[k % 2], edgecolor="white",
                       linewidth=1.5)
        if r["start_h"] > r["strike_h"] + 1e-9:
            ax.plot([r["strike_h"], r["start_h"]], [y + 0.38, y + 0.38], color="#b2182b", lw=1)
        ax.text(r["start_h"] + 0.2, y, _txt(str(r["asset"]).split(": ", 1)[-1][:28]), va="center", fontsize=7,
                color="white", clip_on=True)
    ax.set_yticks(range(1, crews + 1), [f"crew {c}" for c in range(1, crews + 1)], fontsize=8)
    ax.set_ylim(crews + 0.6, 0.4)
    ax.set_xlabel("hours from the start")
    rs = result.summary.get("restoration", {})
    ax.set_title(_txt(f"repairs by crew ({rs.get('method', '')}); red: waiting for a crew after the strike"),
                 fontsize=11, loc="left", y=1.0)
    ax.grid(axis="x", alpha=0.25)
    if own:
        fit_axes(ax)
    return fig


def plot_orders(result: Result, ax: Axes | None = None) -> Figure | None:
    """Unserved demand over time under the chosen, greedy and listed orders."""
    comp = result.restoration_compare
    if not len(comp):
        return None
    own = ax is None
    fig, ax = _new_axes(ax, (10.5, 4.2), constrained=False)
    rs = result.summary.get("restoration", {})
    values = {"chosen": rs.get("chosen"), "greedy": rs.get("greedy"), "listed": rs.get("listed_order")}
    for name, grp in comp.groupby("order", sort=False):
        colour, ls, lw = ORDER_STYLE.get(name, ("#333", "-", 1))
        label = f"{name} order: {values.get(name, 0):,.0f} {rs.get('unit', '')}"
        ax.step(grp["time_h"], grp["unserved_mw"], where="post", color=colour, ls=ls, lw=lw, label=_txt(label))
    ax.set_xlabel("hours from the start")
    ax.set_ylabel("unserved demand (MW)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.25)
    ax.set_title("unserved demand under each repair order", fontsize=11, loc="left", y=1.0)
    if own:
        fit_axes(ax)
    return fig


def plot_crews(table: pd.DataFrame, scenario, ax: Axes | None = None) -> Figure:
    """The objective against the number of crews: chosen, greedy and listed orders, and no waiting."""
    own = ax is None
    fig, ax = _new_axes(ax, (7.5, 4.2), constrained=False)
    for col, label, style in (("chosen", "chosen order", "o-"), ("greedy", "greedy", "s--"),
                              ("listed_order", "listed order", "^:"),
                              ("no_waiting_reference", "no waiting (every repair at its strike)", "-")):
        ax.plot(table["crews"], table[col], style, label=label, lw=1.4 if col != "no_waiting_reference" else 0.8,
                color=None if col != "no_waiting_reference" else "#999")
    unit = {"ens": "energy not served (MWh)", "weighted": "priority-weighted MWh",
            "customer_hours": "customer-hours lost"}[scenario.restoration.objective]
    ax.set_xlabel("crews")
    ax.set_ylabel(unit)
    ax.set_xticks(list(table["crews"]))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.25)
    ax.set_title(_txt(f"{scenario.name}: what more crews are worth"), fontsize=11, loc="left", y=1.0)
    if own:
        fit_axes(ax)
    return fig

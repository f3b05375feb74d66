"""Figures of a worst-case search (``gridsim worst``): the vulnerability curve and the map of the worst attack.

Both take ``ax=None`` and return the Figure. ``table`` is worst.csv (``gridsim.worst.search.WORST_COLUMNS``);
the map is ``gridsim.report.map.plot_map`` of the worst attack's re-simulated Result, with the attacked assets
named and the protected ones marked in green.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridsim.report.map import HALO, _branch_table, plot_map
from gridsim.report.plots import _new_axes, _num, _txt

DC_COLOUR, RESIM_COLOUR, BOUND_COLOUR, PROTECTED = "#b2182b", "#2166ac", "#999999", "#1b7837"
#: attacks named beside the curve up to this many points
MAX_NAMED = 12


def _short(assets: str, width: int = 46) -> str:
    text = str(assets)
    return text if len(text) <= width else text[:width - 1] + "…"


def plot_vulnerability(table: pd.DataFrame, ax: Axes | None = None, title: str | None = None,
                       before: pd.DataFrame | None = None) -> Figure:
    """Worst unserved MW against k: the DC optimum (what the search maximises), the re-simulated value of the
    same attack, and the bound where it is above the value found (a shaded band: the gap). ``before``: the
    same table without protection, drawn as a grey dashed curve."""
    t = table.sort_values("k")
    fig, ax = _new_axes(ax, (10.0, 5.6))
    if before is not None and len(before):
        b = before.sort_values("k")
        ax.plot(_num(b, "k"), _num(b, "shed_mw_dc"), "--o", color="#888888", lw=1.5, ms=5, mfc="white",
                label="without protection (DC)", gid="curve-before")
    k = _num(t, "k").to_numpy()
    dc = _num(t, "shed_mw_dc").to_numpy()
    bound = _num(t, "bound_mw").to_numpy()
    resim = _num(t, "shed_mw_resimulated").to_numpy()
    has_gap = np.isfinite(bound) & (bound > dc + 1e-6)
    if has_gap.any():
        ax.fill_between(k, dc, np.where(has_gap, bound, dc), color=BOUND_COLOUR, alpha=0.25, step=None,
                        label="bound − best found (gap)", gid="gap")
    ax.plot(k, dc, "-o", color=DC_COLOUR, lw=2.0, ms=7, label="worst case, DC optimal response", gid="curve-dc")
    if np.isfinite(resim).any():
        ax.plot(k, resim, "s", color=RESIM_COLOUR, ms=7, mfc="none", mew=1.6,
                label="same attack re-simulated (scenario's solver)", gid="curve-resimulated")
    extra = _num(before, "shed_mw_dc").to_numpy() if before is not None else np.zeros(0)
    top = float(np.nanmax(np.concatenate([dc, resim[np.isfinite(resim)], bound[has_gap], extra]))) \
        if len(dc) else 1.0
    top = top if top > 0 else 1.0
    if len(t) <= MAX_NAMED:
        for kk, mw, assets in zip(k, dc, t["assets"].astype(str)):
            ax.annotate(_txt(_short(assets)), (kk, mw), xytext=(7, 5), textcoords="offset points", fontsize=7,
                        color="#444444", rotation=0, path_effects=[HALO], gid="attack-label")
    ax.set_xticks(k)
    ax.set_xlim(min(k) - 0.5, max(k) + 1.5 if len(k) else 1)
    ax.set_ylim(0, top * 1.15)
    ax.set_xlabel("k: assets lost together")
    ax.set_ylabel("unserved demand (MW)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_title(_txt(title) if title else "Worst case against the number of assets lost", loc="left",
                 fontsize=11, fontweight="bold")
    return fig


def plot_worst_map(result, attack, protected: list[str], places: dict, kind: str, ax: Axes | None = None) -> Figure:
    """``plot_map`` of the attack's Result, the attacked assets named and the protected ones in green
    (``places``: asset label -> (branch names, bus names))."""
    fig = plot_map(result, ax=ax)
    ax = fig.axes[0]
    t = _branch_table(result)
    buses = result.buses
    x, y = _num(buses, "x_km"), _num(buses, "y_km")
    for label in attack.assets:
        if kind == "substation" or label.startswith("substation: "):
            continue        # plot_map names destroyed substations itself
        px, py = _where(label, places, t, x, y)
        if px is not None:
            ax.annotate(_txt(label), (px, py), xytext=(6, 6), textcoords="offset points", fontsize=8,
                        color="#b2182b", fontweight="bold", zorder=10, path_effects=[HALO], gid="attack-label")
    shown = False
    for label in protected:
        branches, bus_names = places.get(label, ([], []))
        seg = t.loc[t.index.intersection([str(b) for b in branches])]
        if len(seg):
            for _, s in seg.iterrows():
                ax.plot([s["x0"], s["x1"]], [s["y0"], s["y1"]], color=PROTECTED, lw=5, alpha=0.6, zorder=2,
                        solid_capstyle="round", gid="protected-branch")
            shown = True
        pts = [b for b in bus_names if b in x.index]
        if pts:
            ax.scatter(x.loc[pts], y.loc[pts], marker="s", s=110, facecolors="none", edgecolors=PROTECTED,
                       linewidths=2.2, zorder=8, gid="protected-bus")
            shown = True
    if shown:
        ax.add_artist(ax.legend(handles=[Line2D([], [], color=PROTECTED, lw=4, label="protected")],
                                loc="lower left", fontsize=8, frameon=False))
    ax.set_title(f"Worst attack of {attack.k} {kind} asset(s): {attack.shed_mw_dc:,.0f} MW unserved (DC), "
                 f"{attack.shed_mw_resimulated:,.0f} MW re-simulated", loc="left", fontsize=12,
                 fontweight="bold", pad=16)
    return fig


def _where(label: str, places: dict, t: pd.DataFrame, x: pd.Series, y: pd.Series):
    branches, bus_names = places.get(label, ([], []))
    seg = t.loc[t.index.intersection([str(b) for b in branches])]
    if len(seg):
        s = seg.iloc[0]
        return (s["x0"] + s["x1"]) / 2, (s["y0"] + s["y1"]) / 2
    pts = [b for b in bus_names if b in x.index]
    if pts:
        return float(x.loc[pts].mean()), float(y.loc[pts].mean())
    return None, None

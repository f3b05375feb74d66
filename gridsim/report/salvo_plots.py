"""Figures of a salvo Monte Carlo (``gridsim.salvo``): the exceedance curve with its confidence band, several
policies' curves side by side, expected loss against air-defence units placed, and a map of hit probability
and unserved demand by region. Like every figure, each takes ``ax=None`` and returns the Figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke

from gridsim.report.map import _add_lines, _branch_table, _map_size
from gridsim.report.plots import _new_axes, _num, _txt

CURVE_COLOURS = ("#1f4e79", "#b2182b", "#2e7d32", "#7b3294", "#b8860b", "#17becf")


def plot_exceedance(curves: dict[str, np.ndarray], ax: Axes | None = None, unit: str = "MW",
                    title: str | None = None, quantity: str = "unserved demand") -> Figure:
    """P(loss > x) against x for each labelled loss vector (one value per draw), with the 95 % band that holds
    for the whole curve (DKW) shaded, and each mean marked."""
    from gridsim.salvo.stats import exceedance

    fig, ax = _new_axes(ax, (8.5, 5.0))
    for k, (label, x) in enumerate(curves.items()):
        colour = CURVE_COLOURS[k % len(CURVE_COLOURS)]
        ex = exceedance(x)
        if not len(ex):
            continue
        xs = np.concatenate([[0.0], ex["loss"].to_numpy()])
        p = np.concatenate([[1.0 if ex["loss"].iloc[0] > 0 else ex["p_exceed"].iloc[0]], ex["p_exceed"].to_numpy()])
        lo = np.concatenate([[ex["low"].iloc[0]], ex["low"].to_numpy()])
        hi = np.concatenate([[1.0], ex["high"].to_numpy()])
        mean = float(np.nanmean(x))
        ax.step(xs, p, where="post", color=colour, lw=1.8, label=f"{_txt(label)} (mean {mean:,.0f} {unit})",
                gid=f"exceedance-{k}")
        ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.15, lw=0, gid=f"band-{k}")
        ax.axvline(mean, color=colour, lw=0.9, ls="--", alpha=0.8)
    n = min((len(x) for x in curves.values()), default=0)
    ax.set_xlabel(f"{quantity} ({unit})")
    ax.set_ylabel(f"probability that the {quantity} exceeds x")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9, frameon=False)
    ax.set_title(title or f"Exceedance curve of {quantity}", loc="left", fontsize=12, fontweight="bold")
    ax.text(0.0, -0.16, f"{n:,} draws per curve; shaded: 95 % confidence band for the whole curve (DKW); "
            "dashed: the mean" + ("; curves on common random numbers" if len(curves) > 1 else ""),
            transform=ax.transAxes, fontsize=8, color="#555555")
    return fig


def plot_defence(table: pd.DataFrame, baseline: float, metric: str, ax: Axes | None = None,
                 unit: str = "MW", note: str = "") -> Figure:
    """Expected loss (or p95, ENS) against the number of air-defence units placed, with ±1.96 SE of each
    step's reduction as error bars and the place of each unit."""
    fig, ax = _new_axes(ax, (8.0, 4.6))
    units = np.arange(len(table) + 1)
    values = np.concatenate([[baseline], table[f"{metric}_after"].to_numpy(float)]) if len(table) else [baseline]
    err = np.concatenate([[0.0], 1.96 * table["reduction_se"].to_numpy(float)]) if len(table) else [0.0]
    ax.errorbar(units, values, yerr=err, marker="o", color=CURVE_COLOURS[0], capsize=4, lw=1.8, gid="defence")
    for k, name in enumerate(table.get("placed", []), start=1):
        ax.annotate(_txt(name), (k, values[k]), xytext=(6, 6), textcoords="offset points", fontsize=8,
                    color="#333333")
    ax.set_xticks(units)
    ax.set_xlabel("air-defence units placed (greedy, one at a time)")
    label = {"mean": "expected unserved demand", "p95": "95th percentile of unserved demand",
             "ens": "expected energy not served"}.get(metric, metric)
    ax.set_ylabel(f"{label} ({unit})")
    ax.grid(alpha=0.3)
    ax.set_title(f"Where more air defence helps most: {label}", loc="left", fontsize=12, fontweight="bold")
    if note:
        ax.text(0.0, -0.17, _txt(f"stopped: {note}"), transform=ax.transAxes, fontsize=8, color="#555555",
                wrap=True, gid="defence-note")
    return fig


def plot_salvo_map(base, regions: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """The grid (from ``base``, a Result of the scenario without the attack) with one disc per region: colour =
    probability that a draw hits at least one of its target assets, area = mean unserved MW in the region."""
    fig, ax = _new_axes(ax, _map_size(base))
    t = _branch_table(base)
    _add_lines(ax, t, "branches", colors="#b9bec6", linewidths=np.where(t["kv"] >= 700, 1.6, 0.7),
               zorder=1)
    reg = base.regions
    x, y = _num(reg, "x_km"), _num(reg, "y_km")
    data = regions.set_index("region")
    cmap, norm = colormaps["YlOrRd"], Normalize(0.0, 1.0)
    top = max(float(data["unserved_mw_mean"].max()), 1.0) if len(data) else 1.0
    halo = [withStroke(linewidth=3, foreground="white", alpha=0.9)]
    for name in data.index:
        if name not in x.index or not (np.isfinite(x[name]) and np.isfinite(y[name])):
            continue
        row = data.loc[name]
        size = 80 + 2200 * float(row["unserved_mw_mean"]) / top
        ax.scatter([x[name]], [y[name]], s=size, color=cmap(norm(row["hit_probability"])), edgecolor="#333333",
                   lw=0.8, alpha=0.85, zorder=3, gid="region-disc")
        ax.annotate(f"{_txt(name)}\nP(hit) {row['hit_probability']:.0%} · {row['unserved_mw_mean']:,.0f} MW",
                    (x[name], y[name]), xytext=(0, np.sqrt(size) / 2 + 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, zorder=4, path_effects=halo)
    sm = colormaps["YlOrRd"]
    from matplotlib.cm import ScalarMappable

    fig.colorbar(ScalarMappable(norm=norm, cmap=sm), ax=ax, shrink=0.6, label="probability a draw hits a target "
                 "asset in the region")
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.06)
    ax.set_xlabel("x (km)", fontsize=8, color="#666666")
    ax.set_ylabel("y (km)", fontsize=8, color="#666666")
    ax.set_title("Hit probability (colour) and mean unserved demand (disc area) by region", loc="left",
                 fontsize=12, fontweight="bold")
    return fig

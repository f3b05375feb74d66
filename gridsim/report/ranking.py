"""Figures of a critical-asset ranking (``gridsim rank``): the top assets by cause and a criticality map.

Both take ``ax=None`` and return the Figure (see ``gridsim.report.plots``). ``ranking`` is the ranking.csv
table (``gridsim.batch.rank.rank_table``): ``rank``, ``asset``, ``kind``, ``unserved_mw``,
``unserved_<cause>_mw``, ... The map draws the scenario's own result with ``gridsim.report.map``'s helpers and
colours every ranked asset by the unserved MW its loss causes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from gridsim.report.map import HALO, _add_lines, _branch_table, _map_size
from gridsim.report.plots import CAUSE_COLOURS, CAUSE_LABELS, _new_axes, _num, _txt
from gridsim.results import CAUSES, Result

#: colour scale of criticality (unserved MW when the asset is lost)
CRITICALITY_CMAP = "YlOrRd"
#: assets whose loss leaves no demand unserved are drawn in this colour
HARMLESS = "#9ecae1"
#: MW at or below this count as nothing unserved
TIE = 1e-6


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes at ``dpi``: the report's one-draw rendering (``gridsim.report.layout.png_bytes``;
    a constrained-layout figure is laid out within that draw)."""
    from gridsim.report.layout import png_bytes as one_draw

    return one_draw(fig, dpi)


def plot_ranking(ranking: pd.DataFrame, top: int = 20, ax: Axes | None = None, title: str | None = None) -> Figure:
    """The ``top`` assets of a ranking as horizontal bars of unserved MW stacked by cause, rank 1 on top."""
    shown = ranking[_num(ranking, "unserved_mw").notna()].head(top).iloc[::-1]
    fig, ax = _new_axes(ax, (11.0, max(2.6, 0.36 * len(shown) + 1.8)))
    y = np.arange(len(shown))
    left = np.zeros(len(shown))
    for cause in CAUSES:
        vals = _num(shown, f"unserved_{cause}_mw", 0.0).fillna(0.0).to_numpy()
        if vals.sum() > 0:
            ax.barh(y, vals, left=left, height=0.65, color=CAUSE_COLOURS.get(cause, "#999999"),
                    label=CAUSE_LABELS.get(cause, cause), gid=f"cause-{cause}")
        left += vals
    total = _num(shown, "unserved_mw", 0.0).fillna(0.0).to_numpy()
    scale = float(total.max()) if len(total) and total.max() > 0 else 1.0
    critical = _num(shown, "critical_unserved_mw", 0.0).fillna(0.0).to_numpy()
    for yi, mw, crit in zip(y, total, critical):
        ax.text(mw + 0.01 * scale, yi, f"{mw:,.0f} MW" + (f" ({crit:,.0f} critical)" if crit >= 0.5 else ""),
                va="center", fontsize=8, color="#333333")
    labels = [f"{int(r)}. {_txt(a)}" for r, a in zip(shown["rank"], shown["asset"])]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, scale * 1.35)
    ax.set_xlabel("unserved demand when the asset is lost (MW)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(_txt(title) if title else f"Top {len(shown)} assets by unserved demand", loc="left",
                 fontsize=11, fontweight="bold")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, frameon=False, title="cause", title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no single loss leaves demand unserved", transform=ax.transAxes, ha="center",
                color="#2e7d32")
    return fig


# -- where the assets are ------------------------------------------------------------------------------
def _points(result: Result, kind: str) -> pd.DataFrame:
    """x, y per asset name for point assets (substations, plants, units)."""
    buses = result.buses
    x, y = _num(buses, "x_km"), _num(buses, "y_km")
    if kind == "substation":
        key = buses["substation"].astype(str) if "substation" in buses else buses.index.astype(str)
        return pd.DataFrame({"x": x, "y": y}).groupby(key.to_numpy()).mean()
    gens = result.generators
    if not len(gens) or "bus" not in gens:
        return pd.DataFrame(columns=["x", "y"])
    g = pd.DataFrame({"x": gens["bus"].map(x), "y": gens["bus"].map(y)}, index=gens.index.astype(str))
    if kind == "plant":
        return g.groupby(gens["plant"].astype(str).to_numpy()).mean()
    return g


def _draw_points(ax: Axes, where: pd.DataFrame, values: pd.Series, norm: Normalize, large: bool) -> None:
    cmap = colormaps[CRITICALITY_CMAP]
    pts = where.join(values.rename("mw"), how="inner").dropna(subset=["x", "y"]).sort_values("mw")
    harmless = pts["mw"].fillna(0.0) <= TIE
    size = 12.0 if large else 30.0
    ax.scatter(pts.loc[harmless, "x"], pts.loc[harmless, "y"], s=size * 0.6, c=HARMLESS, edgecolors="none",
               zorder=4, gid="assets-harmless")
    hit = pts[~harmless]
    ax.scatter(hit["x"], hit["y"], s=size + 260.0 * hit["mw"] / max(norm.vmax, TIE), c=cmap(norm(hit["mw"])),
               edgecolors="#333333", linewidths=0.5, zorder=5, gid="assets-critical")


def _draw_branches(ax: Axes, t: pd.DataFrame, values: pd.Series, norm: Normalize) -> None:
    cmap = colormaps[CRITICALITY_CMAP]
    seg = t.join(values.rename("mw"), how="inner").sort_values("mw")
    harmless = seg["mw"].fillna(0.0) <= TIE
    _add_lines(ax, seg[harmless], "assets-harmless", colors=HARMLESS, linewidths=1.0, zorder=3)
    hit = seg[~harmless]
    _add_lines(ax, hit, "assets-critical", colors=cmap(norm(hit["mw"].to_numpy())),
               linewidths=1.5 + 3.5 * hit["mw"].to_numpy() / max(norm.vmax, TIE), zorder=4, capstyle="round")



def _label_top(ax: Axes, ranking: pd.DataFrame, where: pd.DataFrame, n: int) -> None:
    for _, row in ranking.head(n).iterrows():
        name = str(row["asset"])
        if name not in where.index or not np.isfinite(row["unserved_mw"]) or row["unserved_mw"] <= TIE:
            continue
        px, py = where.loc[name, "x"], where.loc[name, "y"]
        if np.isfinite(px) and np.isfinite(py):
            ax.annotate(f"{int(row['rank'])}. {_txt(name)}", (px, py), xytext=(6, 5), textcoords="offset points",
                        fontsize=7, color="#5a0f0f", zorder=9, path_effects=[HALO], gid="asset-label")


def plot_criticality_map(result: Result, ranking: pd.DataFrame, kind: str, ax: Axes | None = None,
                         labels: int = 10) -> Figure:
    """The grid (``result``: the scenario's own state) with every ranked asset coloured by the unserved MW its
    loss causes: lines and transformers as coloured branches, substations, plants and units as bubbles
    (area and colour grow with the MW); assets whose loss costs nothing in light blue; the top ``labels``
    assets named."""
    fig, ax = _new_axes(ax, _map_size(result))
    large = len(result.buses) > 400
    t = _branch_table(result)
    _add_lines(ax, t, "branches-base", colors="#d0d0d0", linewidths=0.6 if large else 0.9, zorder=1)
    singles = ranking[~ranking["asset"].astype(str).str.contains(" + ", regex=False)]
    values = pd.Series(_num(singles, "unserved_mw").to_numpy(), index=singles["asset"].astype(str))
    values = values[~values.index.duplicated()]
    vmax = float(values.max()) if values.notna().any() and values.max() > TIE else 1.0
    norm = Normalize(0.0, vmax)
    if kind in ("line", "transformer"):
        where = pd.DataFrame({"x": (t["x0"] + t["x1"]) / 2, "y": (t["y0"] + t["y1"]) / 2}, index=t.index)
        if kind == "line":
            _draw_branches(ax, t, values, norm)
        else:       # transformers often join buses of one substation: no length on the map, so a bubble
            _draw_points(ax, where, values, norm, large)
    else:
        where = _points(result, kind)
        _draw_points(ax, where, values, norm, large)
    _label_top(ax, singles, where, labels)
    fig.colorbar(ScalarMappable(norm=norm, cmap=CRITICALITY_CMAP), ax=ax, shrink=0.6, pad=0.01,
                 label=f"unserved MW when the {kind} is lost")
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.04)
    ax.tick_params(labelsize=7, colors="#888888")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    n_hit = int((values > TIE).sum())
    ax.set_title(f"Criticality of {kind}s: {n_hit} of {len(values)} leave demand unserved when lost",
                 loc="left", fontsize=12, fontweight="bold", pad=16)
    ax.text(0.0, 1.008, f"{_txt(result.scenario_name)} · network {_txt(result.network_name)} · base state "
            f"{result.unserved_mw:,.0f} MW unserved", transform=ax.transAxes, fontsize=8, color="#555555",
            va="bottom", gid="map-subtitle")
    return fig

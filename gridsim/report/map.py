"""The map of one Result: the damaged grid on its coordinates (``plot_map``).

Like every figure (``gridsim.report.plots``), ``plot_map`` takes ``ax=None`` and returns the Figure.
Collections on the map carry a ``gid`` (``branches-outaged``, ``plants-out``, ...) so tests and callers can
find them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patheffects import withStroke

from gridsim.report.layout import (
    legend_width,
    pin_axis_labels,
    place,
    title_height,
    xaxis_height,
    yaxis_width,
)
from gridsim.report.plots import (
    DEAD,
    DESTROYED,
    OUTAGED,
    OVERLOADED,
    TRIPPED,
    _bool,
    _flag,
    _new_axes,
    _num,
    _pct,
    _txt,
)
from gridsim.results import Result

#: plant colour by fuel (kept clear of the red/orange/magenta that mark damage and overload)
FUEL_COLOURS = {
    "nuclear": "#7b3294", "coal": "#4d4d4d", "gas": "#b8860b", "hydro": "#1f78b4",
    "pumped_storage": "#6baed6", "solar": "#ffd92f", "wind": "#33a02c", "import": "#17becf",
    "other": "#999999",
}
#: energised islands other than the main one (the main island is drawn in neutral voltage colours)
ISLAND_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#3f6fb0", "#5aa469")
#: (lowest kV of the class, neutral colour, line width) from the highest voltage down
VOLTAGE_CLASSES = (
    (700.0, "#111111", 3.2), (380.0, "#2b2b45", 2.7), (300.0, "#3d4f6b", 2.2), (200.0, "#5b6b80", 1.7),
    (100.0, "#8593a3", 1.1), (0.0, "#aeb6bf", 0.7),
)
#: white outline that keeps small labels readable on top of lines
HALO = withStroke(linewidth=2.5, foreground="white")
#: above this many buses the map switches to thin lines and region labels only
LARGE_GRID = 400


# -- small helpers ---------------------------------------------------------------------------------------
def _voltage_class(kv: float) -> int:
    kv = 0.0 if not np.isfinite(kv) else kv
    return next(i for i, (low, _, _) in enumerate(VOLTAGE_CLASSES) if kv >= low)


def _kv_label(kvs: Iterable[float]) -> str:
    levels = sorted({round(float(k)) for k in kvs if np.isfinite(k)}, reverse=True)
    if not levels:
        return "unknown kV"
    if len(levels) <= 3:
        return "/".join(f"{k:g}" for k in levels) + " kV"
    return f"{levels[-1]:g}–{levels[0]:g} kV"


def _headline(result: Result) -> str:
    pct = _pct(result.unserved_mw, result.demand_mw)
    numbers = f"{result.unserved_mw:,.0f} MW unserved ({pct:.1f} % of {result.demand_mw:,.0f} MW demand)"
    name = _txt(result.scenario_name)
    return f"{name}:{chr(10) if len(name) > 50 else ' '}{numbers}"


# -- the map ---------------------------------------------------------------------------------------------
def _main_island(result: Result) -> int | None:
    """The energised island with the most buses (ties: most demand); None when nothing is energised."""
    isl = result.islands
    if len(isl) and "energised" in isl:
        live = isl[_flag(isl, "energised")]
        if len(live):
            order = live.assign(_n=_num(live, "n_buses", 0), _d=_num(live, "demand_mw", 0))
            return order.sort_values(["_n", "_d"], ascending=False).index[0]
    buses = result.buses
    live = buses[_flag(buses, "energised")]
    if len(live) and "island" in live:
        return live["island"].value_counts().index[0]
    return None


def _branch_table(result: Result) -> pd.DataFrame:
    """Branches with end coordinates, a drawing state and the island they belong to."""
    br, buses = result.branches, result.buses
    x, y = _num(buses, "x_km"), _num(buses, "y_km")
    island = buses["island"] if "island" in buses else pd.Series(-1, index=buses.index)
    live = _flag(buses, "energised")
    fb, tb = br.get("from_bus", pd.Series(index=br.index)), br.get("to_bus", pd.Series(index=br.index))
    t = pd.DataFrame({
        "x0": fb.map(x), "y0": fb.map(y), "x1": tb.map(x), "y1": tb.map(y),
        "kv": _num(br, "vn_kv", 0.0), "island": fb.map(island),
        "live": _bool(fb.map(live)) & _bool(tb.map(live)),
        "overloaded": _flag(br, "overloaded"), "loading": _num(br, "loading_percent"),
    }, index=br.index)
    in_service = _flag(br, "in_service") if "in_service" in br else pd.Series(True, index=br.index)
    state = np.select(
        [_flag(br, "outaged"), _flag(br, "tripped"), ~in_service, ~t["live"]],
        ["outaged", "tripped", "off", "dead"], default="live")
    t["state"] = state
    t["vclass"] = [_voltage_class(k) for k in t["kv"]]
    return t.dropna(subset=["x0", "y0", "x1", "y1"])


def _segments(t: pd.DataFrame) -> np.ndarray:
    return t[["x0", "y0", "x1", "y1"]].to_numpy(float).reshape(-1, 2, 2)


def _add_lines(ax: Axes, t: pd.DataFrame, gid: str, **style) -> LineCollection | None:
    if not len(t):
        return None
    lc = LineCollection(_segments(t), **style)
    lc.set_gid(gid)
    ax.add_collection(lc)
    return lc


def _island_colours(result: Result, main) -> dict:
    """Colour per energised island other than the main one, largest islands first."""
    isl = result.islands
    if not len(isl):
        return {}
    live = isl[_flag(isl, "energised")].drop(index=[main], errors="ignore")
    live = live.assign(_n=_num(live, "n_buses", 0)).sort_values("_n", ascending=False)
    return {i: ISLAND_COLOURS[k % len(ISLAND_COLOURS)] for k, i in enumerate(live.index)}


def _draw_branches(ax: Axes, t: pd.DataFrame, main, colours: dict, scale: float) -> None:
    widths = np.array([VOLTAGE_CLASSES[c][2] for c in t["vclass"]]) * scale
    t = t.assign(w=widths)
    dead = t[t["state"] == "dead"]
    _add_lines(ax, dead, "branches-dead", colors=DEAD, linewidths=dead["w"] * 0.7, linestyles="--",
               alpha=0.7, zorder=1)
    _add_lines(ax, t[t["state"] == "off"], "branches-off", colors=DEAD, linewidths=0.6 * scale,
               linestyles=":", alpha=0.5, zorder=1)
    over = t[(t["state"] == "live") & t["overloaded"]]
    _add_lines(ax, over, "branches-overloaded", colors=OVERLOADED, linewidths=over["w"] + 4.0 * scale,
               alpha=0.85, zorder=2, capstyle="round")
    live = t[t["state"] == "live"]
    for (island, vclass), grp in live.groupby([live["island"], live["vclass"]], sort=True):
        colour = VOLTAGE_CLASSES[vclass][1] if island == main else colours.get(island, "#555555")
        _add_lines(ax, grp, f"branches-island-{island}", colors=colour, linewidths=grp["w"], zorder=3)
    for state, colour, ls in (("outaged", OUTAGED, ":"), ("tripped", TRIPPED, "-.")):
        grp = t[t["state"] == state]
        _add_lines(ax, grp, f"branches-{state}", colors=colour, linewidths=np.maximum(grp["w"], 1.6 * scale),
                   linestyles=ls, zorder=4)
        # transformers inside one substation have no length on the map: mark them with a diamond
        short = grp[np.hypot(grp["x1"] - grp["x0"], grp["y1"] - grp["y0"]) < 1e-6]
        if len(short):
            ax.scatter(short["x0"], short["y0"], marker="D", s=40 * scale, facecolors="none",
                       edgecolors=colour, linewidths=1.4, zorder=6, gid=f"trafos-{state}")


def _draw_buses(ax: Axes, result: Result, main, colours: dict, large: bool) -> None:
    buses = result.buses
    x, y = _num(buses, "x_km"), _num(buses, "y_km")
    live, destroyed = _flag(buses, "energised"), _flag(buses, "destroyed")
    island = buses["island"] if "island" in buses else pd.Series(-1, index=buses.index)
    face = [("#333333" if i == main else colours.get(i, "#555555")) if e else "white"
            for i, e in zip(island, live)]
    edge = ["none" if e else DEAD for e in live]
    size = 4.0 if large else 14.0
    ax.scatter(x, y, s=size, c=face, edgecolors=edge, linewidths=0.7, zorder=5, gid="buses")
    if destroyed.any():
        gone = buses[destroyed].assign(_x=x[destroyed], _y=y[destroyed])
        key = gone["substation"] if "substation" in gone else pd.Series(gone.index, index=gone.index)
        subs = gone.groupby(key.astype(str))[["_x", "_y"]].mean()
        ax.scatter(subs["_x"], subs["_y"], marker="X", s=70 if large else 170, c=DESTROYED,
                   edgecolors="white", linewidths=0.8, zorder=8, gid="substations-destroyed")
        if not large:
            for name, row in subs.head(30).iterrows():
                ax.annotate(_txt(name), (row["_x"], row["_y"]), xytext=(6, -10), textcoords="offset points",
                            fontsize=7, color=DESTROYED, zorder=9,
                            path_effects=[HALO])


def _plant_table(result: Result) -> pd.DataFrame:
    gens, buses = result.generators, result.buses
    if not len(gens) or "bus" not in gens:
        return pd.DataFrame(columns=["x", "y", "fuel", "cap", "avail"])
    g = pd.DataFrame({
        "plant": gens["plant"].astype(str) if "plant" in gens else gens.index.astype(str),
        "x": gens["bus"].map(_num(buses, "x_km")), "y": gens["bus"].map(_num(buses, "y_km")),
        "fuel": gens["fuel"].astype(str) if "fuel" in gens else "other",
        "cap": _num(gens, "max_p_mw", 0.0).fillna(0.0),
        "avail": _num(gens, "available_mw", np.nan),
    }, index=gens.index)
    g["avail"] = g["avail"].fillna(g["cap"])
    plants = g.groupby("plant").agg(x=("x", "mean"), y=("y", "mean"), fuel=("fuel", "first"),
                                    cap=("cap", "sum"), avail=("avail", "sum"))
    return plants.dropna(subset=["x", "y"])


def _draw_plants(ax: Axes, result: Result, large: bool) -> list[str]:
    """Bubbles with area proportional to MW; returns the fuels drawn (for the legend)."""
    p = _plant_table(result)
    p = p[p["cap"] > 0]            # synchronous condensers and empty units have nothing to show
    if not len(p):
        return []
    k = (260.0 if large else 650.0) / p["cap"].max()
    colour = p["fuel"].map(FUEL_COLOURS).fillna(FUEL_COLOURS["other"])
    out = p["avail"] <= 1e-6
    damaged = p["avail"] < p["cap"] - 1e-6
    up = ~out
    ax.scatter(p.loc[up, "x"], p.loc[up, "y"], s=np.maximum(k * p.loc[up, "avail"], 8), c=colour[up],
               edgecolors="#222222", linewidths=0.6, alpha=0.9, zorder=6, gid="plants")
    if damaged.any():
        ax.scatter(p.loc[damaged, "x"], p.loc[damaged, "y"], s=np.maximum(k * p.loc[damaged, "cap"], 12),
                   facecolors=np.where(out[damaged], "#ffffffe6", "none"), edgecolors=OUTAGED, linewidths=1.5,
                   zorder=6, gid="plants-damaged")   # no collection alpha: it would fill "none" faces
    if out.any():
        ax.scatter(p.loc[out, "x"], p.loc[out, "y"], s=np.clip(0.4 * k * p.loc[out, "cap"], 25, 160),
                   marker="x", c=OUTAGED, linewidths=1.8, zorder=7, gid="plants-out")
        if not large:
            for name, row in p[out & (p["cap"] >= 0.05 * p["cap"].max())].head(20).iterrows():
                ax.annotate(_txt(name), (row["x"], row["y"]), xytext=(7, 5), textcoords="offset points",
                            fontsize=7, color="#7a1010", zorder=9,
                            path_effects=[HALO])
    return sorted(set(p["fuel"]), key=lambda f: list(FUEL_COLOURS).index(f) if f in FUEL_COLOURS else 99)


def _draw_regions(ax: Axes, result: Result, large: bool) -> None:
    """Region name and unserved MW just above the region's point, as map lettering (white halo, no box),
    above lines and buses, below plants and damage marks, which must stay visible."""
    reg = result.regions
    if not len(reg):
        return
    x, y = _num(reg, "x_km"), _num(reg, "y_km")
    unserved, pct, demand = _num(reg, "unserved_mw", 0.0), _num(reg, "unserved_pct"), _num(reg, "demand_mw", 0.0)
    size = 8.5 if large else 9.5
    halo = [withStroke(linewidth=3.5, foreground="white", alpha=0.85)]
    for name in reg.index:
        if not (np.isfinite(x[name]) and np.isfinite(y[name])):
            continue
        mw = unserved[name] if np.isfinite(unserved[name]) else 0.0
        share = pct[name] if np.isfinite(pct[name]) else _pct(mw, demand[name])
        numbers = f"{mw:,.0f} MW off ({share:.0f} %)" if share >= 10 else f"{mw:,.0f} MW off ({share:.1f} %)"
        numbers = numbers if mw > 0.5 else "all served"
        style = dict(textcoords="offset points", ha="center", va="bottom", zorder=5.5, path_effects=halo,
                     gid="region-label", annotation_clip=False)
        ax.annotate(numbers, (x[name], y[name]), xytext=(0, 7), fontsize=size - 1.5,
                    color="#8b1a1a" if mw > 0.5 else "#2e6b30", **style)
        ax.annotate(_txt(name).upper(), (x[name], y[name]), xytext=(0, 7 + 1.35 * (size - 1.5)), fontsize=size,
                    fontweight="bold", color="#333333", alpha=0.9, **style)


def _label_overloads(ax: Axes, t: pd.DataFrame) -> None:
    over = t[(t["state"] == "live") & t["overloaded"]].sort_values("loading", ascending=False).head(15)
    for _, row in over.iterrows():
        if np.isfinite(row["loading"]):
            ax.annotate(f"{row['loading']:.0f} %", ((row["x0"] + row["x1"]) / 2, (row["y0"] + row["y1"]) / 2),
                        fontsize=7, color="#b35900", ha="center", va="bottom", zorder=9,
                        path_effects=[HALO])


def _map_legend(ax: Axes, t: pd.DataFrame, main, colours: dict, fuels: list[str], result: Result) -> float:
    """The legend right of the map; returns the inches it takes from the Axes' right edge (0 without one)."""
    h: list = []
    main_lines = t[(t["state"] == "live") & (t["island"] == main)]
    for vclass in sorted(set(main_lines["vclass"])):
        kvs = main_lines.loc[main_lines["vclass"] == vclass, "kv"]
        h.append(Line2D([], [], color=VOLTAGE_CLASSES[vclass][1], lw=VOLTAGE_CLASSES[vclass][2],
                        label=f"{_kv_label(kvs)} (main island)"))
    served = _num(result.islands, "served_mw", np.nan)
    for k, (island, colour) in enumerate(colours.items()):
        if k == 5:
            h.append(Line2D([], [], color="#777777", lw=1.5, label=f"+ {len(colours) - 5} more islands"))
            break
        mw = served.get(island, np.nan)
        extra = f", {mw:,.0f} MW served" if np.isfinite(mw) else ""
        h.append(Line2D([], [], color=colour, lw=2, label=f"island {island}{extra}"))
    states = set(t["state"])
    if "dead" in states or (~_flag(result.buses, "energised")).any():
        h.append(Line2D([], [], color=DEAD, lw=1.2, ls="--", marker="o", mfc="white", mec=DEAD, ms=4,
                        label="de-energised"))
    if "off" in states:
        h.append(Line2D([], [], color=DEAD, lw=0.8, ls=":", label="out of service before the event"))
    if "outaged" in states:
        h.append(Line2D([], [], color=OUTAGED, lw=1.8, ls=":", label="branch knocked out"))
    if "tripped" in states:
        h.append(Line2D([], [], color=TRIPPED, lw=1.8, ls="-.", label="branch tripped (cascade)"))
    if ((t["state"] == "live") & t["overloaded"]).any():
        h.append(Line2D([], [], color=OVERLOADED, lw=5, alpha=0.85, label="overloaded (> 100 %)"))
    if _flag(result.buses, "destroyed").any():
        h.append(Line2D([], [], ls="", marker="X", ms=10, color=DESTROYED, mec="white",
                        label="substation destroyed"))
    if fuels:
        h.append(Line2D([], [], ls="", marker="o", ms=10, mfc="#bbbbbb", mec="#222222",
                        label="plant (area ∝ available MW)"))
        h.append(Line2D([], [], ls="", marker="o", ms=10, mfc="none", mec=OUTAGED, mew=1.5,
                        label="red ring: capacity lost"))
        h.append(Line2D([], [], ls="", marker="x", ms=8, color=OUTAGED, mew=1.8, label="plant out"))
        h += [Patch(fc=FUEL_COLOURS.get(f, FUEL_COLOURS["other"]), ec="#222222", label=f.replace("_", " "))
              for f in fuels]
    if not h:
        return 0.0
    ax.legend(handles=h, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              borderaxespad=0.0)
    return legend_width([x.get_label() for x in h], 8)


def _map_size(result: Result) -> tuple[float, float]:
    """Figure size following the grid's aspect ratio: 13 in wide (about 3.3 in of it legend)."""
    x, y = _num(result.buses, "x_km"), _num(result.buses, "y_km")
    dx, dy = float(np.nanmax(x) - np.nanmin(x)) if x.notna().any() else 1.0, \
        float(np.nanmax(y) - np.nanmin(y)) if y.notna().any() else 1.0
    ratio = dy / dx if dx > 0 and dy > 0 else 0.75
    return 13.0, float(np.clip(9.7 * ratio + 1.0, 6.0, 11.0))


def plot_map(result: Result, ax: Axes | None = None) -> Figure:
    """The grid on its coordinates after the event.

    Line width and neutral colour show the voltage level in the main energised island; other energised
    islands get distinct colours; de-energised buses and branches are grey and dashed; branches knocked out
    by the scenario are red dotted, those tripped by a cascade magenta dash-dotted, overloaded ones have an
    orange halo. Destroyed substations are red X; plants are bubbles (area = available MW, colour = fuel)
    with a red ring for lost capacity and a red x when out. Region labels give the unserved MW and %.
    """
    own = ax is None
    fig, ax = _new_axes(ax, _map_size(result), constrained=False)
    large = len(result.buses) > LARGE_GRID
    scale = 0.55 if large else 1.0
    main = _main_island(result)
    colours = _island_colours(result, main)
    t = _branch_table(result)
    _draw_branches(ax, t, main, colours, scale)
    _draw_buses(ax, result, main, colours, large)
    fuels = _draw_plants(ax, result, large)
    if not large:
        _label_overloads(ax, t)
    _draw_regions(ax, result, large)
    legend = _map_legend(ax, t, main, colours, fuels, result)
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.04)
    ax.set_xlabel("x (km)", fontsize=8, color="#666666")
    ax.set_ylabel("y (km)", fontsize=8, color="#666666")
    ax.tick_params(labelsize=7, colors="#888888")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(_headline(result), loc="left", fontsize=12, fontweight="bold", pad=16, y=1.0)
    ax.text(0.0, 1.008, f"network {_txt(result.network_name)} · {len(result.buses):,} buses · "
            f"{len(result.branches):,} branches · solver status {_txt(result.summary.get('status', '?'))}",
            transform=ax.transAxes, fontsize=8, color="#555555", va="bottom", gid="map-subtitle")
    if own:
        # the legend starts 1 % of the Axes' width right of it (bbox_to_anchor 1.01)
        width = fig.get_size_inches()[0]
        left = yaxis_width(ax)
        right = legend + 0.01 * (width - left - legend) if legend else 0.0
        place(fig, left=left, right=right, top=title_height(ax, pad=16), bottom=xaxis_height(ax))
        pin_axis_labels(ax)
    return fig

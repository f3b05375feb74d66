"""Figures of one Result: unserved demand by region and the cascade; the map is ``gridsim.report.map``.

Every function takes ``ax=None`` and returns the Figure. Without ``ax`` the figure is a plain
``matplotlib.figure.Figure`` that pyplot does not know about: no global state, nothing to close, safe in
batch runs and threads; ``savefig`` renders it with Agg. With ``ax`` the function draws into it and returns
``ax.figure`` (the caller owns and closes it). The helpers and damage colours here are shared with the map.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridsim.report.layout import (
    EDGE,
    PT,
    fit_axes,
    legend_width,
    pin_axis_labels,
    place,
    text_size,
    title_height,
    xaxis_height,
    xaxis_overhang,
    yaxis_width,
)
from gridsim.results import CAUSES, Result

#: bar colour by cause of unserved demand
CAUSE_COLOURS = {"isolated": "#525252", "deficit": "#b2182b", "network": "#ff7f0e", "cascade": "#c51b7d"}
CAUSE_LABELS = {
    "isolated": "isolated: no generation\nreachable",
    "deficit": "deficit: island generation\nbelow demand",
    "network": "network: shed for branch\nratings or voltage",
    "cascade": "cascade: lost as protection\ntripped overloaded branches",
}
#: damage marks, shared by the map and the cascade (a tripped branch has one colour everywhere)
OUTAGED, TRIPPED, OVERLOADED, DEAD, DESTROYED = "#d62728", "#c51b7d", "#ff7f0e", "#999999", "#d62728"


# -- small helpers ---------------------------------------------------------------------------------------
def _new_axes(ax: Axes | None, figsize: tuple[float, float], constrained: bool = True) -> tuple[Figure, Axes]:
    """The given Axes and its figure, or a new Figure with one Axes: laid out by matplotlib's constrained layout,
    or (``constrained=False``) left for the caller to ``gridsim.report.layout.place``."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained" if constrained else None)
    return fig, fig.add_subplot()


def _txt(value) -> str:
    """Data text for matplotlib: '$' would start mathtext, so escape it."""
    return str(value).replace("$", r"\$")


def _num(df: pd.DataFrame, col: str, default: float = np.nan) -> pd.Series:
    if col not in df:
        return pd.Series(default, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)


def _flag(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(False, index=df.index, dtype=bool)
    return _bool(df[col])


def _bool(s: pd.Series) -> pd.Series:
    """Booleans with missing values as False (no fillna: it warns about object downcasting)."""
    return s.where(s.notna(), False).astype(bool)


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole > 0 else 0.0


# -- regions ---------------------------------------------------------------------------------------------
def plot_regions(result: Result, ax: Axes | None = None, max_regions: int = 40) -> Figure:
    """Unserved MW by region as horizontal bars stacked by cause, largest on top, with MW and % of the
    region's demand written at the end of each bar."""
    reg = result.regions
    unserved = _num(reg, "unserved_mw", 0.0).fillna(0.0).sort_values(ascending=False)
    shown = unserved.index[:max_regions][::-1]
    own = ax is None
    fig, ax = _new_axes(ax, (11.0, max(2.3, 0.42 * len(shown) + 1.8)), constrained=False)
    y = np.arange(len(shown))
    left = np.zeros(len(shown))
    causes = [c for c in CAUSES if f"unserved_{c}_mw" in reg]
    for cause in causes:
        vals = _num(reg, f"unserved_{cause}_mw", 0.0).fillna(0.0).reindex(shown).to_numpy()
        if vals.sum() > 0:
            ax.barh(y, vals, left=left, color=CAUSE_COLOURS.get(cause, "#999999"), height=0.65,
                    label=CAUSE_LABELS.get(cause, cause), gid=f"cause-{cause}")
        left += vals
    rest = unserved.reindex(shown).to_numpy() - left
    if (rest > 1e-6).any():
        ax.barh(y, np.clip(rest, 0, None), left=left, color="#bbbbbb", height=0.65,
                label="unserved (no cause given)" if causes else "unserved", gid="cause-other")
    demand = _num(reg, "demand_mw", 0.0).reindex(shown)
    pct = _num(reg, "unserved_pct").reindex(shown)
    top = float(unserved.max()) if len(unserved) and unserved.max() > 0 else 1.0
    for yi, name in zip(y, shown):
        mw = unserved[name]
        share = pct[name] if np.isfinite(pct[name]) else _pct(mw, demand[name])
        ax.text(mw + 0.01 * top, yi, f"{mw:,.0f} MW · {share:.1f} % of {demand[name]:,.0f} MW",
                va="center", fontsize=8, color="#333333")
    ax.set_yticks(y, [_txt(n) for n in shown], fontsize=9)
    ax.set_xlim(0, top * 1.45)
    ax.set_xlabel("unserved demand (MW)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    more = f" (top {max_regions} of {len(reg)})" if len(reg) > max_regions else ""
    pct_total = _pct(result.unserved_mw, result.demand_mw)
    ax.set_title(f"Unserved demand by region{more}: {result.unserved_mw:,.0f} MW ({pct_total:.1f} %)",
                 loc="left", fontsize=11, fontweight="bold", y=1.0)
    labels = ax.get_legend_handles_labels()[1]
    if labels:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, title="cause",
                  title_fontsize=8, alignment="left")
    else:
        ax.text(0.5, 0.5, "all demand served", transform=ax.transAxes, ha="center", color="#2e7d32")
    if own:
        place(fig, left=yaxis_width(ax), right=legend_width(labels, 8, "cause", 8) if labels else 0.0,
              top=title_height(ax), bottom=xaxis_height(ax))
        pin_axis_labels(ax)
    return fig


# -- cascade ---------------------------------------------------------------------------------------------
def _names(value) -> list[str]:
    """The tripped branch names of one step, from a list or a "; "-separated string (the engine's form)."""
    if isinstance(value, str):
        return [n.strip() for n in value.split(";") if n.strip()]
    if isinstance(value, Iterable):
        return [str(n) for n in value]
    return []


def _short_list(names: list[str], width: int = 42) -> str:
    """As many names as fit in about ``width`` characters, then "+N more"."""
    shown: list[str] = []
    for n in names:
        if shown and len(", ".join(shown + [n])) > width:
            break
        shown.append(n if len(n) <= width else n[: width - 1] + "…")
    rest = len(names) - len(shown)
    return _txt(", ".join(shown)) + (f" +{rest} more" if rest else "")


def plot_cascade(result: Result, ax: Axes | None = None) -> Figure | None:
    """Unserved MW after each cascade step (step line), with what tripped at each step; None without a
    cascade table or without an ``unserved_mw`` column."""
    steps = result.cascade_steps
    if steps is None or not len(steps) or "unserved_mw" not in steps:
        return None
    own = ax is None
    fig, ax = _new_axes(ax, (9.5, 4.5), constrained=False)
    x = _num(steps, "step").to_numpy() if "step" in steps else np.arange(1, len(steps) + 1, dtype=float)
    mw = _num(steps, "unserved_mw").to_numpy()
    # each value holds from its step to the next; the last one is drawn half a step further
    xs = np.append(x, x[-1] + 0.5) if np.isfinite(x).all() else x
    hold = np.append(mw, mw[-1]) if len(xs) > len(x) else mw
    ax.step(xs, hold, where="post", color="#333333", lw=2, gid="cascade-line", label="unserved demand")
    ax.plot(x, mw, "o", color="#333333", ms=5, gid="cascade-points")
    if "unserved_cascade_mw" in steps:
        lost = _num(steps, "unserved_cascade_mw").fillna(0.0).to_numpy()
        lost = np.append(lost, lost[-1]) if len(xs) > len(x) else lost
        ax.fill_between(xs, hold - lost, hold, step="post", color=TRIPPED, alpha=0.35, lw=0,
                        gid="cascade-share", label="of which lost in the cascade")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    tripped = steps["tripped"] if "tripped" in steps else pd.Series([[]] * len(steps), index=steps.index)
    labels = []
    if len(steps) <= 15:
        for xi, yi, value in zip(x, mw, tripped):
            names = _names(value)
            if names:
                labels.append(ax.annotate(_short_list(names), (xi, yi), xytext=LABEL_OFFSET_PT,
                                          textcoords="offset points", fontsize=7, rotation=LABEL_ROTATION,
                                          color="#444444", gid="cascade-label"))
    ax.set_xlabel("cascade step")
    ax.set_ylabel("unserved demand (MW)")
    ax.set_ylim(0, max(np.nanmax(mw) if np.isfinite(mw).any() else 1.0, 1.0) * 1.25)
    if np.isfinite(x).all():
        ax.set_xlim(x.min() - 0.3, x.max() + 0.9)       # room for the last step's label
        if len(x) <= 30:
            ax.set_xticks(x)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    n_tripped = int(_num(steps, "n_tripped").fillna(0).sum()) if "n_tripped" in steps \
        else sum(len(_names(v)) for v in tripped)
    ax.set_title(f"Cascade: {n_tripped} branch{'es' if n_tripped != 1 else ''} tripped in {len(steps)} step{'s' if len(steps) != 1 else ''}, "
                 f"{result.unserved_mw:,.0f} MW unserved at the end", loc="left", fontsize=11, fontweight="bold",
                 y=1.0)
    if own:
        _fit_with_labels(ax, labels)
    return fig


#: the cascade's step labels: offset from their point (points) and rotation (degrees)
LABEL_OFFSET_PT, LABEL_ROTATION = (4, 6), 12


def _fit_with_labels(ax: Axes, labels: list) -> None:
    """``fit_axes``, with the right margin widened until the rotated step labels end inside the figure (the last
    one starts near the right edge): moving the margin by d moves a label starting at a fraction f of the Axes'
    width by f * d, so a few rounds settle it."""
    fig = ax.get_figure(root=True)
    right = xaxis_overhang(ax)
    cos, sin = np.cos(np.radians(LABEL_ROTATION)), np.sin(np.radians(LABEL_ROTATION))
    for _ in range(4):
        fit_axes(ax, right=right)
        box = ax.get_position()
        over, frac = 0.0, 1.0
        for ann in labels:
            x_in = ax.transData.transform(ann.xy)[0] / fig.dpi + LABEL_OFFSET_PT[0] * PT
            w, h = text_size(ann.get_text(), ann.get_fontsize())
            end = x_in + w * cos + h * sin
            past = end - (fig.get_size_inches()[0] - EDGE)
            if past > over:
                over = past
                frac = max((x_in / fig.get_size_inches()[0] - box.x0) / box.width, 0.2)
        if over <= 0.01:
            return
        right += over / frac

"""The outage report: one self-contained HTML page (inline CSS, figures as base64 PNG) next to the JSON/CSV
tables and the PNG figures. Every string that comes from the data is HTML-escaped; every file is written
atomically."""

from __future__ import annotations

import base64
import gc
from contextlib import contextmanager
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gridsim._atomic import atomic_write_bytes, atomic_write_text, prepare_output_dir
from gridsim.report.layout import png_bytes
from gridsim.report.map import plot_map
from gridsim.report.plots import CAUSE_COLOURS, _flag, plot_cascade, plot_regions
from gridsim.report.restoration_plots import plot_gantt, plot_orders
from gridsim.report.river_plots import plot_river, river_caption
from gridsim.report.timeline_plots import plot_heatmap, plot_restoration, plot_timeline
from gridsim.results import CAUSES, Result

DPI = 130

#: what each cause means, for the "how to read this" note
CAUSE_NOTES = {
    "isolated": "no generation is reachable: the load sits in a de-energised part of the grid "
                "(or its substation is destroyed).",
    "deficit": "the island the load is in has generation, but less than its demand.",
    "network": "shed so that the remaining lines and transformers stay within their ratings and bus voltages stay above 0.9 p.u. (the AC check).",
    "cascade": "lost as protection tripped overloaded branches one after another.",
}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #e3e5e8;padding-bottom:4px}
.meta{color:#555;font-size:13px}.desc{font-size:16px;max-width:820px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #e3e5e8;border-radius:8px;padding:10px 14px;min-width:150px}
.card .v{font-size:22px;font-weight:700}.card .l{font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}
.card.bad .v{color:#b2182b}
table{border-collapse:collapse;font-size:13px;margin:6px 0 4px}
th,td{padding:3px 9px;border-bottom:1px solid #eceef1;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfc}
.scroll{max-height:460px;overflow:auto;border:1px solid #eceef1;display:inline-block;max-width:100%}
.note{font-size:12px;color:#666}
.st{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;color:#fff}
.st-converged{background:#2e7d32}.st-fallback-dc{background:#b8860b}.st-diverged{background:#b2182b}
.st-dead{background:#8a8a8a}.st-other{background:#555}.st-violated{background:#d9480f}
.howto{background:#f4f6fb;border-left:4px solid #3d4f6b;padding:8px 16px;margin:16px 0}
.howto dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:10px 0}
.howto dt{font-weight:700;white-space:nowrap}.howto dd{margin:0}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
figure{margin:8px 0}figure img{max-width:100%;height:auto;border:1px solid #eceef1}
code{font-size:12px}
"""


# -- formatting ------------------------------------------------------------------------------------------
def _fmt(value, kind: str) -> str:
    """Format one cell; the result is already HTML-safe."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return escape(", ".join(str(v) for v in value))
    if kind == "text":
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else escape(str(value))
    if kind == "status":
        s = str(value)
        cls = s if s in ("converged", "fallback-dc", "diverged", "dead") else "other"
        return f'<span class="st st-{cls}">{escape(s)}</span>'
    if kind == "bool":
        return "yes" if bool(value) and not (isinstance(value, float) and np.isnan(value)) else "no"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return escape(str(value))
    if not np.isfinite(v):
        return "–"
    return {"mw": f"{v:,.1f}", "pct": f"{v:.1f} %", "int": f"{v:,.0f}", "kv": f"{v:g}"}.get(kind, f"{v:g}")


_NUM = ' class="n"'


def _table(df: pd.DataFrame, cols: list[tuple[str, str, str]], max_rows: int | None = None,
           csv: str | None = None) -> str:
    """An HTML table of the columns (name, header, kind) that ``df`` has; the index is a column named
    '' in ``cols``. Rows beyond ``max_rows`` are left out with a note pointing to the CSV."""
    if df is None or not len(df):
        return '<p class="note">none</p>'
    cols = [c for c in cols if c[0] == "" or c[0] in df]
    body = df if max_rows is None else df.head(max_rows)
    head = "".join(f'<th{_NUM if k not in ("text", "status", "bool") else ""}>{escape(h)}</th>'
                   for _, h, k in cols)
    rows = []
    for idx, row in body.iterrows():
        cells = []
        for c, _, k in cols:
            value = idx if c == "" else row[c]
            cells.append(f'<td{_NUM if k not in ("text", "status", "bool") else ""}>{_fmt(value, k)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        where = f' (all rows in <a href="{escape(csv)}">{escape(csv)}</a>)' if csv else ""
        more = f'<p class="note">showing {max_rows} of {len(df)} rows{where}</p>'
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            f"</tbody></table></div>{more}")


def _col_sum(df: pd.DataFrame, col: str) -> float:
    return float(pd.to_numeric(df[col], errors="coerce").fillna(0).sum()) if col in df else float("nan")


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole > 0 else 0.0


#: zlib level of the PNGs: 1 instead of PIL's 6 saves ~0.4 s of CPU on the six figures of a timeline report for
#: ~10 % more bytes (the same pixels)
PNG_COMPRESS_LEVEL = 1


def _png(fig: Figure) -> bytes:
    """The figure drawn once at ``DPI`` on white, as PNG bytes (``gridsim.report.layout.png_bytes``)."""
    return png_bytes(fig, DPI, PNG_COMPRESS_LEVEL)


# -- sections --------------------------------------------------------------------------------------------
def _card(label: str, value: str, bad: bool = False) -> str:
    return f'<div class="card{" bad" if bad else ""}"><div class="v">{value}</div><div class="l">{escape(label)}</div></div>'


def _headline(result: Result) -> str:
    demand, served, unserved = result.demand_mw, result.served_mw, result.unserved_mw
    cards = [_card("demand", f"{demand:,.0f} MW"), _card("served", f"{served:,.0f} MW"),
             _card("unserved", f"{unserved:,.0f} MW ({_pct(unserved, demand):.1f} %)", bad=unserved > 0.5)]
    without = _col_sum(result.regions, "customers_without_power")
    if np.isfinite(without):
        total = _col_sum(result.regions, "customers")
        share = f" ({_pct(without, total):.1f} %)" if total > 0 else ""
        cards.append(_card("customers without power", f"{without:,.0f}{share}", bad=without > 0))
    loads = result.loads
    if "priority" in loads and "unserved_mw" in loads:
        crit = loads[pd.to_numeric(loads["priority"], errors="coerce") == 1]
        cards.append(_card("critical loads unserved", f"{_col_sum(crit, 'unserved_mw'):,.0f} MW",
                           bad=_col_sum(crit, "unserved_mw") > 0.5))
    causes = []
    for cause in CAUSES:
        mw = _col_sum(loads, f"unserved_{cause}_mw")
        if not np.isfinite(mw):
            mw = _col_sum(result.regions, f"unserved_{cause}_mw")
        if np.isfinite(mw):
            causes.append(f'<tr><td><span class="sw" style="background:{CAUSE_COLOURS[cause]}"></span>'
                          f'{cause}</td><td class="n">{mw:,.1f} MW</td>'
                          f'<td class="n">{_pct(mw, demand):.1f} % of demand</td></tr>')
    by_cause = f"<table><thead><tr><th>unserved by cause</th><th></th><th></th></tr></thead>" \
               f"<tbody>{''.join(causes)}</tbody></table>" if causes else ""
    return f'<section><div class="cards">{"".join(cards)}</div>{by_cause}</section>'


def _howto() -> str:
    # dt and dd are grid cells, one row per cause: a term never runs into its text, whatever its length
    items = "\n".join(f'<dt><span class="sw" style="background:{CAUSE_COLOURS[c]}"></span>{c}</dt>\n'
                       f"<dd>{escape(CAUSE_NOTES[c])}</dd>" for c in CAUSES)
    return ('<aside class="howto"><b>How to read this.</b> Unserved demand is the load that cannot be '
            "supplied after the event, in MW at the scenario's load level. Each MW is attributed to one "
            f"cause, in this order:<dl>{items}</dl>"
            "On the map, grey dashed parts of the grid are without power, red marks what the scenario knocked "
            "out, magenta what a cascade tripped, orange what is overloaded.</aside>")


def _solver_status(result: Result) -> str:
    every = result.islands
    isl = every[pd.to_numeric(pd.Series(every.index, index=every.index), errors="coerce").fillna(0) >= 0]
    counts = isl["status"].astype(str).value_counts() if "status" in isl else pd.Series(dtype=int)
    parts = ", ".join(f"{n} {_fmt(s, 'status')}" for s, n in counts.items())
    destroyed = every.loc[every.index.difference(isl.index)]
    off = (f" · out of service: {_fmt(_col_sum(destroyed, 'n_buses'), 'int')} buses (island -1, "
           f"{_fmt(_col_sum(destroyed, 'demand_mw'), 'mw')} MW of demand)" if len(destroyed) else "")
    notes = "".join(f"<li>{escape(str(n))}</li>" for n in result.summary.get("notes", []))
    return (f"<p>Overall: {_fmt(result.summary.get('status', '?'), 'status')} · {len(isl)} islands"
            f"{': ' + parts if parts else ''}{off}</p>"
            + (f"<p>What the response had to do:</p><ul>{notes}</ul>" if notes else ""))


def _settings(summary: dict) -> str:
    """'load level 100 % · solver dc · ...' from the summary keys that are there."""
    parts = []
    level = summary.get("load_level")
    if isinstance(level, (int, float)):
        parts.append(f"load level {100 * level:.0f} %")
    for key in ("solver", "shedding", "response"):
        if summary.get(key):
            parts.append(f"{key} {escape(str(summary[key]))}")
    return "".join(f"{p} · " for p in parts)


def _figure(images: dict[str, bytes], fname: str, alt: str) -> str:
    if fname not in images:
        return ""
    data = base64.b64encode(images[fname]).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}"></figure>'


REGION_COLS = [("", "region", "text"), ("demand_mw", "demand MW", "mw"), ("served_mw", "served MW", "mw"),
               ("unserved_mw", "unserved MW", "mw"), ("unserved_pct", "unserved", "pct")] + \
              [(f"unserved_{c}_mw", f"{c} MW", "mw") for c in CAUSES] + \
              [("customers", "customers", "int"), ("customers_without_power", "without power", "int")]
ISLAND_COLS = [("", "island", "int"), ("status", "status", "status"), ("energised", "energised", "bool"),
               ("n_buses", "buses", "int"), ("demand_mw", "demand MW", "mw"), ("capacity_mw", "capacity MW", "mw"),
               ("served_mw", "served MW", "mw"), ("unserved_mw", "unserved MW", "mw"), ("slack", "slack", "text"),
               ("message", "solver message", "text")]
OUTAGE_COLS = [("asset", "asset", "text"), ("asset_kind", "asset kind", "text"),
               ("element_kind", "element", "text"), ("element", "name", "text"), ("action", "action", "text"),
               ("capacity_before_mw", "before MW", "mw"), ("capacity_after_mw", "after MW", "mw")]
BRANCH_COLS = [("", "branch", "text"), ("kind", "kind", "text"), ("from_bus", "from", "text"),
               ("to_bus", "to", "text"), ("vn_kv", "kV", "kv"), ("region", "region", "text"),
               ("loading_percent", "loading", "pct"), ("p_from_mw", "P from MW", "mw")]
LOAD_COLS = [("", "load", "text"), ("region", "region", "text"), ("substation", "substation", "text"),
             ("priority", "priority", "int"), ("customers", "customers", "int"), ("demand_mw", "demand MW", "mw"),
             ("unserved_mw", "unserved MW", "mw"), ("cause", "cause", "text")]
CASCADE_COLS = [("step", "step", "int"), ("tripped", "tripped", "text"), ("n_tripped", "n tripped", "int"),
                ("max_loading_percent", "highest loading", "pct"), ("islands", "islands", "int"),
                ("energised_islands", "energised", "int"), ("unserved_mw", "unserved MW", "mw"),
                ("unserved_cascade_mw", "of which cascade MW", "mw")]


TIME_REGION_COLS = [("", "region", "text"), ("energy_not_served_mwh", "energy not served MWh", "mw"),
                    ("peak_unserved_mw", "peak unserved MW", "mw"),
                    ("hours_without_full_supply", "hours without full supply", "mw"),
                    ("restored_at_h", "fully back at hour", "mw")]


def _over_time(result: Result, images: dict[str, bytes]) -> str:
    """The timeline section: energy not served, the peak, customer-hours, figures and the region table."""
    if not len(result.timeline):
        return ""
    s = result.summary
    cards = [_card("energy not served", f"{s['energy_not_served_mwh']:,.0f} MWh", s["energy_not_served_mwh"] > 0),
             _card(f"peak unserved (hour {s['peak_at_h']:g})", f"{s['peak_unserved_mw']:,.0f} MW",
                   s["peak_unserved_mw"] > 0),
             _card("customer-hours lost", f"{s['customer_hours_lost']:,.0f}", s["customer_hours_lost"] > 0)]
    if "added_by_this_scenario" in s:
        cards.append(_card("of which this strike adds",
                           f"{s['added_by_this_scenario']['energy_not_served_mwh']:,.0f} MWh", True))
    tl = s["timeline"]
    baseline = (f" On top of the damage already present in <code>{escape(str(s['baseline']['scenario']))}</code> "
                f"(alone: {s['baseline']['energy_not_served_mwh']:,.0f} MWh not served)." if "baseline" in s else "")
    regions = pd.DataFrame.from_dict(s.get("regions_over_time", {}), orient="index")
    regions = _sorted(regions[regions["energy_not_served_mwh"] > 0], "energy_not_served_mwh") \
        if len(regions) else regions
    return "".join([
        "<h2>Over time</h2>",
        f'<p class="note">{tl["horizon_h"]:g} hours in steps of {tl["step_h"]:g} h, demand profile '
        f'<code>{escape(str(tl["profile"]))}</code>{", from " + escape(tl["start"]) if tl.get("start") else ""}. '
        f"The tables and the map below are the snapshot at the peak hour.{baseline}</p>",
        f'<div class="cards">{"".join(cards)}</div>',
        _figure(images, "timeline.png", "demand and unserved demand over time"),
        _figure(images, "heatmap.png", "unserved share by region over time"),
        _figure(images, "restoration.png", "when each region was without full supply"),
        f'<h3>The river</h3><p class="note">{escape(river_caption(result))}</p>' if "river.png" in images else "",
        _figure(images, "river.png", "storage and output of each plant on the river"),
        _table(regions, TIME_REGION_COLS, max_rows=100, csv="timeline.csv") if len(regions) else "",
    ])


REPAIR_COLS = [("asset", "asset", "text"), ("crew", "crew", "int"), ("strike_h", "strike h", "mw"),
               ("start_h", "start h", "mw"), ("end_h", "end h", "mw"), ("work_h", "work h", "mw"),
               ("mw_back_at_peak", "MW back (at full demand)", "mw")]


def _repairs(result: Result, images: dict[str, bytes]) -> str:
    """The restoration section: the chosen order against the greedy and listed ones, the crews' work."""
    rs = result.summary.get("restoration")
    if not rs or not len(result.restoration):
        return ""
    u = escape(rs["unit"])
    gain_g, gain_l = rs["greedy"] - rs["chosen"], rs["listed_order"] - rs["chosen"]
    cards = [_card(f"chosen order ({rs['crews']} crews)", f"{rs['chosen']:,.0f} {u}", rs["chosen"] > 0),
             _card("saved against the greedy order", f"{gain_g:,.0f} {u}"),
             _card("saved against the listed order", f"{gain_l:,.0f} {u}"),
             _card("no waiting for crews", f"{rs['no_waiting_reference']:,.0f} {u}")]
    if rs.get("bound") is not None:     # gridsim.restoration_milp: no schedule can do better
        cards.append(_card("lower bound (MILP)", f"{rs['bound']:,.0f} {u} (gap {100 * rs['gap_to_bound']:.1f} %)"))
    how = {"exact": "every repair order was tried: the chosen one is the best list schedule",
           "greedy": "the greedy rule (most demand back per crew-hour first)",
           "local": "the greedy, listed and MILP orders improved by swaps and moves" + (
               "" if rs["complete"] else " (stopped at the time limit)")}[rs["method"]]
    return "".join([
        "<h2>Repair order</h2>",
        f'<p class="note">Objective: {escape(rs["objective"])} ({u}); {escape(how)}; {rs["evaluations"]} '
        f"orders evaluated through the timeline in {rs['search_s']:.1f} s. \"No waiting\" (every repair at its "
        "strike) is what unlimited crews would give.</p>",
        f'<div class="cards">{"".join(cards)}</div>',
        _figure(images, "repairs.png", "the crews' work"), _figure(images, "orders.png", "unserved by order"),
        _table(result.restoration, REPAIR_COLS, max_rows=200, csv="restoration.csv"),
    ])


def _sorted(df: pd.DataFrame, col: str) -> pd.DataFrame:
    if col not in df:
        return df
    return df.assign(_k=pd.to_numeric(df[col], errors="coerce")).sort_values("_k", ascending=False)


def render_html(result: Result, images: dict[str, bytes], files: list[str] | None = None) -> str:
    """The report page as a string; ``images`` maps file names (map.png, ...) to PNG bytes."""
    s = result.summary
    description = s.get("description") or getattr(result, "description", "") or ""
    regions = _sorted(result.regions, "unserved_mw")
    islands = _sorted(result.islands, "demand_mw")
    br = result.branches
    over = _sorted(br[_flag(br, "overloaded")], "loading_percent")
    loads = result.loads
    dark = _sorted(loads[pd.to_numeric(loads["unserved_mw"], errors="coerce") > 1e-6], "unserved_mw") \
        if "unserved_mw" in loads else loads.iloc[:0]
    parts = [
        f"<h1>{escape(result.scenario_name)}</h1>",
        f'<p class="desc">{escape(str(description))}</p>' if description else "",
        f'<p class="meta">network <b>{escape(result.network_name)}</b> · {len(result.buses):,} buses · '
        f"{len(result.branches):,} branches · {len(result.generators):,} generating units · "
        f"{_settings(s)}status {_fmt(s.get('status', '?'), 'status')}</p>",
        _headline(result), _over_time(result, images), _repairs(result, images), _howto(),
        "<h2>Map</h2>" if not len(result.timeline) else
        f"<h2>Map at the peak (hour {s.get('peak_at_h', 0):g})</h2>", _figure(images, "map.png", "map of the grid after the event"),
        "<h2>What was damaged</h2>",
        _table(result.outages, OUTAGE_COLS, max_rows=300, csv="outages.csv"),
        "<h2>Unserved demand by region</h2>",
        _figure(images, "regions.png", "unserved demand by region"),
        _table(regions, REGION_COLS, max_rows=100, csv="regions.csv"),
        "<h2>Islands and solver status</h2>", _solver_status(result),
        _table(islands, ISLAND_COLS, max_rows=50, csv="islands.csv"),
        "<h2>Overloaded branches</h2>",
        _table(over, BRANCH_COLS, max_rows=100, csv="branches.csv"),
        "<h2>Largest loads without power</h2>",
        _table(dark, LOAD_COLS, max_rows=25, csv="loads.csv"),
    ]
    if len(result.cascade_steps):
        parts += ["<h2>Cascade</h2>", _figure(images, "cascade.png", "unserved demand after each cascade step"),
                  _table(result.cascade_steps.reset_index(drop=True), CASCADE_COLS, max_rows=200,
                         csv="cascade.csv")]
    if files:
        links = " · ".join(f'<a href="{escape(f)}"><code>{escape(f)}</code></a>' for f in files)
        parts.append(f'<h2>Files</h2><p class="note">{links}</p>')
    timing = s.get("elapsed_s") or sum(v for v in result.timings_s.values() if isinstance(v, (int, float)))
    parts.append(f'<p class="note">Produced by gridsim{f" in {timing:.2f} s" if timing else ""}. '
                 "All numbers are from a model of a grid, not measurements.</p>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(result.scenario_name)}: gridsim outage report</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


#: the figures of a report, file name -> plot function (returns None where a Result has no such figure)
FIGURES = {"map.png": plot_map, "regions.png": plot_regions, "cascade.png": plot_cascade,
           "timeline.png": plot_timeline, "heatmap.png": plot_heatmap, "restoration.png": plot_restoration,
           "repairs.png": plot_gantt, "orders.png": plot_orders, "river.png": plot_river}


def write_report(result: Result, outdir: str | Path, worker=None) -> dict[str, Path]:
    """Write the JSON/CSV tables (``Result.to_dir``), map.png, regions.png, cascade.png (when there is a
    cascade) and report.html to ``outdir``, all atomically; return file name -> path. With ``worker`` (a ready
    ``gridsim.report.figworker.FigureWorker``) the figures are shared between it and this process (the same
    bytes)."""
    outdir = prepare_output_dir(outdir)    # a folder that cannot be written: OutputError, before any file
    with _collect_only_new_objects():
        written: dict[str, Path] = {}
        if worker is None:
            written.update(result.to_dir(outdir))
            pngs = {fname: draw_figure(fname, result) for fname in FIGURES}
        else:      # the tables are written while the worker draws its first figure
            pngs = worker.draw(FIGURES, result, lambda fname: draw_figure(fname, result),
                               meanwhile=lambda: written.update(result.to_dir(outdir)))
        images: dict[str, bytes] = {}
        for fname, png in pngs.items():
            if png is None:
                (outdir / fname).unlink(missing_ok=True)     # a figure left by an earlier run would mislead
                continue
            images[fname] = png
            written[fname] = atomic_write_bytes(outdir / fname, png)
        html = render_html(result, images, files=list(written))
        written["report.html"] = atomic_write_text(outdir / "report.html", html)
    return written


def draw_figure(fname: str, result: Result) -> bytes | None:
    """The PNG of figure ``fname`` (a key of ``FIGURES``) of ``result``, or None without that figure. The Figure
    (a plain one, not registered with pyplot) is garbage once this returns."""
    fig = FIGURES[fname](result)
    return None if fig is None else _png(fig)


@contextmanager
def _collect_only_new_objects():
    """The figures allocate some 10^5 objects: enough to set off full collections of the cyclic garbage
    collector, each of which walks every object of the process (the network, the engine's tables: ~0.2 s of
    CPU per report in the main job). Frozen (``gc.freeze``), the objects that existed before are left out of
    those walks; at the end one collection of the objects made since (and only of those) frees the report's
    cycles, figures included (they outlive the young generations), so that none is left for later."""
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()

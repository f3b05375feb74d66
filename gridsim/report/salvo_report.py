"""The outputs of a salvo Monte Carlo: ``summary.json``, ``draws.csv``, ``assets.csv``, ``regions.csv``, the
figures and a self-contained ``report.html`` (figures inline), all written atomically. With ``--compare``:
``compare.csv`` and ``compare.png``. ``results.sqlite`` and ``cases.csv`` are the batch store's."""

from __future__ import annotations

import base64
import json
import math
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim._atomic import atomic_write_bytes, atomic_write_text
from gridsim.report.html import CSS, _card, _png
from gridsim.report.salvo_plots import plot_exceedance, plot_salvo_map


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_salvo(run, outdir: Path, *, base=None, compare: tuple[pd.DataFrame, dict] | None = None,
                immunity: pd.DataFrame | None = None, report: bool = True) -> dict[str, Path]:
    """Write the run's outputs into ``outdir``; ``base`` (a Result of the scenario without the attack) draws
    the map; ``compare`` is ``compare_policies``' (table, losses). Returns name -> path."""
    outdir = Path(outdir)
    summary = dict(run.summary)
    if compare is not None:
        summary["compare"] = compare[0].to_dict(orient="records")
    if immunity is not None:
        summary["immunity"] = immunity.to_dict(orient="records")
    written = {
        "summary.json": atomic_write_text(outdir / "summary.json", json.dumps(_json_safe(summary), indent=2)),
        "draws.csv": atomic_write_text(outdir / "draws.csv", run.draws.to_csv(index=False, float_format="%.6g")),
        "assets.csv": atomic_write_text(outdir / "assets.csv", run.assets.to_csv(index=False, float_format="%.6g")),
        "regions.csv": atomic_write_text(outdir / "regions.csv",
                                         run.regions.to_csv(index=False, float_format="%.6g")),
    }
    if compare is not None:
        written["compare.csv"] = atomic_write_text(outdir / "compare.csv",
                                                   compare[0].to_csv(index=False, float_format="%.6g"))
    if immunity is not None:
        written["immunity.csv"] = atomic_write_text(outdir / "immunity.csv",
                                                    immunity.to_csv(index=False, float_format="%.6g"))
    if not report:
        return written
    images = _figures(run, base, compare)
    for name, data in images.items():
        written[name] = atomic_write_bytes(outdir / name, data)
    written["report.html"] = atomic_write_text(outdir / "report.html",
                                               render_salvo_html(run, images, compare, immunity))
    return written


def _figures(run, base, compare) -> dict[str, bytes]:
    metric = run.metric
    unit, quantity = ("MWh", "energy not served") if metric == "ens_mwh" else ("MW", "unserved demand")
    images = {"exceedance.png": _png(plot_exceedance({run.scenario.name: run.draws[metric].to_numpy(float)},
                                                     unit=unit, quantity=quantity))}
    if compare is not None:
        images["compare.png"] = _png(plot_exceedance(compare[1], unit=unit, quantity=quantity,
                                                     title=f"Exceedance of {quantity}, policies compared"))
    if base is not None and len(run.regions):
        images["salvo-map.png"] = _png(plot_salvo_map(base, run.regions))
    return images


def _img(images: dict[str, bytes], name: str, alt: str) -> str:
    if name not in images:
        return ""
    data = base64.b64encode(images[name]).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}"></figure>'


def _table(df: pd.DataFrame, cols: list[tuple[str, str, str]], max_rows: int = 40) -> str:
    head = "".join(f'<th class="{"n" if f != "text" else ""}">{escape(label)}</th>' for _, label, f in cols)
    body = []
    for _, row in df.head(max_rows).iterrows():
        cells = []
        for col, _, f in cols:
            v = row.get(col)
            if f == "text":
                cells.append(f"<td>{escape(str(v))}</td>")
            elif v is None or (isinstance(v, float) and not math.isfinite(v)):
                cells.append('<td class="n">–</td>')
            elif f == "pct":
                cells.append(f'<td class="n">{100 * float(v):.1f} %</td>')
            elif f == "int":
                cells.append(f'<td class="n">{int(round(float(v))):,}</td>')
            else:
                cells.append(f'<td class="n">{float(v):,.1f}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


ASSET_COLS = [("asset", "asset", "text"), ("region", "region", "text"), ("target_share", "target share", "pct"),
              ("hit_probability", "P(hit)", "pct"), ("mean_loss_if_hit", "mean loss if hit", "num"),
              ("contribution", "contribution", "num"), ("contribution_sem", "± SE", "num")]
REGION_COLS = [("region", "region", "text"), ("target_assets", "target assets", "int"),
               ("hit_probability", "P(hit)", "pct"), ("unserved_mw_mean", "mean unserved MW", "num"),
               ("unserved_mw_sem", "± SE", "num"), ("unserved_mw_p95", "p95 MW", "num")]


def render_salvo_html(run, images: dict[str, bytes], compare=None, immunity=None) -> str:
    s, sc = run.summary, run.scenario
    u, c = s["unserved_mw"], s["critical_unserved_mw"]
    cards = [_card("draws", f"{s['draws']:,}"),
             _card("mean unserved", f"{u['mean']:,.0f} ± {u['sem']:,.0f} MW", bad=u["mean"] > 0.5),
             _card("p95 unserved", f"{u['p95']:,.0f} MW"), _card("p99 unserved", f"{u['p99']:,.0f} MW"),
             _card("worst draw", f"{u['max']:,.0f} MW"), _card("mean critical unserved", f"{c['mean']:,.0f} MW"),
             _card("weapons through (mean)", f"{s['weapons_through']['mean']:.1f} of {run.plan.weapon_type.size}")]
    if "ens_mwh" in s:
        e = s["ens_mwh"]
        cards.insert(2, _card("mean energy not served", f"{e['mean']:,.0f} ± {e['sem']:,.0f} MWh"))
    weapons = ", ".join(f"{n} {escape(t)}" for t, n in s["weapons"].items())
    parts = [f"<h1>{escape(sc.name)}</h1>",
             f'<p class="meta">Monte Carlo of a salvo: {weapons}; network {escape(str(sc.network))}, solver '
             f"{sc.solver}, response {sc.response}; seed {s['seed']}, {s['draws']:,} draws"
             f"{' (stopped at the target standard error)' if s.get('until_se', {}).get('reached') else ''}.</p>",
             f'<p class="desc">{escape(sc.description)}</p>', '<div class="cards">', *cards, "</div>",
             "<h2>How likely is each loss</h2>", _img(images, "exceedance.png", "exceedance curve"),
             '<p class="note">Each draw samples which weapons are intercepted, what the others hit and how badly, '
             "then solves the damaged grid. The curve gives the share of draws whose loss exceeds x.</p>"]
    if compare is not None:
        parts += ["<h2>Policies compared on common random numbers</h2>", _img(images, "compare.png", "compare"),
                  _table(compare[0], [(compare[0].columns[0], "variant", "text")] +
                         [(col, col.replace("_", " "), "num") for col in compare[0].columns[1:]])]
    parts += ["<h2>Where the damage lands</h2>", _img(images, "salvo-map.png", "map by region"),
              _table(run.regions, REGION_COLS),
              "<h2>Target assets</h2>", '<p class="note">contribution: mean loss of the draws that hit the asset '
              "minus that of the draws that do not (not additive: assets hit together share the loss).</p>",
              _table(run.assets, ASSET_COLS)]
    if immunity is not None:
        col = next(c for c in immunity.columns if c.startswith("avoided_") and c != "avoided_sem")
        parts += ["<h2>What making one asset immune would save</h2>",
                  '<p class="note">Every weapon aimed at the asset intercepted, the same draws again: the mean '
                  "loss avoided with its standard error (paired over draws).</p>",
                  _table(immunity, [("asset", "asset", "text"), ("region", "region", "text"),
                                    ("hit_probability", "P(hit)", "pct"), (col, "loss avoided", "num"),
                                    ("avoided_sem", "± SE", "num")])]
    body = "\n".join(parts)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(sc.name)}</title>'
            f"<style>{CSS}</style></head><body><main>{body}</main></body></html>")

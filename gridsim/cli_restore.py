"""``gridsim restore SCENARIO --crews 1,2,3,5``: the restoration method for several crew numbers, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gridsim.errors import ScenarioError


def add_restore_parser(sub) -> None:
    p = sub.add_parser("restore", help="compare repair orders and objectives for several numbers of crews")
    p.add_argument("scenario", help="scenario YAML file with a timeline and a restoration block")
    p.add_argument("--crews", default=None, help="comma-separated crew numbers (default: the scenario's)")
    p.add_argument("-o", "--output", help="output folder (default reports/<scenario file stem>-restore/)")
    p.add_argument("--network-root", metavar="DIR", help="read network files only from inside DIR")
    p.set_defaults(func=cmd_restore)


def _crews(text: str | None, default: int) -> list[int]:
    if text is None:
        return [default]
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ScenarioError(f"--crews: expected whole numbers separated by commas, like 1,2,3; got {text[:40]!r}") \
            from None
    if not values or min(values) < 1 or max(values) > 1000 or len(values) > 20:
        raise ScenarioError("--crews: from 1 to 20 numbers, each from 1 to 1000")
    return sorted(set(values))


def cmd_restore(args: argparse.Namespace, out: Console, err: Console) -> int:
    import pandas as pd

    from gridsim._atomic import atomic_write_bytes, atomic_write_text, prepare_output_dir
    from gridsim.report.restoration_plots import plot_crews
    from gridsim.report.html import _png
    from gridsim.restoration import compare_crews
    from gridsim.scenario import load_scenario

    scenario = load_scenario(args.scenario, network_root=args.network_root)
    if scenario.restoration is None:
        raise ScenarioError(f"{args.scenario}: gridsim restore needs a `restoration:` block (and a timeline)")
    crews = _crews(args.crews, scenario.restoration.crews)
    outdir = prepare_output_dir(Path(args.output) if args.output else
                                Path("reports") / f"{Path(args.scenario).stem}-restore")
    with err.status(f"comparing {len(crews)} crew number(s)…"):
        table = compare_crews(scenario, crews)
    atomic_write_text(outdir / "restore.csv", table.to_csv(index=False, float_format="%.10g"))
    atomic_write_bytes(outdir / "crews.png", _png(plot_crews(table, scenario)))
    unit = {"ens": "MWh", "weighted": "weighted MWh", "customer_hours": "customer-hours"}[
        scenario.restoration.objective]
    t = Table(title=f"{scenario.name}: {scenario.restoration.objective} ({unit}) by number of crews")
    for col in ("crews", "chosen", "greedy", "listed", "no wait", "bound", "gap", "method"):
        t.add_column(col, justify="left" if col == "method" else "right", no_wrap=col != "method")
    for _, r in table.iterrows():
        bound = "-" if pd.isna(r["bound"]) else f"{r['bound']:,.0f}"
        gap = "-" if pd.isna(r["gap_to_bound"]) else f"{100 * r['gap_to_bound']:.1f} %"
        t.add_row(str(r["crews"]), f"{r['chosen']:,.0f}", f"{r['greedy']:,.0f}", f"{r['listed_order']:,.0f}",
                  f"{r['no_waiting_reference']:,.0f}", bound, gap,
                  r["method"] + ("" if r["complete"] else " (limit)"))
    out.print(t)
    out.print("bound: the MILP's lower bound (no schedule does better); gap: (chosen - bound) / chosen")
    for _, r in table.iterrows():
        out.print(f"{r['crews']} crew(s): {r['order']}", soft_wrap=True)
    out.print(f"wrote restore.csv and crews.png to {outdir}/")
    return 0

"""The command line of salvos: ``gridsim run`` on a scenario with an ``attack`` block (the Monte Carlo, its
options added to ``run`` here) and ``gridsim defend SCENARIO --units N``. Thin: parse, call
``gridsim.salvo``, print, exit code."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gridsim.errors import ScenarioError

#: run options that only a scenario with an attack takes (dest -> flag)
SALVO_OPTIONS = {"draws": "--draws", "seed": "--seed", "workers": "--workers", "scheduler": "--scheduler",
                 "resume": "--resume", "until_se": "--until-se", "compare": "--compare",
                 "immunity_draws": "--immunity-draws"}


def _until_se(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a relative standard error like 1% or 0.01, got {text!r}") \
            from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"the relative standard error must be above 0 and below 100 %, got {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=_positive, help="Monte Carlo draws (default: the scenario's `draws`, else 1000)")
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's `seed`, else 0)")
    p.add_argument("--workers", type=_positive, help="worker processes (default: every core)")
    p.add_argument("--scheduler", help="local (default), serial, dask:local or tcp://HOST:PORT")


def add_salvo_options(run: argparse.ArgumentParser) -> None:
    g = run.add_argument_group("scenarios with an attack block (Monte Carlo)")
    _common(g)
    g.add_argument("--resume", action="store_true", help="skip the draws the output's results.sqlite holds")
    g.add_argument("--until-se", type=_until_se, metavar="PCT",
                   help="stop once the mean's relative standard error is below PCT (e.g. 1%%); --draws caps it")
    g.add_argument("--compare", metavar="KEY=V1,V2,...",
                   help="also run variants on common random numbers: interception.default.cruise=0.6,0.75,0.9, "
                        "or other scenario files with the same grid state: a.yaml,b.yaml")
    g.add_argument("--immunity-draws", type=_positive, metavar="N",
                   help="also attribute the loss by immunity on the first N draws: what intercepting every weapon "
                        "aimed at one asset would save (immunity.csv)")


def check_salvo_options(args, scenario) -> None:
    """Monte Carlo options on a scenario without an attack are a mistake, not something to ignore."""
    if scenario.attack is not None:
        return
    given = [flag for dest, flag in SALVO_OPTIONS.items() if getattr(args, dest, None) not in (None, False)]
    if given:
        raise ScenarioError(f"{given[0]} applies to scenarios with an `attack:` block; {args.scenario} has none")


def attack_note(scenario, net) -> str:
    """For ``gridsim validate``: resolve the attack's targets and zones on the network (ScenarioError if they
    name nothing) and say how many assets the salvo can hit; "" without an attack."""
    if scenario.attack is None:
        return ""
    from gridsim.salvo.plan import resolve_attack   # resolves as plan_attack does, without numpy's arrays

    assets, _, _ = resolve_attack(scenario, net)
    return f"; attack: {scenario.attack.n_weapons} weapons, {len(assets)} target assets"


def _progress(err: Console, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=True)


def run_attack(args, scenario, outdir: Path, out: Console, err: Console) -> int:
    """``gridsim run`` for a scenario with an attack."""
    from gridsim.report.salvo_report import write_salvo
    from gridsim.salvo.montecarlo import run_salvo
    from gridsim.salvo.policies import compare_policies, is_file_list, parse_compare

    compare_spec = None
    if args.compare:
        compare_spec = (args.compare, None) if is_file_list(args.compare) else parse_compare(args.compare)
    net = _network(scenario)
    with _progress(err, "draws") as bar:
        task = bar.add_task("draws", total=None)
        run = run_salvo(scenario, draws=args.draws, seed=args.seed, workers=args.workers, scheduler=args.scheduler,
                        out_dir=outdir, resume=args.resume, until_se=args.until_se, net=net,
                        progress=lambda k, n: bar.update(task, completed=k, total=n))
    compare = None
    if compare_spec is not None:
        with _progress(err, "compare") as bar:
            task = bar.add_task("compare", total=None)
            compare = compare_policies(run.scenario, *compare_spec, draws=len(run.draws), seed=run.seed,
                                       workers=args.workers, scheduler=args.scheduler, net=net,
                                       progress=lambda k, n: bar.update(task, completed=k, total=n))
    immunity = None
    if args.immunity_draws:
        from gridsim.salvo.attribution import immunity_table

        with _progress(err, "immunity") as bar:
            task = bar.add_task("immunity", total=None)
            immunity = immunity_table(run.scenario, metric=run.metric, draws=args.immunity_draws, seed=run.seed,
                                      workers=args.workers, scheduler=args.scheduler, net=net,
                                      progress=lambda k, n: bar.update(task, completed=k, total=n))
    with err.status("writing the outputs…"):
        base = None if args.no_report else _base_result(scenario, net)
        written = write_salvo(run, outdir, base=base, compare=compare, immunity=immunity,
                              report=not args.no_report)
    if args.json:
        out.print_json(json.dumps(json.loads((outdir / "summary.json").read_text())))
    elif not args.quiet:
        for table in _tables(run, compare):
            out.print(table)
        out.print(f"wrote {len(written)} files to {outdir}/ (plus results.sqlite, cases.csv)")
    if run.summary["draws_failed"]:
        err.print(f"[yellow]warning:[/yellow] {run.summary['draws_failed']} draw(s) could not be evaluated and are "
                  "left out of the statistics: see the status and message columns of draws.csv", highlight=False)
    return 0


def _network(scenario):
    from gridsim.cli import _confined_network

    return _confined_network(scenario)


def _base_result(scenario, net):
    """The scenario without its attack (its own outages only), for the map's background."""
    from gridsim.simulate import simulate

    plain = scenario.model_copy(update={"attack": None, "draws": None, "seed": None, "timeline": None,
                                        "baseline": None})
    return simulate(plain, net=net)


def _stat_rows(t: Table, label: str, d: dict, unit: str) -> None:
    t.add_row(label, f"{d['mean']:,.1f} ± {d['sem']:,.1f}", f"{d['p50']:,.1f}", f"{d['p90']:,.1f}",
              f"{d['p95']:,.1f}", f"{d['p99']:,.1f}", f"{d['max']:,.1f}", unit)


def _tables(run, compare) -> list[Table]:
    s = run.summary
    head = Table(title=f"{run.scenario.name}: {s['draws']:,} draws (seed {s['seed']})")
    for col in ("", "mean ± SE", "p50", "p90", "p95", "p99", "max", ""):
        head.add_column(col, justify="left" if col == "" else "right")
    _stat_rows(head, "unserved", s["unserved_mw"], "MW")
    _stat_rows(head, "critical unserved", s["critical_unserved_mw"], "MW")
    if "ens_mwh" in s:
        _stat_rows(head, "energy not served", s["ens_mwh"], "MWh")
    assets = Table(title="target assets (contribution: mean loss hit - not hit)")
    for col in ("asset", "P(hit)", "contribution", "± SE"):
        assets.add_column(col, justify="left" if col == "asset" else "right")
    for _, r in run.assets.head(10).iterrows():
        assets.add_row(r["asset"], f"{r['hit_probability']:.0%}", f"{r['contribution']:,.0f}",
                       f"{r['contribution_sem']:,.0f}")
    tables = [head, assets]
    if compare is not None:
        cmp = Table(title="variants on common random numbers")
        cols = list(compare[0].columns)
        for col in ("variant", "mean", "± SE", "p95", "difference", "± SE"):
            cmp.add_column(col, justify="left" if col == "variant" else "right")
        for _, r in compare[0].iterrows():
            cmp.add_row(r["variant"], f"{r[cols[1]]:,.1f}", f"{r[cols[2]]:,.1f}", f"{r[cols[5]]:,.1f}",
                        f"{r[cols[9]]:,.1f}", f"{r['difference_sem']:,.1f}")
        tables.append(cmp)
    return tables


# -- gridsim defend ----------------------------------------------------------------------------------------------
#: ``gridsim.salvo.defend``'s CANDIDATE_KINDS and METRICS, written out so that building the parser imports no
#: engine (tests/test_salvo.py keeps them equal)
CANDIDATE_KINDS = ("regions", "substations", "plants")
METRICS = ("mean", "p95", "ens")


def add_defend_parser(sub) -> None:
    p = sub.add_parser("defend", help="place N more air-defence units where they reduce the expected loss most")
    p.add_argument("scenario", help="scenario YAML file with an attack block and attack.air_defence_unit")
    p.add_argument("--units", type=_positive, required=True, help="air-defence units to place")
    p.add_argument("--candidates", choices=CANDIDATE_KINDS, default="regions",
                   help="where a unit can go: a region, or one target substation or plant (default regions)")
    p.add_argument("--metric", choices=tuple(METRICS), default="mean",
                   help="what to reduce: mean unserved MW (default), its 95th percentile, or mean ENS (timelines)")
    p.add_argument("--keep-going", action="store_true",
                   help="place every unit even when the choice is not statistically clear")
    _common(p)
    p.add_argument("-o", "--output", help="output folder (default reports/<scenario file stem>-defend/)")
    p.add_argument("--network-root", metavar="DIR", help="read network files only from inside DIR")
    p.set_defaults(func=cmd_defend)


def cmd_defend(args, out: Console, err: Console) -> int:
    from gridsim._atomic import atomic_write_bytes, atomic_write_text, prepare_output_dir
    from gridsim.scenario import load_scenario

    scenario = load_scenario(args.scenario, network_root=args.network_root)
    if scenario.attack is None:
        raise ScenarioError(f"{args.scenario}: gridsim defend needs an `attack:` block")
    outdir = prepare_output_dir(Path(args.output) if args.output else
                                Path("reports") / f"{Path(args.scenario).stem}-defend")
    from gridsim.report.html import _png
    from gridsim.report.salvo_plots import plot_defence
    from gridsim.salvo.defend import greedy_defence

    with _progress(err, "damage states") as bar:
        task = bar.add_task("states", total=None)
        d = greedy_defence(scenario, args.units, candidates_kind=args.candidates, metric=args.metric,
                           keep_going=args.keep_going, draws=args.draws, seed=args.seed, workers=args.workers,
                           scheduler=args.scheduler, net=_network(scenario),
                           progress=lambda k, n: bar.update(task, completed=k, total=n))
    atomic_write_text(outdir / "defence.csv", d.table.to_csv(index=False, float_format="%.6g"))
    unit = "MWh" if args.metric == "ens" else "MW"
    atomic_write_bytes(outdir / "defence.png", _png(plot_defence(d.table, d.baseline, d.metric, unit=unit,
                                                                       note=d.stopped)))
    atomic_write_text(outdir / "defence.json", json.dumps({"metric": d.metric, "baseline": d.baseline,
                                                           "placed": d.placed, "stopped": d.stopped,
                                                           "damage_states_evaluated": d.evaluated_states}, indent=2))
    t = Table(title=f"{scenario.name}: {args.metric} {unit} with more air defence (baseline {d.baseline:,.1f})")
    for col in ("unit", "placed", "after", "reduction ± SE", "runner-up", "lead ± SE"):
        t.add_column(col, justify="left" if col in ("placed", "runner-up") else "right")
    for _, r in d.table.iterrows():
        t.add_row(str(r["unit"]), r["placed"], f"{r[f'{d.metric}_after']:,.1f}",
                  f"{r['reduction']:,.1f} ± {r['reduction_se']:,.1f}", r["runner_up"] or "-",
                  f"{r['lead']:,.1f} ± {r['lead_se']:,.1f}")
    out.print(t)
    out.print(f"stopped: {d.stopped}")
    out.print(f"wrote defence.csv, defence.png, defence.json to {outdir}/")
    return 0

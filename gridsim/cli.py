"""The command line: parse, call the API, print with rich, exit code. No engine logic lives here.

Exit codes: 0 success, 2 bad input (scenario, network, arguments), 3 a solve failed under --strict,
1 an internal error (a bug: please report it; --debug shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gridsim._atomic import prepare_output_dir
from gridsim._quiet import hidden_note, quiet_third_party
from gridsim.errors import GridsimError, OutputError, SolverError

EXIT_OK, EXIT_BUG, EXIT_INPUT, EXIT_STRICT = 0, 1, 2, 3


def _fmt(x: float, nd: int = 1) -> str:
    return f"{x:,.{nd}f}"


def _summary_tables(result) -> list[Table]:
    s = result.summary
    head = Table(title=f"{s['scenario']}  ({s['network']}, load level {s['load_level']:g})", show_header=False)
    head.add_column(justify="left")
    head.add_column(justify="right")
    if "energy_not_served_mwh" in s:
        head.add_row("energy not served", f"[bold]{_fmt(s['energy_not_served_mwh'])} MWh[/bold] over "
                                          f"{s['timeline']['horizon_h']:g} h")
        head.add_row("peak unserved", f"{_fmt(s['peak_unserved_mw'])} MW at hour {s['peak_at_h']:g}")
        head.add_row("customer-hours lost", f"{s['customer_hours_lost']:,.0f}")
        if "restoration" in s:
            rs = s["restoration"]
            head.add_row(f"repair order ({rs['crews']} crews, {rs['method']})",
                         f"{rs['chosen']:,.1f} {rs['unit']}")
            head.add_row("  greedy / listed order", f"{rs['greedy']:,.1f} / {rs['listed_order']:,.1f}")
            if rs.get("bound") is not None:
                head.add_row("  lower bound (MILP), gap", f"{rs['bound']:,.1f} ({100 * rs['gap_to_bound']:.1f} %)")
        if "added_by_this_scenario" in s:
            head.add_row("  of which this strike adds",
                         f"{_fmt(s['added_by_this_scenario']['energy_not_served_mwh'])} MWh")
        head.add_row("[italic]at the peak hour:[/italic]", "")
    head.add_row("demand", f"{_fmt(s['demand_mw'])} MW")
    head.add_row("served", f"{_fmt(s['served_mw'])} MW")
    head.add_row("unserved", f"[bold]{_fmt(s['unserved_mw'])} MW ({s['unserved_pct']:.2f} %)[/bold]")
    for cause, mw in s["unserved_by_cause_mw"].items():
        if mw > 1e-6:
            head.add_row(f"  {cause}", f"{_fmt(mw)} MW")
    head.add_row("critical demand unserved", f"{_fmt(s['critical_unserved_mw'])} MW")
    head.add_row("customers without power", f"{s['customers_without_power']:,} of {s['customers']:,}")
    head.add_row("islands (energised)", f"{s['n_islands']} ({s['n_energised_islands']})")
    head.add_row("overloaded branches", str(len(s["overloaded_branches"])))
    head.add_row("solver status", s["status"])

    reg = Table(title="by region")
    for col in ("region", "demand MW", "unserved MW", "unserved %", "customers off"):
        reg.add_column(col, justify="left" if col == "region" else "right")
    regions = result.regions.sort_values("unserved_mw", ascending=False)
    for name, r in regions.iterrows():
        reg.add_row(str(name), _fmt(r["demand_mw"]), _fmt(r["unserved_mw"]), f"{r['unserved_pct']:.1f}",
                    f"{int(r['customers_without_power']):,}")
    tables = [head, reg]
    if len(result.islands) > 1:
        isl = Table(title="islands")
        for col in ("island", "buses", "demand MW", "unserved MW", "slack", "status"):
            isl.add_column(col, justify="right" if col not in ("slack", "status") else "left")
        for i, r in result.islands.iterrows():
            isl.add_row(str(i), str(r["n_buses"]), _fmt(r["demand_mw"]), _fmt(r["unserved_mw"]), r["slack"] or "-",
                        r["status"])
        tables.append(isl)
    if s["overloaded_branches"]:
        ov = Table(title="overloaded branches")
        ov.add_column("branch")
        ov.add_column("kind")
        ov.add_column("loading %", justify="right")
        for b in s["overloaded_branches"][:15]:
            ov.add_row(b["name"], b["kind"], f"{b['loading_percent']:.1f}")
        tables.append(ov)
    return tables


def cmd_run(args, out: Console, err: Console) -> int:
    from gridsim.scenario import load_scenario

    scenario = load_scenario(args.scenario, network_root=args.network_root)
    from gridsim.cli_salvo import check_salvo_options, run_attack   # a Monte Carlo of the scenario's attack
    check_salvo_options(args, scenario)
    outdir = prepare_output_dir(Path(args.output) if args.output else Path("reports") / Path(args.scenario).stem)
    if getattr(scenario, "attack", None) is not None:
        return run_attack(args, scenario, outdir, out, err)
    worker = _figure_worker(args, scenario)   # started first: it imports the figure code while this one computes
    try:
        written, result = _run_and_write(args, scenario, outdir, err, worker)
    finally:
        if worker is not None:
            worker.close()
    if args.json:
        out.print_json(json.dumps(json.loads((outdir / "summary.json").read_text())))
    elif not args.quiet:
        for table in _summary_tables(result):
            out.print(table)
        out.print(f"wrote {len(written)} files to {outdir}/ "
                  f"({'report.html' if 'report.html' in written else 'summary.json'})")
    if args.strict and result.status != "converged":
        raise SolverError(f"power flow status is '{result.status}' (not 'converged'); see islands.csv")
    return EXIT_OK


def _figure_worker(args, scenario):
    """A second process for the report's figures (``gridsim.report.figworker``), for the reports with several
    figures (a timeline's or a repair plan's: six or more, ~1 s to draw) where two cores are ours."""
    if args.no_report or (getattr(scenario, "timeline", None) is None
                          and getattr(scenario, "restoration", None) is None):
        return None
    from gridsim.report.figworker import FigureWorker

    return FigureWorker.start()


def _run_and_write(args, scenario, outdir: Path, err: Console, worker):
    """Simulate (a snapshot, a timeline or a repair plan) and write the outputs: (files written, Result)."""
    from gridsim.report import write_report   # the engine (pandapower, matplotlib) loads once the input is checked
    from gridsim.simulate import simulate
    if getattr(scenario, "restoration", None) is not None:
        from gridsim.restoration import simulate_restoration

        with err.status("choosing the repair order…"):
            result = simulate_restoration(scenario, net=_confined_network(scenario))
    elif getattr(scenario, "timeline", None) is not None:
        result = _run_timeline(scenario, err)
    else:
        with err.status("simulating…") as status:
            net = _confined_network(scenario)
            result = simulate(scenario, net=net, progress=lambda stage: status.update(f"simulating: {stage}…"))
    with err.status("writing the outputs…") as status:
        try:
            if args.no_report:
                written = result.to_dir(outdir)
            else:
                status.update("writing the report…")
                written = write_report(result, outdir, worker=worker)
        except OSError as exc:   # the folder was checked, but a disk can fill up or a file be in the way
            raise OutputError(f"cannot write {exc.filename or outdir}: {exc.strerror or exc}") from None
    return written, result


def _run_timeline(scenario, err: Console):
    """A timeline with a rich progress bar (steps, elapsed, time left) on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from gridsim.timeline import simulate_timeline

    with err.status("building the network…"):
        net = _confined_network(scenario)
    with Progress(TextColumn("timeline"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task("timeline", total=scenario.timeline.n_steps)
        return simulate_timeline(scenario, net=net, progress=lambda k, n: bar.update(task, completed=k, total=n))


def _confined_network(scenario):
    """The scenario's network built under its network root (``--network-root``), or None without a root (then
    ``simulate`` builds it)."""
    if scenario.network_root is None:
        return None
    from gridsim.networks import build_network

    return build_network(scenario.network, scenario.base_dir, scenario.load_level,
                         network_root=scenario.network_root)


def cmd_validate(args, out: Console, err: Console) -> int:
    from gridsim.scenario import load_scenario

    for path in args.scenarios:
        scenario = load_scenario(path, network_root=args.network_root)
        from gridsim.networks.index import network_names   # the cached name index: no pandapower on a hit
        from gridsim.networks.naming import resolve_outage

        net = network_names(scenario.network, scenario.base_dir, scenario.load_level,
                            network_root=scenario.network_root)
        n = sum(len(m.elements) for i, o in enumerate(scenario.outages)
                for m in resolve_outage(net, o, i, scenario.source))
        from gridsim.cli_salvo import attack_note   # an attack's targets and zones resolve too
        note = attack_note(scenario, net)
        out.print(f"{path}: ok ({len(scenario.outages)} outage entries, {n} network elements{note})")
    return EXIT_OK


def cmd_schema(args, out: Console, err: Console) -> int:
    from gridsim.scenario import scenario_json_schema

    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2) + "\n")
    return EXIT_OK


def cmd_network(args, out: Console, err: Console) -> int:
    from gridsim.networks import build_network
    from gridsim.networks.catalog import describe_network

    info = describe_network(build_network(args.network, Path.cwd(), args.load_level), args.network)
    if args.format == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return EXIT_OK
    t = info["totals"]
    out.print(f"[bold]{info['name']}[/bold]: {t['buses']} buses, {t['lines']} lines, {t['transformers']} "
              f"transformers, {t['substations']} substations; demand {_fmt(t['demand_mw'], 0)} MW, "
              f"capacity {_fmt(t['capacity_mw'], 0)} MW + imports {_fmt(t['import_capacity_mw'], 0)} MW")
    sections = (
        ("regions", ("name", "demand_mw", "capacity_mw", "customers", "substations")),
        ("plants", ("name", "fuel", "region", "units", "capacity_mw")),
        ("interconnectors", ("name", "region", "capacity_mw", "substation")),
        ("substations", ("name", "region", "voltages_kv", "buses")),
    )
    for title, cols in sections:
        if not info[title]:
            continue
        table = Table(title=title)
        for c in cols:
            table.add_column(c, justify="right" if c.endswith(("_mw", "s")) and c != "name" else "left")
        for row in info[title]:
            table.add_row(*[", ".join(f"{v:g}" for v in row[c]) if isinstance(row[c], list)
                            else (_fmt(row[c], 0) if isinstance(row[c], float) else str(row[c])) for c in cols])
        out.print(table)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gridsim", description="Unserved electricity demand after damage to a grid.")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate a scenario and write its outage report")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("-o", "--output", help="output folder (default reports/<scenario file stem>/)")
    run.add_argument("--strict", action="store_true",
                     help="exit with code 3 unless every energised island's AC power flow converged")
    run.add_argument("--no-report", action="store_true", help="write JSON and CSV only (no figures, no HTML)")
    run.add_argument("--json", action="store_true", help="print summary.json instead of tables")
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    _network_root_option(run)
    from gridsim.cli_salvo import add_defend_parser, add_salvo_options   # salvos: gridsim/cli_salvo.py
    add_salvo_options(run)
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check scenario files (schema and names) without running them")
    val.add_argument("scenarios", nargs="+", help="scenario YAML files")
    _network_root_option(val)
    val.set_defaults(func=cmd_validate)

    sch = sub.add_parser("schema", help="print the scenario JSON Schema")
    sch.set_defaults(func=cmd_schema)

    net = sub.add_parser("network", help="list a network's regions, plants, substations and interconnectors")
    net.add_argument("network", help="built-in name (dnipro-like), pandapower:<case>, or a .m/.json file")
    net.add_argument("--format", choices=("table", "json"), default="table")
    net.add_argument("--load-level", type=float, default=1.0, help="fraction of peak demand (default 1.0)")
    net.set_defaults(func=cmd_network)

    from gridsim.batch.cli_rank import add_rank_parser   # cheap: the engine is imported when rank runs
    add_rank_parser(sub)
    from gridsim.cli_restore import add_restore_parser
    add_restore_parser(sub)
    from gridsim.cli_worst import add_worst_parser   # cheap: the engine is imported when worst runs
    add_worst_parser(sub)
    add_defend_parser(sub)
    return p


def _network_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network-root", metavar="DIR",
                        help="read network files only from inside DIR (after resolving '..' and symlinks); for "
                             "scenarios written by others")


def main(argv: list[str] | None = None) -> int:
    from gridsim._lazy import defer_package_init
    from gridsim._threads import one_blas_thread
    one_blas_thread()      # before numpy loads: the matrices are small, the cores are for the process pool
    defer_package_init()   # the parts of pandapower (plotting, estimation, ...) a run never uses load on first use
    args = build_parser().parse_args(argv)
    out = Console(soft_wrap=False)
    err = Console(stderr=True)
    if args.debug:
        return _dispatch(args, out, err)
    with quiet_third_party() as hidden:
        code = _dispatch(args, out, err)
    note = hidden_note(hidden)
    if note:
        err.print(note, highlight=False)
    return code


def entry() -> None:
    """The ``gridsim`` command (and ``python -m gridsim``): ``main()``, then ``quick_exit``."""
    quick_exit(main())


def quick_exit(code: int) -> None:
    """Exit with ``code`` without dismantling the interpreter: after the main job, a normal exit spends 0.3-0.7 s
    (of ~4 s; measured in alternated runs) in a last garbage collection over every object of the network, the
    engine's tables and the figures, then in freeing them and every module one by one, none of which a finished
    command needs (mypy exits the same way). What an exit must still do is done: the ``atexit`` handlers run (logging, Dask's client,
    multiprocessing's pools) and the standard streams are flushed. Where a Python thread that a normal exit would
    wait for (not a daemon) is still alive, this is a normal exit."""
    import atexit
    import os
    import threading

    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 -- a closed or broken pipe: nothing more can be written anyway
                pass
        os._exit(code)


def _dispatch(args, out: Console, err: Console) -> int:
    """Run the command; every deliberate error becomes its exit code and one message."""
    try:
        return args.func(args, out, err)
    except SolverError as exc:
        err.print(f"[red]error:[/red] {_escape(str(exc))}", highlight=False)
        return EXIT_STRICT
    except GridsimError as exc:
        err.print(f"[red]error:[/red] {_escape(str(exc))}", highlight=False)
        return EXIT_INPUT
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 -- a bug: say so briefly, traceback only with --debug
        if args.debug:
            raise
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {_escape(str(exc))}\n"
                  "This is a bug in gridsim; run again with --debug for the traceback and report it.",
                  highlight=False)
        return EXIT_BUG


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

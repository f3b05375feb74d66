"""``gridsim worst``: parse, call ``find_worst`` (or ``protect_budget``), print a table, write the outputs.

Registered by ``gridsim.cli.build_parser`` through ``add_worst_parser``; nothing heavy is imported until the
command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: gridsim.worst.assets.WORST_KINDS, repeated so that building the parser imports nothing heavy (a test keeps
#: the two equal)
KINDS = ("line", "substation", "plant", "mixed")


def add_worst_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("worst", help="find the k assets whose loss together leaves most demand unserved",
                       description="Search the worst attack of k assets (lines and transformers, substations, "
                                   "plants, or any of them) on the DC model of the optimal response, re-simulate "
                                   "it with the scenario's solver, and optionally choose the assets to protect.")
    p.add_argument("target", metavar="NETWORK_OR_SCENARIO",
                   help="scenario YAML file, built-in network (dnipro-like), pandapower:<case>, or a .m/.json file")
    p.add_argument("--k", required=True, metavar="K|1..K", help="assets lost together: K, or 1..K for the "
                                                                "vulnerability curve")
    p.add_argument("--kind", default="line", help=f"asset kind: {', '.join(KINDS)} (default line: lines and "
                                                  "transformers)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--exact", dest="method", action="store_const", const="exact",
                     help="solve the attacker-operator MILP (default up to 300 buses)")
    how.add_argument("--heuristic", dest="method", action="store_const", const="heuristic",
                     help="greedy plus swap local search (default above 300 buses)")
    p.set_defaults(method="auto")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="per k: return the best attack found so far, with its bound")
    p.add_argument("--protect", nargs="+", default=[], metavar="NAME", help="assets the attacker cannot hit")
    p.add_argument("--protect-budget", type=int, metavar="P",
                   help="choose the P assets whose protection makes the worst case (largest k) smallest")
    p.add_argument("--solver", choices=("dc", "ac"), help="override the scenario's solver for the re-simulation")
    p.add_argument("--big-m", type=float, default=None, metavar="M",
                   help="bound on the MILP's dual prices, times the largest shedding weight (default 4)")
    p.add_argument("-o", "--output", help="output folder (default reports/worst-<name>-<kind>/)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_worst)
    return p


def default_output(target: str, kind: str) -> Path:
    stem = Path(target).stem if Path(target).suffix else target.replace(":", "-")
    return Path("reports") / f"worst-{stem}-{kind}"


def _table(worst, title: str):
    from rich.table import Table

    table = Table(title=title)
    for col, justify in (("k", "right"), ("assets", "left"), ("DC MW", "right"), ("resim MW", "right"),
                         ("bound MW", "right"), ("gap", "right"), ("time s", "right"), ("status", "left")):
        table.add_column(col, justify=justify)
    for a in worst.attacks:
        table.add_row(str(a.k), " + ".join(a.assets) or "-", f"{a.shed_mw_dc:,.1f}",
                      f"{a.shed_mw_resimulated:,.1f}" + ("" if a.resimulated_status in ("converged", "")
                                                          else f" ({a.resimulated_status})"),
                      "-" if a.bound_mw != a.bound_mw else f"{a.bound_mw:,.1f}",
                      "-" if a.gap != a.gap else f"{100 * a.gap:.2f} %", f"{a.time_s:.1f}",
                      f"{a.method}: {a.status}")
    return table


def _check_args(args) -> None:
    from gridsim.errors import GridsimError
    from gridsim.worst.assets import check_worst_kind

    check_worst_kind(args.kind)
    if args.time_limit is not None and not args.time_limit > 0:
        raise GridsimError(f"--time-limit must be positive, got {args.time_limit:g}")
    if args.protect_budget is not None and args.protect_budget < 1:
        raise GridsimError(f"--protect-budget must be at least 1, got {args.protect_budget}")
    if args.big_m is not None and not args.big_m > 0:
        raise GridsimError(f"--big-m must be positive, got {args.big_m:g}")


def cmd_worst(args, out, err) -> int:
    from gridsim._atomic import prepare_output_dir
    from gridsim.worst.milp import M_START
    from gridsim.worst.search import parse_k

    _check_args(args)
    ks = parse_k(args.k)
    outdir = prepare_output_dir(Path(args.output) if args.output else default_output(args.target, args.kind))
    common = dict(method=args.method, time_limit_s=args.time_limit, protect=args.protect, solver=args.solver,
                  big_m=args.big_m or M_START)
    with err.status("preparing the network…") as status:
        def progress(k: int, message: str) -> None:
            status.update(f"k = {k}: {message}…")

        if args.protect_budget is not None:
            from gridsim.worst.protect import protect_budget, write_protection

            plan = protect_budget(args.target, ks, args.kind, args.protect_budget, progress=progress,
                                  **common)
            written = write_protection(plan, outdir)
            worst = plan.after
        else:
            from gridsim.worst.search import find_worst
            from gridsim.worst.output import write_worst

            plan = None
            worst = find_worst(args.target, ks, args.kind, progress=progress, **common)
            written = write_worst(worst, outdir)
    if not args.quiet:
        sc = worst.scenario
        out.print(f"{sc.name} ({sc.network}): {worst.n_assets} {args.kind} assets, the scenario's own state "
                  f"leaves {worst.base_mw:,.1f} MW unserved (DC); re-simulated with solver {sc.solver}, response "
                  f"{sc.response}", highlight=False)
        if plan is not None:
            out.print(_table(plan.before, "worst case without protection"))
            out.print(f"protect: [bold]{', '.join(plan.protected) or '-'}[/bold] "
                      f"({plan.iterations} attacker problems solved, {plan.status})", highlight=False)
        out.print(_table(worst, f"worst case of k {args.kind} assets" + (" with protection" if plan else "")))
        if worst.protected:
            out.print(f"protected (cannot be hit): {', '.join(worst.protected)}", highlight=False)
        out.print(f"wrote {', '.join(written)} to {outdir}/", highlight=False)
    return 0

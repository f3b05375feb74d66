"""``gridsim rank``: parse, call ``rank_assets``, show a progress bar and the top 10, write the outputs.

Registered by ``gridsim.cli.build_parser`` through ``add_rank_parser``; this module imports nothing heavy at
import time (the engine is imported when the command runs).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TOP_SHOWN = 10
#: gridsim.batch.rank.RANK_KINDS, repeated so that building the parser imports nothing heavy (a test keeps
#: the two equal)
KINDS = ("substation", "plant", "line", "transformer", "unit")


def add_rank_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("rank", help="rank the assets of one kind by the unserved demand their loss causes",
                       description="Simulate the loss of every asset of one kind (and with --pairs every pair "
                                   "among the worst) on top of a scenario's state, and rank them by unserved MW.")
    p.add_argument("target", metavar="NETWORK_OR_SCENARIO",
                   help="scenario YAML file, built-in network (dnipro-like), pandapower:<case>, or a .m/.json file")
    p.add_argument("--kind", required=True, help=f"asset kind: {', '.join(KINDS)}")
    p.add_argument("--pairs", action="store_true", help="also rank every pair among the --top worst singles")
    p.add_argument("--top", type=int, default=10, help="how many of the worst singles form pairs (default 10)")
    p.add_argument("--solver", choices=("dc", "ac"), help="override the scenario's solver (network: ac)")
    p.add_argument("-o", "--output", help="output folder (default reports/rank-<name>-<kind>/)")
    p.add_argument("--workers", type=int, help="worker processes (default: every core; 1 runs in-process)")
    p.add_argument("--scheduler", help="local (default), serial, dask:local, or tcp://HOST:PORT of a Dask "
                                       "scheduler")
    p.add_argument("--resume", action="store_true", help="continue a killed run from its results.sqlite")
    p.add_argument("--evaluator", default="auto", help="auto (default), fast, fast-ac or simulate")
    p.add_argument("--time-limit", type=float, metavar="SECONDS", help="stop a case after this long (a row "
                                                                       "with status 'timeout')")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_rank)
    return p


def default_output(target: str, kind: str) -> Path:
    stem = Path(target).stem if Path(target).suffix else target.replace(":", "-")
    return Path("reports") / f"rank-{stem}-{kind}"


class _Bar:
    """The progress callback: a rich bar per phase (cases, rate, ETA), refreshed from the calling thread
    only (no refresh thread: worker processes are forked while it runs)."""

    def __init__(self, console):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=console, auto_refresh=False, transient=False)
        self.tasks: dict[str, tuple[int, int, float]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if phase not in self.tasks:
            task = self.progress.add_task(f"{phase:8s}", total=total, completed=done, rate="")
            self.tasks[phase] = (task, done, now)
        task, start_done, start = self.tasks[phase]
        rate = (done - start_done) / (now - start) if now > start and done > start_done else 0.0
        self.progress.update(task, total=total, completed=done, rate=f"{rate:,.1f} cases/s" if rate else "")
        self.progress.refresh()

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()


def _top_table(ranking, title: str):
    """The top ``TOP_SHOWN`` rows. Numbers never wrap; the asset name takes what is left of the terminal's width
    (folded onto a second line when it must); the status column only when a shown row is not converged."""
    from rich.table import Table

    top = ranking.head(TOP_SHOWN)
    show_status = any(str(s) != "converged" for s in top["status"])
    table = Table(title=title, caption=None if show_status else "every case shown: converged")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("asset", justify="left", ratio=1, min_width=14, overflow="fold")
    for col, justify in (("unserved\nMW", "right"), ("main\ncause", "left"), ("critical\nMW", "right"),
                         ("islands", "right"), ("over-\nloads", "right")):   # two-line headers: fits 80 columns
        table.add_column(col, justify=justify, no_wrap=True)
    if show_status:
        table.add_column("status", justify="left", no_wrap=True)
    causes = [c for c in ranking.columns if c.startswith("unserved_") and c != "unserved_mw"]
    for _, r in top.iterrows():
        by_cause = {c[len("unserved_"):-len("_mw")]: r[c] for c in causes if r[c] == r[c] and r[c] > 1e-6}
        main = max(by_cause, key=by_cause.get) if by_cause else "-"
        mw = r["unserved_mw"]
        row = [str(r["rank"]), str(r["asset"]), "-" if mw != mw else f"{mw:,.1f}", main,
               "-" if r["critical_unserved_mw"] != r["critical_unserved_mw"] else f"{r['critical_unserved_mw']:,.1f}",
               str(r["islands"]) if r["islands"] is not None else "-", str(r["overloaded_branches"])]
        if show_status:
            row.append(str(r["status"]))
        table.add_row(*row)
    return table


def cmd_rank(args, out, err) -> int:
    from gridsim._atomic import prepare_output_dir
    from gridsim.batch.rank import check_kind, rank_assets, write_ranking
    from gridsim.errors import GridsimError

    if args.top < 1:
        raise GridsimError(f"--top must be at least 1, got {args.top}")
    check_kind(args.kind)
    outdir = prepare_output_dir(Path(args.output) if args.output else default_output(args.target, args.kind))
    bar = _Bar(err)
    with bar:
        ranking = rank_assets(args.target, args.kind, pairs=args.pairs, top=args.top, solver=args.solver,
                              evaluator=args.evaluator, workers=args.workers, scheduler=args.scheduler,
                              out_dir=outdir, resume=args.resume, progress=bar, time_limit_s=args.time_limit)
        written = write_ranking(ranking, outdir)
    if not args.quiet:
        base = ranking.base.summary
        out.print(f"{ranking.scenario.name} ({ranking.scenario.network}, solver {ranking.scenario.solver}): "
                  f"{len(ranking.singles)} {args.kind}s ranked; the scenario's own state leaves "
                  f"{base['unserved_mw']:,.1f} MW unserved", highlight=False)
        out.print(_top_table(ranking.singles, f"top {TOP_SHOWN} {args.kind}s by unserved MW when lost"))
        if ranking.pairs is not None:
            out.print(_top_table(ranking.pairs, f"top {TOP_SHOWN} pairs of {args.kind}s"))
        failed = int(ranking.singles["status"].isin(("failed", "timeout", "diverged")).sum())
        if failed:
            out.print(f"{failed} case(s) failed, timed out or diverged: see status and message in ranking.csv")
        cases = ", ".join(n for n in ("cases.csv", "cases.parquet", "results.sqlite") if (outdir / n).exists())
        out.print(f"wrote {', '.join(written)} to {outdir}/ (every case: {cases})", highlight=False)
    return 0

"""Time a critical-asset ranking through run_cases, executor by executor, and the start-up of one-shot commands.

    python bench/bench_rank.py [--kind line] [--network dnipro-like] [--limit N] [--dask] [--startup]

Ranks every asset of one kind (DC, optimal response) with each evaluator on the serial executor and the local
process pool (and a Dask LocalCluster with --dask), printing cases/s, the time to the first result, and the
ratio to the simulate() loop on one core. Every run must give the same numbers (checked). --startup times
`gridsim schema`, `gridsim validate` and `gridsim run` (with the report) as new processes, best of three.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rank(scenario, cases, **kw) -> tuple[float, object]:
    from gridsim.batch import run_cases

    t0 = time.perf_counter()
    df = run_cases(scenario, cases, **kw)
    return time.perf_counter() - t0, df


def bench_executors(args) -> None:
    from gridsim.batch.executors import default_workers
    from gridsim.batch.rank import asset_names, outage_items, single_cases
    from gridsim.batch.run import as_scenario, prepare_checked

    scenario = as_scenario(args.network, solver="dc")
    net = prepare_checked(scenario)
    names = asset_names(net, args.kind)[: args.limit or None]
    cases = list(single_cases(args.kind, outage_items(net, args.kind, names)).values())
    n = len(cases)
    print(f"{n} single {args.kind}s of {args.network}, solver dc, response optimal; {default_workers()} cores\n")
    runs = [("simulate", 1, None), ("simulate", None, None)]
    if importlib.util.find_spec("gridsim.batch.fast") is not None:
        runs += [("fast", 1, None), ("fast", None, None)]
    if args.dask:
        runs.append(("auto", None, "dask:local"))
    reference, base_rate = None, None
    print(f"{'evaluator':10s} {'executor':12s} {'seconds':>8s} {'cases/s':>9s} {'x simulate loop':>16s}")
    for evaluator, workers, scheduler in runs:
        seconds, df = _rank(scenario, cases, evaluator=evaluator, workers=workers, scheduler=scheduler)
        rate = n / seconds
        base_rate = base_rate or rate
        if reference is None:
            reference = df["unserved_mw"]
        same = (df["unserved_mw"] - reference).abs().max() <= 1e-6
        executor = scheduler or ("serial" if workers == 1 else "local pool")
        print(f"{evaluator:10s} {executor:12s} {seconds:8.2f} {rate:9.1f} {rate / base_rate:16.1f}"
              f"{'' if same else '  DIFFERENT NUMBERS'}")


def bench_startup() -> None:
    scenario = ROOT / "scenarios" / "dnipro-hydro-strike.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "gridsim schema": ["schema"],
            "gridsim validate (built-in grid)": ["validate", str(scenario)],
            "gridsim run (with the report)": ["run", str(scenario), "-o", tmp, "-q"],
        }
        print("\nstart-up, best of 3 (wall seconds, new process each time)")
        for label, argv in commands.items():
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "gridsim", *argv], check=True, capture_output=True)
                best = min(best, time.perf_counter() - t0)
            print(f"  {label:34s} {best:6.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="line")
    ap.add_argument("--network", default="dnipro-like")
    ap.add_argument("--limit", type=int, default=0, help="only the first N assets (0: all)")
    ap.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster")
    ap.add_argument("--startup", action="store_true", help="also time one-shot commands")
    args = ap.parse_args(argv)
    bench_executors(args)
    if args.startup:
        bench_startup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time `gridsim run` on every shipped scenario, stage by stage.

    python bench/bench_run.py [--repeat 5] [--report]

Prints the best time of each pipeline stage (network, outages, islands, balance, solve, assemble), the
simulation total (the target is under 1 s on the built-in grid), the report-writing time when --report is
given, and as a reference the time of one plain `pandapower.runpp` on the undamaged built-in grid
(the ratio says how many plain power flows one whole gridsim simulation costs).
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--report", action="store_true", help="also time report writing (figures + HTML)")
    args = ap.parse_args(argv)

    import pandapower as pp

    from gridsim import build_network, load_scenario, simulate
    from gridsim.report import write_report

    net = build_network("dnipro-like")
    pp.runpp(net)  # warm-up
    ref = min(_timed(lambda: pp.runpp(net, numba=False)) for _ in range(args.repeat))
    print(f"reference: pandapower.runpp on the undamaged dnipro-like grid: {ref * 1000:.0f} ms\n")

    scenarios = sorted((ROOT / "scenarios").glob("*.yaml"))
    stages = ["network", "outages", "islands", "balance", "solve", "assemble"]
    print(f"{'scenario':34s}" + "".join(f"{s:>10s}" for s in stages) + f"{'total':>10s}{'x runpp':>9s}"
          + ("   report" if args.report else ""))
    for path in scenarios:
        scenario = load_scenario(path)
        best: dict[str, float] = {}
        total = float("inf")
        result = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = simulate(scenario)
            t = time.perf_counter() - t0
            if t < total:
                total, best = t, dict(result.timings_s)
        line = f"{path.stem:34s}" + "".join(f"{best.get(s, 0.0) * 1000:9.0f}ms" for s in stages)
        line += f"{total * 1000:8.0f}ms{total / ref:9.1f}"
        if args.report:
            with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                line += f"{_timed(lambda: write_report(result, d)) * 1000:7.0f}ms"
        print(line)
    print("\ntarget: simulation (without report) under 1 s on the built-in grid")
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())

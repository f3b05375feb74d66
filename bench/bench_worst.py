"""Time the worst-case k-asset search: exact on RTS-24 against brute force and the published times, the
heuristic on PGLib case2000.

    python bench/bench_worst.py [--kmin 2] [--kmax 10] [--brute 3] [--big-k 5] [--big-limit 120] [--skip-big]

1. RTS-24 (tests/data/pglib/pglib_opf_case24_ieee_rts.m, lines and transformers, DC optimal response): the exact
   MILP for k = kmin..kmax, its value against the published optimum where there is one
   (tests/data/validation/nk_rts24.csv), its time beside the published 3.6-22 s per k (Sundar et al. 2018,
   Julia + CPLEX on a cluster node), wall and CPU seconds (time.process_time: less noisy than wall on a shared
   machine), and, for k <= --brute, brute-force enumeration of every attack of at most k
   branches through FastDCEvaluator as the reference (value and time ratio).
2. case2000 (bench/data/pglib_opf_case2000_goc.m): the heuristic for k = --big-k within --big-limit seconds, its
   value, evaluations and the bound it has (the local-supply bound of gridsim.worst.bounds; there, all demand).

Timings are noisy on a shared machine: the load average is printed beside them. Never a CI gate.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import os
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTS24 = ROOT / "tests" / "data" / "pglib" / "pglib_opf_case24_ieee_rts.m"
CASE2000 = ROOT / "bench" / "data" / "pglib_opf_case2000_goc.m"
PUBLISHED = ROOT / "tests" / "data" / "validation" / "nk_rts24.csv"
#: published solve times per k on RTS-24 (Sundar et al. 2018): the range the issue quotes
PUBLISHED_TIMES_S = "3.6-22"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _searcher(path: Path, kind: str = "line"):
    from gridsim.batch.run import as_scenario, prepare_checked
    from gridsim.worst.search import Searcher

    sc = as_scenario(str(path), "dc")
    return Searcher(sc, kind, prepare_checked(sc))


def brute_force(s, k: int) -> tuple[float, float, int]:
    """(worst MW over every attack of at most k assets, seconds, attacks evaluated)."""
    t0 = time.perf_counter()
    n = len(s.assets)
    best, count = 0.0, 0
    for size in range(1, k + 1):
        for c in combinations(range(n), size):
            best = max(best, s.values(c))
            count += 1
    return best, time.perf_counter() - t0, count


def bench_exact(kmin: int, kmax: int, brute: int) -> None:
    import pandas as pd

    published = pd.read_csv(PUBLISHED).set_index("k")["published_total_shed_mw"].to_dict()
    print(f"RTS-24, {kmax - kmin + 1} exact searches (lines and transformers, DC optimal response); load {_load()}")
    print(f"{'k':>2s} {'worst MW':>9s} {'published':>9s} {'ratio':>6s} {'bound':>9s} {'ours s':>7s} {'CPU s':>6s} "
          f"{'published s':>11s} {'brute MW':>9s} {'brute s':>8s} {'brute/ours':>10s}  attack")
    for k in range(kmin, kmax + 1):
        s = _searcher(RTS24)           # fresh: no cached evaluations shared between k or with brute force
        cpu = time.process_time()
        att = s.worst(k, set(), "exact")
        cpu = time.process_time() - cpu
        pub = published.get(k)
        ratio = f"{att.shed_mw_dc / pub:6.3f}" if pub else "     -"
        b_mw = b_s = b_ratio = "-"
        if k <= brute:
            ref = _searcher(RTS24)
            mw, sec, count = brute_force(ref, k)
            b_mw, b_s, b_ratio = f"{mw:.1f}", f"{sec:.1f}", f"{sec / att.time_s:.1f}x"
        print(f"{k:2d} {att.shed_mw_dc:9.1f} {pub if pub else '-':>9} {ratio} {att.bound_mw:9.1f} "
              f"{att.time_s:7.1f} {cpu:6.1f} {PUBLISHED_TIMES_S:>11s} {b_mw:>9s} {b_s:>8s} {b_ratio:>10s}  "
              f"{' + '.join(att.assets)}", flush=True)
    print(f"load after: {_load()}\n")


def bench_heuristic(k: int, limit: float) -> None:
    t0 = time.perf_counter()
    s = _searcher(CASE2000)
    prep = time.perf_counter() - t0
    print(f"case2000: {s.pm.n_bus} buses, {len(s.assets)} line/transformer assets, prepared in {prep:.1f} s; "
          f"load {_load()}")
    budget = max(1.0, limit - prep)
    att = s.worst(k, set(), "heuristic", time_limit_s=budget)
    total = time.perf_counter() - t0
    print(f"heuristic k={k}: {att.shed_mw_dc:,.1f} MW unserved ({' + '.join(att.assets)}); "
          f"{s.values.n_evaluated:,} attacks evaluated in {att.time_s:.1f} s ({total:.1f} s with preparation, "
          f"limit {limit:g} s); status {att.status}; bound {att.bound_mw:,.0f} MW (local supply; "
          f"all demand {s.total_mw:,.0f} MW), "
          f"gap {att.gap:.2f}; load {_load()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kmin", type=int, default=2)
    p.add_argument("--kmax", type=int, default=10)
    p.add_argument("--brute", type=int, default=3)
    p.add_argument("--big-k", type=int, default=5)
    p.add_argument("--big-limit", type=float, default=120.0)
    p.add_argument("--skip-big", action="store_true")
    args = p.parse_args()
    bench_exact(args.kmin, args.kmax, args.brute)
    if not args.skip_big:
        bench_heuristic(args.big_k, args.big_limit)


if __name__ == "__main__":
    main()

"""Time the salvo Monte Carlo and the air-defence placement on the shipped 96-weapon salvo.

    python bench/bench_salvo.py [--draws 2000] [--workers 2] [--reference 30] [--defend-draws 300] [--skip-defend]

1. ``run_salvo`` on scenarios/winter-salvo-montecarlo.yaml (built-in grid, solver dc, optimal response,
   snapshot): wall seconds for ``--draws`` draws on ``--workers`` processes (target: 2,000 draws < 30 s on
   2 cores), against the reference: a plain loop of ``simulate()`` on ``--reference`` of the same draws, one
   core, whose rate is the ratio's denominator; the loop's numbers are checked against the run's.
2. ``greedy_defence`` with 10 candidate regions and N = 3 units on ``--defend-draws`` draws (target < 5 min).

Timings are noisy on a shared machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gridsim._threads import one_blas_thread  # noqa: E402

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)
SCENARIO = ROOT / "scenarios" / "winter-salvo-montecarlo.yaml"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_montecarlo(scenario, draws: int, workers: int, reference: int) -> None:
    from gridsim.batch.cases import outage_models
    from gridsim.salvo.montecarlo import run_salvo
    from gridsim.salvo.plan import plan_attack
    from gridsim.salvo.sampling import draw_hits, sample_draw
    from gridsim.simulate import prepare_network, simulate

    t0 = time.perf_counter()
    run = run_salvo(scenario, draws=draws, workers=workers)
    seconds = time.perf_counter() - t0
    rate = draws / seconds
    u = run.summary["unserved_mw"]
    print(f"run_salvo: {draws:,} draws on {workers} worker(s): {seconds:.1f} s ({rate:.1f} draws/s; load {_load()})")
    print(f"  unserved MW mean {u['mean']:,.1f} ± {u['sem']:,.1f}, p95 {u['p95']:,.1f}, max {u['max']:,.1f}")

    net = prepare_network(scenario)
    plan = plan_attack(scenario, net)
    t0 = time.perf_counter()
    worst = worst_critical = 0.0
    from gridsim.batch.cases import CaseSpec

    for d in range(reference):
        items = draw_hits(plan, sample_draw(plan, run.seed, d)).outage_items(plan)
        sc = scenario.model_copy(update={"outages": [*scenario.outages, *outage_models(CaseSpec("x", items))],
                                         "attack": None, "draws": None, "seed": None})
        summary = simulate(sc, net=net).summary
        worst = max(worst, abs(summary["unserved_mw"] - run.draws["unserved_mw"].iloc[d]))
        worst_critical = max(worst_critical, abs(summary["critical_unserved_mw"]
                                                 - run.draws["critical_unserved_mw"].iloc[d]))
    ref_rate = reference / (time.perf_counter() - t0)
    print(f"simulate() loop, 1 core, {reference} of the same draws: {ref_rate:.2f} draws/s "
          f"(largest difference from the run: {worst:.2g} MW, critical {worst_critical:.2g} MW; load {_load()})")
    print(f"ratio: {rate / ref_rate:.1f}x the simulate() loop; target 2,000 draws < 30 s: "
          f"{'met' if draws / rate < 30 or draws != 2000 else 'NOT met'} ({2000 / rate:.1f} s for 2,000)")


def bench_defend(scenario, draws: int, workers: int) -> None:
    from gridsim.salvo.defend import candidates, greedy_defence
    from gridsim.salvo.plan import plan_attack
    from gridsim.simulate import prepare_network

    plan = plan_attack(scenario, prepare_network(scenario))
    names = [c.name for c in candidates(plan, "regions")][:10]
    t0 = time.perf_counter()
    d = greedy_defence(scenario, 3, candidates_kind="regions", only=names, draws=draws, workers=workers,
                       keep_going=True)
    seconds = time.perf_counter() - t0
    print(f"\ngreedy_defence: {len(names)} candidate regions, N = 3, {draws} draws, {workers} worker(s): "
          f"{seconds:.1f} s, {d.evaluated_states:,} damage states evaluated (load {_load()}); target < 300 s: "
          f"{'met' if seconds < 300 else 'NOT met'}")
    for _, r in d.table.iterrows():
        print(f"  unit {r['unit']}: {r['placed']:12s} mean {r['mean_after']:,.1f} MW, reduction "
              f"{r['reduction']:,.1f} ± {r['reduction_se']:,.1f} (runner-up {r['runner_up']})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--reference", type=int, default=30, help="draws in the simulate() reference loop")
    p.add_argument("--defend-draws", type=int, default=500)
    p.add_argument("--skip-defend", action="store_true")
    args = p.parse_args(argv)
    from gridsim.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    bench_montecarlo(scenario, args.draws, args.workers, args.reference)
    if not args.skip_defend:
        bench_defend(scenario, args.defend_draws, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

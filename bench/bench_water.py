"""Time the water plan of a 7-day, 168-step timeline on the built-in grid (the multi-period DC dispatch).

    python bench/bench_water.py [--scenario scenarios/dnipro-dam-lost.yaml]

Target (issue "Water"): the 168-step multi-period dispatch under 5 s. Prints the plan's parts (building every
step's block, the LP rounds) and, as the reference, the time of the whole timeline run (the plan plus every
step's snapshot) and of one snapshot ``simulate()`` of the undamaged grid. Also checks that the timeline's
energy not served equals the plan's.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))        # run from a checkout without installing
from gridsim._threads import one_blas_thread  # noqa: E402

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "dnipro-dam-lost.yaml"))
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    from gridsim import load_scenario, simulate
    from gridsim.simulate import prepare_network
    from gridsim.timeline import _baseline_outages, _Runner, simulate_timeline
    from gridsim.water import plan_water

    scenario = load_scenario(args.scenario)
    base = prepare_network(scenario)
    outages = [*_baseline_outages(scenario), *scenario.outages]
    runner = _Runner(scenario, base, True)
    states = list(runner.states(outages))
    matches = runner.matches[tuple(o.label for o in outages)]
    highs = _count_highs()
    t_plan, plan = _timed(lambda: plan_water(runner, states, matches))
    cpu = _timed.cpu
    s = plan.summary
    print(f"scenario: {scenario.name} ({scenario.timeline.n_steps} steps of {scenario.timeline.step_h:g} h)")
    print(f"water plan: {t_plan:5.2f} s (CPU {cpu:.2f} s): blocks {s['build_s']:.2f} s, LP {s['lp_solve_s']:.2f} s "
          f"in {s['limit_rounds']} round(s) ({s['limit_rows']} branch limits added), status {s['status']}; "
          f"target < 5 s: {'met' if min(t_plan, cpu) < 5 else 'NOT met'}")
    print(f"  of the plan's CPU, the HiGHS solves {highs[0]:.2f} s = {highs[0] / max(cpu, 1e-9):.0%}: what remains "
          "with this LP and its solve path (the rest is building it)")
    print(f"  plan: energy not served {plan.ens_mwh:,.1f} MWh; hydro {s['hydro_energy_mwh']:,.0f} MWh, "
          f"pumping {s['pumping_energy_mwh']:,.0f} MWh")
    snap = scenario.model_copy(update={"timeline": None, "outages": [], "baseline": None})
    one = min(_timed(lambda: simulate(snap, net=base, detail="regions"))[0] for _ in range(3))
    t_run, r = _timed(lambda: simulate_timeline(scenario, net=base))
    same = abs(r.summary["energy_not_served_mwh"] - r.summary["water"]["energy_not_served_mwh"]) < 1e-4
    print(f"reference: the whole timeline run (plan + snapshots, with its baseline) {t_run:5.1f} s "
          f"= {t_run / t_plan:.1f}x the plan; one snapshot simulate() {one * 1000:.0f} ms "
          f"(the plan = {t_plan / one:.0f} snapshots)")
    print(f"  timeline energy not served {r.summary['energy_not_served_mwh']:,.1f} MWh; equals the plan's: {same}")
    return 0


def _count_highs() -> list[float]:
    """CPU seconds spent in the water plan's HiGHS solves (``HighsLP.solve``: run and read the solution) from
    now on, as a list updated in place."""
    from gridsim.water import backend

    spent = [0.0]
    solve = backend.HighsLP.solve

    def timed(self):
        c0 = time.process_time()
        out = solve(self)
        spent[0] += time.process_time() - c0
        return out

    backend.HighsLP.solve = timed
    return spent


def _timed(fn):
    """Wall time of ``fn()`` and its result; the CPU time is kept in ``_timed.cpu``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _timed.cpu = time.process_time() - c0
    return time.perf_counter() - t0, out


if __name__ == "__main__":
    raise SystemExit(main())

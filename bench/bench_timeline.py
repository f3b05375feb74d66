"""Time the shipped 7-day winter salvo (168 hourly steps) on the built-in grid, with and without the state cache.

    python bench/bench_timeline.py [--scenario scenarios/winter-salvo-week.yaml] [--no-reference]

Target (issue "Time"): the 7-day salvo under 20 s. References: the same timeline with its steps through
``simulate()`` (``fast=False``: what the fast DC steps save), and with the state cache off (every step solved
through ``simulate()``): the ratio says what the cache saves. Also prints the time per solved step against one
plain ``simulate()`` of the undamaged grid, and checks that both runs give the same energy not served.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "winter-salvo-week.yaml"))
    ap.add_argument("--no-reference", action="store_true", help="skip the run without the cache")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    from gridsim import load_scenario, simulate
    from gridsim.simulate import prepare_network
    from gridsim.timeline import simulate_timeline

    scenario = load_scenario(args.scenario)
    base = prepare_network(scenario)
    snap = scenario.model_copy(update={"timeline": None, "outages": []})
    simulate(snap, net=base)
    one = min(_timed(lambda: simulate(snap, net=base, detail="regions"))[0] for _ in range(3))
    print(f"scenario: {scenario.name} ({scenario.timeline.n_steps} steps of {scenario.timeline.step_h:g} h, "
          f"solver {scenario.solver}, response {scenario.response})")
    print(f"reference step: one simulate() of the undamaged grid, regions only: {one * 1000:.0f} ms")

    solvers, restore = _solver_clock()
    t_cache, r = _timed(lambda: simulate_timeline(scenario, net=base))
    cpu = _timed.cpu
    restore()
    s = r.summary
    runs = 2 if r.baseline_timeline is not None and len(r.baseline_timeline) else 1    # the baseline's own run
    busy = " (by CPU time: the machine is busy)" if cpu < 20 <= t_cache else ""
    print(f"with the state cache:    {t_cache:6.1f} s  ({s['solved_steps']} of {runs} x {s['timeline']['steps']} steps "
          f"solved, {t_cache / max(s['solved_steps'], 1) * 1000:.0f} ms each; CPU {cpu:.1f} s)   target < 20 s: "
          f"{'met' if min(t_cache, cpu) < 20 else 'NOT met'}{busy}")
    print(f"  energy not served {s['energy_not_served_mwh']:,.1f} MWh, peak {s['peak_unserved_mw']:,.1f} MW "
          f"at hour {s['peak_at_h']:g}")
    floor = sum(solvers.values())
    print(f"  of its CPU, in the LP solvers {floor:.2f} s = {floor / max(cpu, 1e-9):.0%} ("
          + ", ".join(f"{k} {v:.2f} s" for k, v in solvers.items())
          + "): the numbers are those solves' vertices, so this part stays while they must not change")
    if not args.no_reference:
        t_sim, r_sim = _timed(lambda: simulate_timeline(scenario, net=base, fast=False))
        same = abs(r_sim.summary["energy_not_served_mwh"] - s["energy_not_served_mwh"]) < 1e-6
        print(f"steps through simulate(): {t_sim:6.1f} s  -> fast DC steps (gridsim.timeline_fast) "
              f"{t_sim / t_cache:.2f}x; same energy not served: {same}")
        t_ref, r_ref = _timed(lambda: simulate_timeline(scenario, net=base, cache=False))
        same = abs(r_ref.summary["energy_not_served_mwh"] - s["energy_not_served_mwh"]) < 1e-6
        print(f"without the cache (ref): {t_ref:6.1f} s  -> cache speed-up {t_ref / t_cache:.2f}x; "
              f"same energy not served: {same}")
    return 0


def _solver_clock():
    """CPU seconds in the LP solves of a timeline from now on: the water plans' HiGHS (``gridsim.water.backend``),
    the fast steps' warm LP (``gridsim.batch.lp_lazy``, with its flows) and the reference LP's ``milp`` calls
    (``gridsim.solvers.optimal``: where the warm LP sheds, and the peak's snapshot). Returns the seconds per
    solver (a dict, updated in place) and a function that puts the solvers back."""
    from gridsim.batch import lp_lazy
    from gridsim.solvers import optimal
    from gridsim.water import backend

    spent = {"water plan HiGHS": 0.0, "warm step LP": 0.0, "reference milp": 0.0}
    undo = []

    def clock(owner, name, label):
        fn = getattr(owner, name)

        def timed(*args, **kwargs):
            c0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - c0

        setattr(owner, name, timed)
        undo.append(lambda: setattr(owner, name, fn))

    clock(backend.HighsLP, "solve", "water plan HiGHS")
    clock(lp_lazy.LazyShedLP, "solve", "warm step LP")
    clock(optimal, "milp", "reference milp")
    return spent, lambda: [u() for u in undo]


def _timed(fn):
    """Wall time of ``fn()`` and its result; the CPU time is kept in ``_timed.cpu`` (on a busy machine the CPU
    time of this single-threaded run is the better estimate of its wall time on an idle one)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    _timed.cpu = time.process_time() - c0
    return time.perf_counter() - t0, out


if __name__ == "__main__":
    raise SystemExit(main())

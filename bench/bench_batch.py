"""Cases per second of the fast DC batch engine against the simulate() loop and two contingency tools.

    python bench/bench_batch.py [--sample 20] [--repeat 3] [--networks builtin,case118,case2000] [--no-memory]
                                [--ac builtin] [--ac-sample 20]

For every single branch (lines; on MATPOWER networks every branch row, lines and transformers) of the built-in
grid, PGLib case118 and case2000, with ``solver: dc, response: optimal``, it prints side by side:

- ``fast``: ``FastDCEvaluator.evaluate_many`` on one core, with each shedding-LP engine (``exact``, the
  default: the warm-started LP, and simulate()'s own LP where load is shed; ``highs``: the warm-started LP
  only; ``reference``: simulate()'s LP every time): the first pass over the case list (what a ranking does;
  it includes the first, cold LP and the name index) and, in the notes, the best of ``--repeat`` passes on the
  same prepared evaluator; time to prepare the model apart;
- ``simulate``: the ``SimulateEvaluator`` loop (one simulate() per case) on a random sample (``--sample``),
  whose records must equal the fast ones (checked; a difference is printed);
- ``pandapower``: ``pandapower.contingency.run_contingency`` with ``rundcpp`` on a sample of lines: flows only,
  no islands balanced, no shedding;
- ``lightsim2grid``: its DC contingency analysis (``ContingencyAnalysisCPP``, DC_KLU) on every branch, where
  installed: flows only; contingencies that split the grid are not solved (counted in "skipped");
- ``fast screen (no LP)``: the like-for-like part (``stage_times``): names resolved, post-outage flows, islands,
  each island balanced (bridges too) and overloads counted for every single-branch case
  (``FastDCEvaluator.screen``), best of ``--repeat``; the "stages" line gives the rest of a pass apart (records
  and the optimal response's LP for the cases with an overload, per LP case).

and the ratios of the default fast rate (``exact``) to each. Why the full rate stays below lightsim2grid's on
case118 (measured): 19 of its 186 cases overload a branch and need the shedding LP; one HiGHS run on these small
LPs costs ~100-160 us of CPU even when the model is already optimal (HiGHS's fixed cost per run), and the lazy
LP needs ~31 runs a pass, i.e. 3-5 ms, more than lightsim2grid's whole flows-only N-1 (~1.8 ms at 100,000/s);
with the Python around each LP case (~0.5 ms) the full pass is ~20-25 ms of CPU. The screen alone (flows +
every island balanced) runs ~1 ms. The machine is shared: the load average is printed
first, and beside each wall-clock rate the rate in CPU time (``time.process_time``), which is less noisy.

``--ac NETWORKS`` (default ``builtin``; ``none`` to skip): every single line with ``solver: ac, response:
optimal`` through ``FastACEvaluator`` (lightsim2grid's Newton solver on pandapower's admittance model; how many
cases took each path: exact check, LP, voltage relief, simulate()), the simulate() loop on a sample (numbers
compared to 1e-3 MW) and lightsim2grid's own AC contingency analysis (flows only, splits skipped); with
``--ac-workers N`` (default 2) also on N forked processes that inherit the prepared model. Then the memory of
a case2000 N-1 run in a fresh process (peak RSS and
the tracemalloc peak of the batch run). Targets (issue "Thousands of cases a second"): >= 2,000 cases/s and
>= 100x the simulate() loop on the built-in grid; case2000 N-1 under 2 GiB. Never a CI gate.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import copy
import importlib.util
import logging
import os
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {"builtin": "dnipro-like",
            "case118": str(ROOT / "tests" / "data" / "pglib" / "pglib_opf_case118_ieee.m"),
            "case2000": str(ROOT / "bench" / "data" / "pglib_opf_case2000_goc.m")}
SHARED_CASE2000 = Path("/work/shared/data/pglib/pglib_opf_case2000_goc.m")
COMPARED = ("unserved_mw", "unserved_network_mw", "critical_unserved_mw", "n_islands", "n_overloaded")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=20, help="cases timed through simulate() (and compared)")
    ap.add_argument("--networks", default="builtin,case118,case2000")
    ap.add_argument("--repeat", type=int, default=3, help="passes of the fast evaluator per engine")
    ap.add_argument("--no-memory", action="store_true", help="skip the case2000 memory run")
    ap.add_argument("--ac", default="builtin", help="networks for the AC benchmark (none: skip)")
    ap.add_argument("--ac-sample", type=int, default=20, help="AC cases timed through simulate() (and compared)")
    ap.add_argument("--ac-workers", type=int, default=2, help="forked processes for the AC run (1: in-process only)")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _quiet()
    if args.memory_child:
        return _memory_child(args.memory_child)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for key in filter(None, args.networks.split(",")):
        bench_network(key, _network(key), args.sample, args.repeat)
    for key in filter(None, args.ac.split(",")) if args.ac != "none" else ():
        bench_ac(key, _network(key), args.ac_sample, args.ac_workers)
    if not args.no_memory and "case2000" in args.networks:
        memory_run(_network("case2000"))
    return 0


def bench_network(key: str, network: str, sample: int, repeat: int = 3) -> None:
    from gridsim.batch.cases import SimulateEvaluator
    from gridsim.batch.fast import FastDCEvaluator

    sc = _scenario(network)
    t0 = time.perf_counter()
    fast = FastDCEvaluator(sc)
    prep = time.perf_counter() - t0
    cases = branch_cases(fast.model.base)
    print(f"\n== {key}: {len(cases)} single branches, solver dc, response optimal, shedding proportional "
          f"(model prepared in {prep:.2f} s)")
    rates, recs, n_lp, warm, rows = {}, None, 0, {}, "no LP"
    for engine in ("exact", "highs", "reference"):
        ev = fast if engine == fast.lp_engine else FastDCEvaluator(sc, fast.model.base, lp=engine)
        times, cpu = [], []
        for _ in range(max(1, repeat)):
            t0, c0 = time.perf_counter(), time.process_time()
            got = ev.evaluate_many(cases)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        rates[f"fast (lp={engine})"] = len(cases) / times[0]
        warm[f"fast (lp={engine})"] = (f"CPU {len(cases) / cpu[0]:.0f}/s ({1e6 * cpu[0] / len(cases):.0f} us/case); "
                                      f"{len(cases) / min(times):.0f}/s best of {len(times)} passes (LPs warm)")
        recs = recs or got
        n_lp = n_lp if engine != "highs" else (ev._lp.n_solves // len(times) if ev._lp is not None else 0)
        if engine == "highs" and ev._lp is not None:
            lazy = ev._lp
            rows = (f"{lazy.n_cases // len(times)} cases, {lazy.total_rows_added / max(lazy.n_cases, 1):.1f} "
                    f"limit rows added per case on average, {lazy.max_rows_added} at most, of "
                    f"{fast.model.n_branch} branches")
    stages = stage_times(fast, cases, repeat)
    rates["fast screen (no LP)"] = stages["rate"]
    warm["fast screen (no LP)"] = stages["note"]
    split = sum(r["n_islands"] > 1 for r in recs)
    shed = sum(r["unserved_network_mw"] > 1e-6 for r in recs)
    picked = random.Random(0).sample(range(len(cases)), min(sample, len(cases)))
    ref = SimulateEvaluator(sc, fast.model.base)
    t0 = time.perf_counter()
    ref_recs = [ref.evaluate(cases[i]) for i in picked]
    rates["simulate() loop"] = len(picked) / (time.perf_counter() - t0)
    same = all(abs(float(a[c]) - float(recs[i][c])) <= 1e-6 for a, i in zip(ref_recs, picked) for c in COMPARED)
    skipped = {}
    for name, fn in (("pandapower run_contingency", pandapower_rate), ("lightsim2grid DC", lightsim2grid_rate)):
        try:
            rates[name], skipped[name] = fn(fast, sample)
        except Exception as exc:  # noqa: BLE001 -- a missing or broken reference is reported, not fatal
            print(f"  {name}: not measured ({type(exc).__name__}: {exc})")
    print(f"  {split} cases split the grid, {shed} shed load for the network, {n_lp} LPs a pass (highs engine: "
          f"{rows})")
    print(f"  simulate() sample of {len(picked)}: {'same numbers' if same else 'DIFFERENT NUMBERS'}")
    print(f"  stages (CPU, best of {max(1, repeat)}): {stages['stages']}")
    if "lightsim2grid DC" in rates:
        ls = rates["lightsim2grid DC"]
        print(f"  like for like, flows + islands balanced in every case (screen) vs lightsim2grid DC flows only "
              f"(splits skipped): {rates['fast screen (no LP)'] / ls:.2f}x; with the optimal response (LPs): "
              f"{rates[f'fast (lp={fast.lp_engine})'] / ls:.2f}x (first pass, wall)")
    best = rates[f"fast (lp={fast.lp_engine})"]
    print(f"  {'':28s}{'cases/s':>10s}{'exact / it':>11s}  notes")
    for name, rate in rates.items():
        note = skipped.get(name, warm.get(name, ""))
        print(f"  {name:28s}{rate:10.1f}{best / rate:11.1f}  {note}")


def stage_times(fast, cases, repeat: int) -> dict:
    """The two stages of a pass, timed apart on the prepared evaluator: the screen (names resolved, flows, islands,
    balance and overloads of every single-branch case, ``FastDCEvaluator.screen``; the like-for-like part of
    lightsim2grid's flows-only N-1) and the rest of ``evaluate_many`` (records, and the optimal response's LP for
    the cases with an overload), as CPU time (``process_time``, less noisy than wall on a shared machine)."""
    def screen():
        ks = np.array([k for k in (fast.single_branch(c) for c in cases) if k is not None], dtype=np.int64)
        cols = [fast.screen(ks[i:i + fast.chunk]) for i in range(0, len(ks), fast.chunk)]
        return len(ks), cols

    wall, cpu, full = [], [], []
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        n, cols = screen()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        c0 = time.process_time()
        fast.evaluate_many(cases)
        full.append(time.process_time() - c0)
    n_lp = sum(int((c.n_over > 0).sum()) for c in cols) if fast.optimal else 0
    lp_ms = 1e3 * max(0.0, min(full) - min(cpu))
    return {"rate": n / min(wall),
            "note": (f"best of {len(wall)}; CPU {n / min(cpu):.0f}/s ({1e6 * min(cpu) / max(n, 1):.1f} us/case); "
                     f"{n} single-branch cases of {len(cases)}; no LP"),
            "stages": (f"screen {1e3 * min(cpu):.2f} ms for {n} cases; the rest of a pass {lp_ms:.1f} ms, almost "
                       f"all of it the LP of the {n_lp} cases with an overload "
                       f"({1e3 * lp_ms / max(n_lp, 1):.0f} us per LP case)")}


def bench_ac(key: str, network: str, sample: int, workers: int = 2) -> None:
    """Every single line (branch) with solver ac, response optimal: FastACEvaluator in this process and on
    ``workers`` forked processes, against the simulate() loop and lightsim2grid's AC contingency analysis."""
    from gridsim.batch.cases import SimulateEvaluator
    from gridsim.batch.fast_ac import FastACEvaluator

    sc = _scenario(network).model_copy(update={"solver": "ac"})
    t0 = time.perf_counter()
    fast = FastACEvaluator(sc)
    prep = time.perf_counter() - t0
    cases = branch_cases(fast.model.base)
    print(f"\n== {key} AC: {len(cases)} single branches, solver ac, response optimal (prepared in {prep:.2f} s)")
    fresh = FastACEvaluator(sc, fast.model.base) if workers > 1 else None     # cold, for the forked run
    t0, c0 = time.perf_counter(), time.process_time()
    recs = fast.evaluate_many(cases)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    name = "fast AC, 1 process"
    rates = {name: len(cases) / wall}
    notes = {name: f"CPU {len(cases) / cpu:.0f}/s; paths {fast.paths}; {fast.newton.runs} Newton solves"}
    if workers > 1:
        got, wall_w, cpu_w, busiest = forked_run(fresh, cases, workers)
        same_w = all(a[c] == b[c] for a, b in zip(recs, got) for c in COMPARED + ("status",))
        rates[f"fast AC, {workers} processes"] = len(cases) / wall_w
        notes[f"fast AC, {workers} processes"] = (f"CPU {len(cases) / cpu_w:.0f}/s (all processes); "
                                                  f"{len(cases) / busiest:.0f}/s with a core per worker (the "
                                                  f"busiest worker's CPU time); records "
                                                  f"{'equal to' if same_w else 'DIFFERENT FROM'} 1 process")
    picked = random.Random(0).sample(range(len(cases)), min(sample, len(cases)))
    ref = SimulateEvaluator(sc, fast.model.base)
    t0 = time.perf_counter()
    ref_recs = [ref.evaluate(cases[i]) for i in picked]
    rates["simulate() loop"] = len(picked) / (time.perf_counter() - t0)
    worst = max((abs(float(a[c]) - float(recs[i][c])) for a, i in zip(ref_recs, picked) for c in COMPARED[:3]),
                default=0.0)
    same = worst <= 1e-3 and all(a["status"] == recs[i]["status"] for a, i in zip(ref_recs, picked))
    try:
        rates["lightsim2grid AC"], notes["lightsim2grid AC"] = lightsim2grid_rate(fast, sample, ac=True)
    except Exception as exc:  # noqa: BLE001 -- a missing or broken reference is reported, not fatal
        print(f"  lightsim2grid AC: not measured ({type(exc).__name__}: {exc})")
    print(f"  simulate() sample of {len(picked)}: {'same numbers' if same else 'DIFFERENT NUMBERS'} "
          f"(largest difference {worst:.2g} MW)")
    best = rates[name]
    print(f"  {'':28s}{'cases/s':>10s}{'1 proc / it':>12s}  notes")
    for label, rate in rates.items():
        print(f"  {label:28s}{rate:10.1f}{best / rate:12.1f}  {notes.get(label, '')}")


_FORKED: dict = {}


def _forked_chunk(positions):
    c0 = time.process_time()
    recs = _FORKED["evaluator"].evaluate_many([_FORKED["cases"][i] for i in positions])
    return positions, recs, os.getpid(), time.process_time() - c0


def forked_run(evaluator, cases, workers: int, chunks_per_worker: int = 8):
    """(records, wall s, CPU s of all processes, CPU s of the busiest worker): ``evaluator`` (prepared, cold)
    inherited by ``workers`` forked processes, which take interleaved chunks of the cases (the heavy cases are
    not spread evenly). Timed from the fork to the last record: what a process pool that forks after preparing
    the model gives. On a loaded machine the workers share the cores with others: the busiest worker's CPU time
    is the wall time it would take with a core each."""
    import multiprocessing
    import resource

    _FORKED.update(evaluator=evaluator, cases=cases)
    n = min(len(cases), workers * chunks_per_worker)
    parts = [list(range(i, len(cases), n)) for i in range(n)]
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0 = time.perf_counter(), time.process_time()
    pool = multiprocessing.get_context("fork").Pool(workers)
    out = pool.map(_forked_chunk, parts, chunksize=1)
    pool.close()
    pool.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime - kids.ru_utime) + (after.ru_stime - kids.ru_stime)
    recs, busy = [None] * len(cases), {}
    for positions, got, pid, used in out:
        busy[pid] = busy.get(pid, 0.0) + used
        for i, r in zip(positions, got):
            recs[i] = r
    _FORKED.clear()
    return recs, wall, cpu, max(busy.values())


def branch_cases(net):
    from gridsim.batch.cases import CaseSpec

    if "mp_branch_row" in net.line.columns:
        rows = sorted(set(net.line["mp_branch_row"].dropna().astype(int)) | set(net.trafo["mp_branch_row"].dropna().astype(int)))
        return [CaseSpec(f"branch {r}", ({"branch": r},)) for r in rows]
    return [CaseSpec(f"line {n}", ({"line": n},)) for n in net.line["name"]]


def _dispatched(fast):
    """The prepared network with the fast model's base dispatch and the largest unit as slack (pandapower and
    lightsim2grid need set-points and a slack; gridsim's nets carry neither)."""
    import pandapower as pp

    base = fast.base_state if hasattr(fast, "base_state") else fast.base      # AC or DC evaluator
    work = copy.deepcopy(fast.model.damaged)
    work.gen["p_mw"] = base.dispatch
    work.load["p_mw"] = base.served
    work.gen["slack"] = False
    work.gen.at[work.gen.index[int(np.argmax(work.gen["max_p_mw"].to_numpy()))], "slack"] = True
    pp.rundcpp(work, numba=False)
    return work


def pandapower_rate(fast, sample: int) -> tuple[float, str]:
    import pandapower as pp
    from pandapower.contingency import run_contingency

    work = _dispatched(fast)
    lines = list(random.Random(1).sample(list(work.line.index), min(2 * sample, len(work.line))))
    t0 = time.perf_counter()
    run_contingency(work, {"line": {"index": lines}}, contingency_evaluation_function=pp.rundcpp,
                    pf_options={"numba": False}, pf_options_nminus1={"numba": False})
    return len(lines) / (time.perf_counter() - t0), f"sample of {len(lines)} lines; flows only"


def lightsim2grid_rate(fast, sample: int, ac: bool = False) -> tuple[float, str]:
    if importlib.util.find_spec("lightsim2grid") is None:
        raise RuntimeError("lightsim2grid not installed (pip install gridsim[fast])")
    from lightsim2grid.contingencyAnalysis import AlgorithmType, ContingencyAnalysisCPP
    from lightsim2grid.network import init_from_pandapower

    work = _dispatched(fast)
    model = init_from_pandapower(work, pp_orig_file="pandapower_v3")
    ca = ContingencyAnalysisCPP(model)
    klu, lu = (AlgorithmType.NR_KLU, AlgorithmType.NR_SparseLU) if ac else (AlgorithmType.DC_KLU,
                                                                           AlgorithmType.DC_SparseLU)
    ca.change_algorithm(klu if klu in ca.available_default_algorithms() else lu)
    ca.add_all_n1()
    v0 = model.ac_pf(np.ones(model.total_bus(), dtype=complex), 10, 1e-8) if ac else \
        np.ones(len(work.bus), dtype=complex)
    times = []
    for _ in range(3):      # best of 3, as the fast screen is timed
        t0 = time.perf_counter()
        ca.compute(v0, 10, 1e-8)
        ca.compute_flows()
        times.append(time.perf_counter() - t0)
    dt = min(times)
    conv = np.asarray(ca.converged_mask() if callable(ca.converged_mask) else ca.converged_mask, dtype=bool)
    return len(conv) / dt, f"{int((~conv).sum())} of {len(conv)} skipped (grid split); flows only; best of 3"


def memory_run(network: str) -> None:
    out = subprocess.run([sys.executable, __file__, "--memory-child", network], capture_output=True, text=True)
    print("\n== memory, case2000 N-1 in a fresh process")
    print("  " + (out.stdout.strip() or out.stderr.strip()[-500:]).replace("\n", "\n  "))


def _memory_child(network: str) -> int:
    import resource
    import tracemalloc

    from gridsim.batch.fast import FastDCEvaluator

    _quiet()
    tracemalloc.start()
    fast = FastDCEvaluator(_scenario(network))
    cases = branch_cases(fast.model.base)
    after_prep = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    fast.evaluate_many(cases)
    run_peak = tracemalloc.get_traced_memory()[1]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{len(cases)} cases: peak RSS {rss:.0f} MiB (whole process, imports included); tracemalloc peak "
          f"{after_prep / 2**20:.0f} MiB preparing, {run_peak / 2**20:.0f} MiB running the cases "
          f"(target: under 2 GiB)")
    return 0


def _scenario(network: str):
    from gridsim.scenario import Scenario

    return Scenario.model_validate({"name": "bench", "network": network, "solver": "dc", "response": "optimal",
                                    "outages": []})


def _network(key: str) -> str:
    path = NETWORKS[key]
    if key == "case2000" and not Path(path).exists() and SHARED_CASE2000.exists():
        return str(SHARED_CASE2000)
    return path


def _quiet() -> None:
    warnings.simplefilter("ignore")
    for name in ("pandapower", "lightsim2grid", "numba"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


if __name__ == "__main__":
    sys.exit(main())

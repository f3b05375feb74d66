"""Time the optimal load-shedding LP stage (DC model build + HiGHS solve) against named references.

    python bench/bench_lp.py [--repeat 5] [--outages 5]

On PGLib case2000 (bench/data/pglib_opf_case2000_goc.m, branch limits = rateA as the importer sets them) it
times gridsim's LP with no outage and with the most loaded branches removed (those whose loss keeps the
grid in one piece), best of --repeat runs, and as references the same problem through

- pandapower's own DC OPF (``pp.rundcopp``, loads controllable at a negative cost): its time and whether it
  solved. It has no impedance limits, so its optimum is compared with ours at ``rating="nominal"``, which
  leaves impedances unlimited too;
- PyPSA's linear OPF with HiGHS, where PyPSA is installed (a message otherwise): every branch a line with
  the same series reactance and limit, a shedding generator of marginal cost 1 at each load.

Ratios are ours / reference (below 1: ours is faster). It also times the LP on the built-in ``dnipro-like``
grid when that builds. Targets: under 0.5 s on case2000, under 0.1 s on dnipro-like. Never a CI gate.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import copy
import importlib.util
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CASE2000 = ROOT / "bench" / "data" / "pglib_opf_case2000_goc.m"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--outages", type=int, default=5, help="branches removed in the outage case")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    for name in ("pandapower", "pypsa", "linopy"):
        logging.getLogger(name).setLevel(logging.ERROR)

    from gridsim.solvers.optimal import optimal_shed

    net = load_case2000()
    print(f"case2000: {len(net.bus)} buses, {len(net.line) + len(net.trafo) + len(net.impedance)} branches, "
          f"{len(net.load)} loads, demand {net.load['p_mw'].sum():.0f} MW\n")
    loaded = most_loaded_branches(net, args.outages)
    pockets, cut = load_pocket_cuts(net, 2)
    cases = [("no outage", net),
             (f"{len(loaded)} most loaded branches out ({_names(loaded)}): units redispatch", _without(net, loaded)),
             (f"load pockets at buses {pockets} cut to their weakest branch ({_names(cut)}): limits force shedding",
              _without(net, cut))]

    header = f"{'case2000':58s}{'shed MW':>10s}{'time':>10s}{'ours/ref':>10s}  status"
    for label, case in cases:
        print(label)
        print(header)
        ours_t, ours = best_of(lambda: optimal_shed(case), args.repeat)
        row("gridsim LP (rate_a; build + solve)", ours.total_shed_mw, ours_t, None, ours.status)
        print(f"{'':58s}  build {ours.build_time_s * 1000:.0f} ms, HiGHS {ours.solve_time_s * 1000:.0f} ms")
        nom_t, nom = best_of(lambda: optimal_shed(case, rating="nominal"), args.repeat)
        row("gridsim LP (nominal: impedances unlimited)", nom.total_shed_mw, nom_t, None, nom.status)
        pp_t, pp_shed, pp_status = pandapower_dcopp(case)
        row("pandapower rundcopp (PIPS), same problem as 'nominal'", pp_shed, pp_t, nom_t / pp_t, pp_status)
        if importlib.util.find_spec("pypsa") is None:
            print(f"{'PyPSA + HiGHS':58s}  skipped: PyPSA is not installed (pip install pypsa highspy)")
        else:
            ps_t, ps_solve, ps_shed, ps_status = pypsa_highs(case)
            row("PyPSA linear OPF + HiGHS, same problem as 'rate_a'", ps_shed, ps_t, ours_t / ps_t, ps_status)
            print(f"{'':58s}  of which n.optimize {ps_solve * 1000:.0f} ms")
        print()
    print("target: gridsim LP under 0.5 s on case2000 (a plain HiGHS formulation takes ~0.25 s)\n")

    bench_dnipro(args.repeat)
    return 0


def row(label, shed, t, ratio, status) -> None:
    shed_s = "-" if shed is None or np.isnan(shed) else f"{shed:.1f}"
    ratio_s = "" if ratio is None else f"{ratio:.2g}x"
    print(f"{label:58s}{shed_s:>10s}{t * 1000:8.0f}ms{ratio_s:>10s}  {status}")


def best_of(fn, repeat: int):
    """(best time, output of the best run)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        t = time.perf_counter() - t0
        if t < best:
            best, out = t, result
    return best, out


def load_case2000():
    """case2000 through pandapower's MATPOWER reader, with ``rate_a_mva`` from rateA on every branch table
    (what gridsim's importer does; impedances get their limit only this way)."""
    from matpowercaseframes import CaseFrames
    from pandapower.converter.matpower import from_mpc

    net = from_mpc(str(CASE2000), f_hz=50)
    rate = CaseFrames(str(CASE2000)).branch["RATE_A"].to_numpy()
    lookup = net._from_ppc_lookups["branch"]
    for kind in ("line", "trafo", "impedance"):
        rows = (lookup["element_type"] == kind).to_numpy()
        net[kind]["rate_a_mva"] = pd.Series(rate[rows], index=lookup["element"][rows].astype(int).to_numpy())
    return net


def most_loaded_branches(net, k: int) -> list[tuple[str, int]]:
    """The k branches most loaded (|flow| / limit) in the no-outage LP whose removal, one after the other,
    keeps the grid connected."""
    from scipy.sparse.csgraph import connected_components

    from gridsim.solvers.dcmodel import build_dc_model
    from gridsim.solvers.optimal import optimal_shed

    model = build_dc_model(net)
    result = optimal_shed(net, model=model)
    loading = (result.flow_mw.abs().to_numpy() / model.rating_mw)
    order = np.argsort(-loading, kind="stable")
    n = model.n_bus
    active = np.ones(model.n_branch, dtype=bool)
    base = connected_components(_graph(model, active, n), directed=False)[0]
    chosen = []
    for pos in order:
        active[pos] = False
        if connected_components(_graph(model, active, n), directed=False)[0] == base:
            chosen.append((str(model.branch_kind[pos]), int(model.branch_index[pos])))
            if len(chosen) == k:
                break
        else:
            active[pos] = True
    return chosen


def load_pocket_cuts(net, k: int) -> tuple[list[int], list[tuple[str, int]]]:
    """Pick the k load buses without local generation whose demand exceeds the limit of their weakest branch,
    fewest branches first, and list all their other branches: cutting those forces shedding."""
    from gridsim.solvers.dcmodel import build_dc_model

    model = build_dc_model(net)
    demand = np.bincount(model.load_bus, weights=model.load_p_mw, minlength=model.n_bus)
    has_gen = np.bincount(model.gen_bus, minlength=model.n_bus) > 0
    candidates = []
    for bus in np.flatnonzero((demand > 0) & ~has_gen):
        incident = np.flatnonzero((model.from_bus == bus) | (model.to_bus == bus))
        weakest = incident[np.argmin(model.rating_mw[incident])]
        if len(incident) >= 2 and demand[bus] > model.rating_mw[weakest]:
            candidates.append((len(incident), -(demand[bus] - model.rating_mw[weakest]), bus, incident, weakest))
    candidates.sort(key=lambda c: c[:3])
    pockets, cut = [], []
    for _, _, bus, incident, weakest in candidates[:k]:
        pp_bus = int(np.flatnonzero(model.bus_lookup == bus)[0])
        pockets.append(pp_bus)
        cut += [(str(model.branch_kind[i]), int(model.branch_index[i])) for i in incident if i != weakest]
    return pockets, cut


def _without(net, branches):
    damaged = copy.deepcopy(net)
    for kind, idx in branches:
        damaged[kind].at[idx, "in_service"] = False
    return damaged


def _names(branches) -> str:
    return ", ".join(f"{k} {i}" for k, i in branches)


def _graph(model, active, n):
    import scipy.sparse as sp

    f, t = model.from_bus[active], model.to_bus[active]
    return sp.csr_matrix((np.ones(len(f)), (f, t)), shape=(n, n))


def pandapower_dcopp(net) -> tuple[float, float, str]:
    """The shedding problem as pandapower's DC OPF: loads controllable in [0, p_mw] at -1 per MW served,
    units in [0, max_p_mw] at no cost. Returns (time, shed MW or NaN, status)."""
    import pandapower as pp

    work = copy.deepcopy(net)
    demand = work.load["p_mw"].to_numpy().copy()
    work.load["controllable"] = True
    work.load["min_p_mw"] = 0.0
    work.load["max_p_mw"] = demand
    for kind in ("gen", "sgen", "ext_grid"):
        if len(work[kind]):
            work[kind]["min_p_mw"] = 0.0
            if kind != "ext_grid":
                work[kind]["controllable"] = True
    work.poly_cost = work.poly_cost.iloc[0:0]
    work.pwl_cost = work.pwl_cost.iloc[0:0]
    pp.create_poly_costs(work, work.load.index, "load", cp1_eur_per_mw=-1.0)
    t0 = time.perf_counter()
    try:
        pp.rundcopp(work)
    except Exception as err:  # OPFNotConverged when limits force shedding
        return time.perf_counter() - t0, np.nan, f"failed: {type(err).__name__}"
    t = time.perf_counter() - t0
    return t, float(demand.sum() - work.res_load["p_mw"].sum()), "solved"


def pypsa_highs(net) -> tuple[float, float, float, str]:
    """The same LP (rate_a limits) through PyPSA + HiGHS, timed from network build to solution.
    Returns (total time, time in n.optimize, shed MW or NaN, status)."""
    import pypsa

    from gridsim.solvers.dcmodel import build_dc_model

    t0 = time.perf_counter()
    model = build_dc_model(net)
    n = pypsa.Network()
    buses = np.unique(np.concatenate([model.from_bus, model.to_bus, model.gen_bus, model.load_bus]))
    names = pd.Index([f"b{b}" for b in buses])
    n.add("Bus", names, v_nom=1.0)  # x in "ohm" at 1 kV == x per unit on a 1 MVA base
    cap = np.where(np.isfinite(model.rating_mw), model.rating_mw, 1e6)
    n.add("Line", [f"l{i}" for i in range(model.n_branch)], bus0=[f"b{b}" for b in model.from_bus],
          bus1=[f"b{b}" for b in model.to_bus], x=1.0 / (model.base_mva * model.b_pu), r=0.0, s_nom=cap)
    n.add("Generator", [f"g{i}" for i in range(len(model.gen_bus))], bus=[f"b{b}" for b in model.gen_bus],
          p_nom=np.minimum(model.gen_max_p_mw, 1e6), marginal_cost=0.0)
    n.add("Load", [f"d{i}" for i in range(len(model.load_bus))], bus=[f"b{b}" for b in model.load_bus],
          p_set=model.load_p_mw)
    n.add("Generator", [f"shed{i}" for i in range(len(model.load_bus))], bus=[f"b{b}" for b in model.load_bus],
          p_nom=model.load_p_mw, marginal_cost=1.0)
    t1 = time.perf_counter()
    status, condition = n.optimize(solver_name="highs", solver_options={"output_flag": False})
    t = time.perf_counter() - t0
    solve = time.perf_counter() - t1
    if status != "ok":
        return t, solve, np.nan, f"{status}: {condition}"
    shed = n.generators_t.p.filter(like="shed").iloc[0].sum()
    return t, solve, float(shed), "solved"


def bench_dnipro(repeat: int) -> None:
    try:
        from gridsim.networks import build_network

        net = build_network("dnipro-like")
    except Exception as err:  # another module may not exist yet
        print(f"dnipro-like: skipped ({type(err).__name__}: {err})")
        return
    from gridsim.solvers.optimal import optimal_shed

    t, result = best_of(lambda: optimal_shed(net), repeat)
    print(f"dnipro-like: {len(net.bus)} buses; gridsim LP {t * 1000:.0f} ms (build {result.build_time_s * 1000:.0f}"
          f" ms, HiGHS {result.solve_time_s * 1000:.0f} ms), shed {result.total_shed_mw:.1f} MW, {result.status}"
          f"  (target < 100 ms)")


if __name__ == "__main__":
    sys.exit(main())

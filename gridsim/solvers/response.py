"""How the system responds to overloads after the damage (scenario ``response``).

- ``none``: flows fall where they fall; overloads are only reported.
- ``optimal``: per island with an overload, the DC minimum-load-shed LP (``optimal.optimal_shed``) picks the
  dispatch and the least (priority-weighted) shed that keeps every branch within its rating; the AC power
  flow then checks that point. Branches still above their rating in AC get their LP limit tightened (by
  the AC/DC loading ratio) and the LP runs again; islands whose AC flow does not converge or leaves
  voltages outside limits shed further in steps. Shedding beyond isolation and deficit is cause ``network``.
- ``cascade``: no operator action; see ``gridsim.solvers.cascade``.

Every response returns an ``Outcome`` that ``assemble`` turns into a Result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.balance import Balance, shed_to
from gridsim.solvers.dcmodel import build_dc_model
from gridsim.solvers.optimal import optimal_shed
from gridsim.solvers.powerflow import Flow
from gridsim.solvers.ratings import Ratings
from gridsim.topology import Islands

#: LP weights per priority class: critical loads are shed last
PRIORITY_WEIGHTS = {1: 100.0, 2: 10.0, 3: 1.0}
#: AC check: voltage band (p.u.) an energised island must respect after the optimal response
VM_MIN_PU, VM_MAX_PU = 0.90, 1.10
#: AC check: further shedding per round (a fraction of the island's served demand where the AC flow did not
#: converge; of the served demand at undervoltage buses where it did), and the number of rounds
AC_STEP_FRACTION = 0.05
UV_STEP_FRACTION = 0.20
AC_ROUNDS = 8


@dataclass
class Outcome:
    net: object                 # the damaged network after the response (cascades trip branches in it)
    islands: Islands
    bal: Balance
    flow: Flow
    ratings: Ratings
    extra_unserved: dict[str, pd.Series] = field(default_factory=dict)   # cause -> MW per load
    tripped: set = field(default_factory=set)                             # {(table, index)}
    cascade_steps: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def respond_none(net, islands, bal, scenario, solve) -> Outcome:
    flow, bal = solve(net, islands, bal, scenario.shedding)
    return Outcome(net, islands, bal, flow, _ratings(net, scenario))


def _ratings(net, scenario) -> Ratings:
    return Ratings.of(net, getattr(scenario, "rating", "rate_a"), getattr(scenario, "emergency_factor", 1.0))


def _weights(net, shedding: str):
    return PRIORITY_WEIGHTS if shedding == "priority" else None


def respond_optimal(net, islands, bal, scenario, solve) -> Outcome:
    ratings = _ratings(net, scenario)
    flow, bal = solve(net, islands, bal, scenario.shedding, rebalance=False)
    network = pd.Series(0.0, index=net.load.index)
    over = _islands_overloaded(net, islands, ratings, flow)
    if not over and not _ac_trouble(islands, flow):
        return Outcome(net, islands, bal, flow, ratings, {"network": network})
    model = build_dc_model(net, rating=ratings.rating, emergency_factor=ratings.emergency_factor)
    notes: list[str] = []
    allowance = dict(bal.loss_allowance)
    tighten = np.ones(len(model.rating_mw))
    for round_ in range(AC_ROUNDS):
        lp_model = dataclasses.replace(model, rating_mw=model.rating_mw * tighten)
        for isl in over:
            bal, network = _lp_island(net, isl, bal, network, lp_model, scenario.shedding,
                                      allowance.get(isl.id, 0.0), notes)
        flow, bal = solve(net, islands, bal, scenario.shedding, rebalance=False)
        over = _islands_overloaded(net, islands, ratings, flow)
        trouble = _ac_trouble(islands, flow)
        slack_short = _slack_over(net, islands, flow)
        if not over and not trouble and not slack_short:
            break
        # AC loads branches more than DC: tighten the LP limit of each branch still overloaded
        for table, idx, loading in ratings.overloaded(flow):
            pos = (model.branch_kind == table) & (model.branch_index == idx)
            tighten[pos] *= 0.99 * 100.0 / loading
        for isl_id, short in slack_short.items():
            isl = islands.islands[isl_id]
            served = float(bal.served_mw.loc[isl.loads].sum())
            allowance[isl_id] = allowance.get(isl_id, 0.0) + short / max(served, 1e-9) + 0.002
            if isl_id not in {i.id for i in over}:
                over.append(isl)
        for isl in trouble:
            vm = flow.vm_pu.loc[isl.buses]
            notes.append(f"island {isl.id}: AC check failed (status {flow.status[isl.id]}, lowest voltage "
                         f"{vm.min():.3f} p.u. at {int((vm < VM_MIN_PU).sum())} buses); shed more "
                         f"{'at the low-voltage buses' if flow.status[isl.id] == 'converged' else 'island-wide'}")
            bal, network = _shed_step(net, isl, bal, network, scenario.shedding, flow)
    else:
        notes.append(f"AC check still unsatisfied after {AC_ROUNDS} rounds")
    return Outcome(net, islands, bal, flow, ratings, {"network": network}, notes=notes)


def _islands_overloaded(net, islands: Islands, ratings: Ratings, flow: Flow) -> list:
    over = ratings.overloaded(flow)
    if not over:
        return []
    buses = set()
    for table, idx, _ in over:
        buses.add(int(net[table].at[idx, "from_bus" if table == "line" else "hv_bus"]))
    return [i for i in islands.energised if buses.intersection(i.buses.tolist())]


def _ac_trouble(islands: Islands, flow: Flow) -> list:
    """Energised islands whose AC check failed: not converged, or a bus below VM_MIN_PU (undervoltage is
    what shedding relieves; overvoltage is left to reactive control and only reported)."""
    bad = []
    for isl in islands.energised:
        vm = flow.vm_pu.loc[isl.buses]
        if flow.status[isl.id] != "converged" or (vm < VM_MIN_PU).any():
            bad.append(isl)
    return bad


def _slack_over(net, islands: Islands, flow: Flow) -> dict[int, float]:
    out = {}
    for isl in islands.energised:
        short = float(flow.gen_p_mw.at[isl.slack]) - float(net.gen.at[isl.slack, "max_p_mw"])
        if short > 1.0:
            out[isl.id] = short
    return out


def _lp_island(net, isl, bal: Balance, network: pd.Series, model, shedding: str, allowance: float,
               notes: list[str]):
    """Re-dispatch and shed one island by the LP; split its shed into deficit and network parts."""
    cap = net.gen.loc[isl.gens, "max_p_mw"].astype(float) / (1.0 + allowance)
    demand = bal.demand_mw.loc[isl.loads]
    lp = optimal_shed(net, isl.buses, demand_mw=demand, capacity_mw=cap, weights=_weights(net, shedding),
                      rating=model.rating, emergency_factor=model.emergency_factor, model=model)
    if not lp.ok:
        notes.append(f"island {isl.id}: optimal shedding LP {lp.status} ({lp.message}); kept the balance")
        return bal, network
    shed = lp.shed_mw.reindex(isl.loads).fillna(0.0)
    total = float(shed.sum())
    deficit_total = max(0.0, float(demand.sum()) - float(cap.sum()))
    net_share = 0.0 if total <= 1e-9 else max(0.0, total - deficit_total) / total
    served, deficit, gen_p = bal.served_mw.copy(), bal.deficit_mw.copy(), bal.gen_p_mw.copy()
    served.loc[isl.loads] = demand - shed
    deficit.loc[isl.loads] = shed * (1.0 - net_share)
    network = network.copy()
    network.loc[isl.loads] = shed * net_share
    dispatch = lp.dispatch_mw
    gen_keys = [("gen", int(g)) for g in isl.gens]
    gen_p.loc[isl.gens] = dispatch.reindex(gen_keys).fillna(0.0).to_numpy() * (1.0 + allowance)
    return dataclasses.replace(bal, served_mw=served, deficit_mw=deficit, gen_p_mw=gen_p), network


def _shed_step(net, isl, bal: Balance, network: pd.Series, shedding: str, flow: Flow):
    """Shed further demand (cause network) where the AC check failed: where the flow converged, only the
    loads at buses below VM_MIN_PU lose UV_STEP_FRACTION of what they are served (undervoltage load
    shedding is local); where it did not converge, every load of the island loses AC_STEP_FRACTION."""
    loads = isl.loads
    served_now = bal.served_mw.loc[loads]
    if flow.status[isl.id] == "converged":
        vm = flow.vm_pu.reindex(net.load.loc[loads, "bus"]).to_numpy()
        low = vm < VM_MIN_PU
        new = served_now.to_numpy() * np.where(low, 1.0 - UV_STEP_FRACTION, 1.0)
    else:
        prio = net.load.loc[loads, "priority"].fillna(2).astype(int).to_numpy() \
            if "priority" in net.load.columns else np.full(len(loads), 2)
        target = float(served_now.sum()) * (1.0 - AC_STEP_FRACTION)
        method = "priority" if shedding == "priority" else "proportional"
        new = shed_to(served_now.to_numpy(), prio, target, method)
    served = bal.served_mw.copy()
    served.loc[loads] = new
    network = network.copy()
    network.loc[loads] += served_now.to_numpy() - new
    gen_p = bal.gen_p_mw.copy()
    total_before = float(served_now.sum())
    if total_before > 0:
        gen_p.loc[isl.gens] *= float(new.sum()) / total_before
    return dataclasses.replace(bal, served_mw=served, gen_p_mw=gen_p), network

"""How the system responds to overloads after the damage (scenario ``response``).

- ``none``: flows fall where they fall; overloads are only reported.
- ``optimal``: rounds of diagnose (``limits.diagnose``), act, re-solve. Per island: an overload (or a unit
  pushed past its capacity by the losses) runs the DC minimum-load-shed LP (``optimal.optimal_shed``: least
  priority-weighted shed first, merit-order cost second) with every branch within its rating; branches
  still overloaded in AC get their LP limit tightened by the AC/DC ratio next round. An island whose AC
  flow does not converge or leaves buses below the band sheds *locally*, where its supply path is weak
  (``voltage.relieve_voltage``); over-voltage and charging-current overloads get reactive measures
  (``reactive.reactive_measures``). The reported state is always the last solved one; what it still
  violates is named (status ``violated``). Shedding beyond isolation and deficit is cause ``network``.
- ``cascade``: no operator action; see ``gridsim.solvers.cascade``.

Every response returns an ``Outcome`` that ``assemble`` turns into a Result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.balance import Balance, _priority
from gridsim.dispatch import unit_cost
from gridsim.solvers.dcmodel import build_dc_model
from gridsim.solvers.limits import describe, diagnose, record_violations
from gridsim.solvers.optimal import optimal_shed
from gridsim.solvers.powerflow import Flow, fallback_dc
from gridsim.solvers.ratings import Ratings
from gridsim.solvers.reactive import reactive_measures
from gridsim.solvers.voltage import IslandAC, relieve_voltage
from gridsim.topology import Islands

#: LP weights per priority class: critical loads are shed last
PRIORITY_WEIGHTS = {1: 100.0, 2: 10.0, 3: 1.0}
#: rounds of (act, re-solve) the optimal response may take before it reports what is still violated
AC_ROUNDS = 8
#: voltage relief runs per island (a later LP re-dispatch can disturb what the first one fixed)
VOLTAGE_TRIES = 2


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
    switched: set = field(default_factory=set)                            # {(table, index)} opened by operators


def respond_none(net, islands, bal, scenario, solve) -> Outcome:
    """No operator action: the solved state as it is. What it violates (overloads, voltages out of band) is
    named in each island's message; the status stays the power flow's (``converged``: it solved)."""
    flow, bal = solve(net, islands, bal, scenario.shedding)
    ratings = _ratings(net, scenario)
    for isl_id, p in diagnose(net, islands, flow, ratings, bal).items():
        if p.diverged:
            continue            # the message already says why AC did not run
        text = "violates, no action taken (response none): " + describe(net, p)
        flow.messages[isl_id] = f"{flow.messages[isl_id]}; {text}" if flow.messages.get(isl_id) else text
    return Outcome(net, islands, bal, flow, ratings)


def _ratings(net, scenario) -> Ratings:
    return Ratings.of(net, getattr(scenario, "rating", "rate_a"), getattr(scenario, "emergency_factor", 1.0))


def _weights(net, shedding: str):
    return PRIORITY_WEIGHTS if shedding == "priority" else None


def respond_optimal(net, islands, bal, scenario, solve) -> Outcome:
    """Act on what the solved state violates, re-solve, and repeat (at most ``AC_ROUNDS`` rounds); the state
    reported is always the last solved one, and what it still violates is named in its status and notes."""
    ratings = _ratings(net, scenario)
    flow, bal = solve(net, islands, bal, scenario.shedding, rebalance=False)
    st = _State(bal, pd.Series(0.0, index=net.load.index), bal.demand_mw.copy(), dict(bal.loss_allowance))
    notes: list[str] = []
    switched: set = set()
    model, tighten = None, None
    for round_ in range(AC_ROUNDS + 1):
        problems = diagnose(net, islands, flow, ratings, st.bal)
        if not problems or round_ == AC_ROUNDS:
            break
        lp_islands = []
        for isl in islands.energised:
            p = problems.get(isl.id)
            if p is None:
                continue
            acted = False
            if p.voltage_high or p.charging or p.voltage_low:     # reactive measures before any shedding
                opened, dead, acted = reactive_measures(net, islands, isl, flow, p, notes, st.bal)
                switched |= opened
                if len(dead):
                    islands = islands.without_buses(dead)
                    isl = islands.islands[isl.id]
                p.overloads += [c for c in p.charging if ("line", c[1]) not in opened]
            if (p.voltage_low or p.diverged) and not acted and st.tried_voltage.count(isl.id) < VOLTAGE_TRIES:
                st.tried_voltage.append(isl.id)
                _relieve_voltage(net, islands, isl, st, scenario.shedding, notes)
            if p.slack_short_mw > 0:
                served = float(st.bal.served_mw.loc[isl.loads].sum())
                st.allowance[isl.id] = st.allowance.get(isl.id, 0.0) + p.slack_short_mw / max(served, 1e-9) + 0.002
            if p.overloads or p.slack_short_mw > 0:
                lp_islands.append(isl)
        if lp_islands:
            if model is None:
                model = build_dc_model(net, rating=ratings.rating, emergency_factor=ratings.emergency_factor)
                tighten = np.ones(len(model.rating_mw))
            # AC loads branches more than DC: tighten the LP limit of each branch still overloaded in AC
            for table, idx, loading in (ratings.overloaded(flow) if round_ > 0 and flow.ac else []):
                pos = (model.branch_kind == table) & (model.branch_index == idx)
                tighten[pos] *= 0.99 * 100.0 / loading
            lp_model = dataclasses.replace(model, rating_mw=model.rating_mw * tighten)
            for isl in lp_islands:
                _lp_island(net, isl, st, lp_model, scenario.shedding, notes)
        flow, bal_new = solve(net, islands, st.bal, scenario.shedding, rebalance=False)
        st.bal = bal_new
    flow = _capacity_guard(net, islands, flow, st, ratings, scenario.shedding, solve, notes)
    record_violations(net, islands, flow, diagnose(net, islands, flow, ratings, st.bal), notes)
    bal = dataclasses.replace(st.bal, loss_allowance=st.allowance)
    return Outcome(net, islands, bal, flow, ratings, {"network": st.network}, notes=notes, switched=switched)


def _capacity_guard(net, islands, flow, st, ratings, shedding: str, solve, notes: list[str]):
    """Last resort for an island whose losses still push a unit past its capacity after the rounds: shed
    the excess (with a margin) in proportion across the island and solve again, so that no unit is ever
    reported above its available capacity. An island whose losses exceed its capacity even with all its load
    shed has no AC operating point: it gets its DC answer (``_guard_fallback``), and its status
    (``fallback-dc``) and message say so."""
    for round_ in range(5):
        short = {i: p.slack_short_mw for i, p in diagnose(net, islands, flow, ratings, st.bal).items()
                 if p.slack_short_mw > 0}
        if not short:
            return flow
        if round_ == 4:
            return _guard_fallback(net, islands, flow, st, ratings, shedding, list(short), notes)
        for isl_id, mw in short.items():
            isl = islands.islands[isl_id]
            served = st.bal.served_mw.loc[isl.loads].to_numpy(dtype=float)
            cut = min(float(served.sum()), 1.05 * mw + 0.1)
            new = served * (1.0 - cut / max(float(served.sum()), 1e-9))
            gen = st.bal.gen_p_mw.loc[isl.gens].to_numpy(dtype=float)
            cap = net.gen.loc[isl.gens, "max_p_mw"].to_numpy(dtype=float)
            gen = np.minimum(gen, cap) * (float(new.sum()) / max(float(served.sum()), 1e-9))
            _attribute(net, isl, st, new, gen)
            notes.append(f"island {isl_id}: a unit ran {mw:.1f} MW above its capacity to cover the losses; shed "
                         f"{cut:.1f} MW across the island")
        flow, st.bal = solve(net, islands, st.bal, shedding, rebalance=False)
    return flow


def _guard_fallback(net, islands, flow, st, ratings, shedding: str, ids: list[int], notes: list[str]):
    """Islands with no AC operating point within their capacity: their DC answer, as ``solver: dc`` gives it
    (no loss allowance, no AC voltage limits; the DC shedding LP within the ratings), then their DC flows."""
    model = build_dc_model(net, rating=ratings.rating, emergency_factor=ratings.emergency_factor)
    short = [islands.islands[i] for i in ids]
    st.limit = st.limit.copy()
    for isl in short:
        st.allowance[isl.id] = 0.0
        st.limit.loc[isl.loads] = st.bal.demand_mw.loc[isl.loads]
        _lp_island(net, isl, st, model, shedding, notes)
    flow = fallback_dc(net, islands, st.bal, flow, short)
    for i in ids:
        notes.append(f"island {i}: {flow.messages.get(i, '')}; its DC answer is reported")
    return flow


@dataclass
class _State:
    """What the response has decided so far: the balance, the network-caused shed per load, the most each
    load may be served (lowered by voltage shedding, so a later LP does not undo it), loss allowances."""

    bal: Balance
    network: pd.Series
    limit: pd.Series
    allowance: dict
    tried_voltage: list = field(default_factory=list)   # island ids, once per voltage relief run


def _attribute(net, isl, st: _State, served: np.ndarray, gen_p: np.ndarray | None) -> None:
    """Set the island's served demand and split what it does not serve into deficit (what its capacity,
    less losses, cannot cover) and network (the rest)."""
    demand = st.bal.demand_mw.loc[isl.loads].to_numpy(dtype=float)
    unserved = np.clip(demand - served, 0.0, None)
    total = float(unserved.sum())
    cap = float(net.gen.loc[isl.gens, "max_p_mw"].sum()) / (1.0 + st.allowance.get(isl.id, 0.0))
    short = max(0.0, float(demand.sum()) - cap)
    share = 0.0 if total <= 1e-9 else min(1.0, short / total)
    bal = st.bal
    served_s, deficit, gen = bal.served_mw.copy(), bal.deficit_mw.copy(), bal.gen_p_mw.copy()
    served_s.loc[isl.loads] = demand - unserved
    deficit.loc[isl.loads] = unserved * share
    st.network = st.network.copy()
    st.network.loc[isl.loads] = unserved * (1.0 - share)
    if gen_p is not None:
        gen.loc[isl.gens] = gen_p
    st.bal = dataclasses.replace(bal, served_mw=served_s, deficit_mw=deficit, gen_p_mw=gen)


def _relieve_voltage(net, islands, isl, st: _State, shedding: str, notes: list[str]) -> None:
    ac = IslandAC(net, islands, st.bal, isl, st.allowance.get(isl.id, 0.0))
    served = st.bal.served_mw.loc[isl.loads].to_numpy(dtype=float)
    prio = _priority(net).loc[isl.loads].to_numpy()
    method = "priority" if shedding == "priority" else "proportional"
    new, state, note = relieve_voltage(ac, served, prio, method)
    notes.append(f"island {isl.id}: {note} ({ac.runs} AC runs)")
    if state is None:
        return
    _attribute(net, isl, st, new, ac.dispatch(new))
    st.limit = st.limit.copy()
    st.limit.loc[isl.loads] = np.minimum(st.limit.loc[isl.loads].to_numpy(), new)


def _lp_island(net, isl, st: _State, model, shedding: str, notes: list[str]) -> None:
    """Re-dispatch and shed one island by the DC LP (demand capped by what voltage shedding left)."""
    allowance = st.allowance.get(isl.id, 0.0)
    cap = net.gen.loc[isl.gens, "max_p_mw"].astype(float) / (1.0 + allowance)
    lp = optimal_shed(net, isl.buses, demand_mw=st.limit.loc[isl.loads], capacity_mw=cap,
                      weights=_weights(net, shedding), rating=model.rating,
                      emergency_factor=model.emergency_factor, model=model, cost=unit_cost(net))
    if not lp.ok:
        notes.append(f"island {isl.id}: optimal shedding LP {lp.status} ({lp.message}); kept the balance")
        return
    served = (lp.demand_mw - lp.shed_mw).reindex(isl.loads).fillna(0.0).to_numpy()
    gen_keys = [("gen", int(g)) for g in isl.gens]
    gen_p = lp.dispatch_mw.reindex(gen_keys).fillna(0.0).to_numpy() * (1.0 + allowance)
    _attribute(net, isl, st, served, gen_p)

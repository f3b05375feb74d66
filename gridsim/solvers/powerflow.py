"""Power flow per island: pandapower AC with a DC fallback, non-convergence recorded as a status.

Every energised island gets its own slack (its largest available unit). All islands are solved in one
pandapower call; only when that fails is each island solved on its own, so that one troubled island falls
back to DC (or is marked ``diverged``) without taking the others with it (VeraGrid's multi-island idea).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandapower.run import rundcpp, runpp   # not pp.runpp: the command line defers pandapower's __init__

from gridsim._quiet import mute_numba_notice
from gridsim.netcopy import working_copy
from gridsim.balance import Balance, balance_island
from gridsim.topology import Islands

#: numba is never used: its compile time (2-3 s per process) would be paid by every one-shot run
NUMBA = False
#: island status values, best first
STATUSES = ("converged", "violated", "fallback-dc", "diverged", "dead")
#: slack output above its available capacity that triggers re-balancing with more loss allowance (MW)
SLACK_TOLERANCE_MW = 0.1
AC_LOSS_ALLOWANCE = 0.02
#: whether generators hold their voltage only within their reactive limits. Off (pandapower's default):
#: with limits enforced, heavily damaged grids (winter-salvo) stop converging in AC and fall back to DC,
#: which hides more than it shows. Voltages are therefore optimistic where units run out of reactive power.
ENFORCE_Q_LIMS = False


@dataclass
class Flow:
    """Power-flow outcome, by pandapower element index."""

    status: dict[int, str]                       # island id -> status
    vm_pu: pd.Series                             # per bus (NaN where not solved / dead)
    line_p_from_mw: pd.Series
    line_loading_percent: pd.Series
    trafo_p_hv_mw: pd.Series
    trafo_loading_percent: pd.Series
    gen_p_mw: pd.Series
    messages: dict[int, str] = field(default_factory=dict)   # island id -> why it fell back / what is violated
    ac: bool = False                                         # solved with the AC power flow (where converged)
    trafo3w_loading_percent: pd.Series | None = None         # per trafo3w (NaN where not solved)
    trafo3w_p_hv_mw: pd.Series | None = None
    losses_mw: dict[int, float] = field(default_factory=dict)  # island id -> branch + shunt losses (MW)


def _prepare(net, islands: Islands, bal: Balance):
    """A private copy of the damaged net with served load, dispatch and one slack per energised island."""
    work = working_copy(net)
    load = work.load
    demand = bal.demand_mw
    ratio = np.divide(bal.served_mw.to_numpy(), demand.to_numpy(), out=np.zeros(len(load)),
                      where=demand.to_numpy() > 0)
    load["p_mw"] = bal.served_mw.to_numpy()
    load["q_mvar"] = load["q_mvar"].to_numpy() * ratio
    if "scaling" in load.columns:
        load["scaling"] = 1.0
    gen = work.gen
    gen["p_mw"] = bal.gen_p_mw.to_numpy()
    gen["slack"] = False
    if "scaling" in gen.columns:
        gen["scaling"] = 1.0
    # every in-service unit of an energised island keeps its voltage control, including units with no
    # active power to give (synchronous condensers); units in dead islands are off
    energised = {i.id for i in islands.energised}
    live = (islands.bus_island.reindex(gen["bus"]).isin(energised).to_numpy()
            & gen["in_service"].astype(bool).to_numpy())
    for isl in islands.energised:
        gen.at[isl.slack, "slack"] = True
    gen["in_service"] = live
    for table in ("sgen", "ext_grid", "storage"):
        if table in work and len(work[table]):
            work[table]["in_service"] = False
    return work


mute_numba_notice()     # pandapower's rundcpp logs "numba cannot be imported" on every call otherwise


def _run(work, ac: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ac:
            runpp(work, numba=False, init="auto", max_iteration=30, calculate_voltage_angles=True,
                  enforce_q_lims=ENFORCE_Q_LIMS)
        else:
            rundcpp(work, numba=False)


def _read(work, flow: Flow, buses: np.ndarray | None) -> None:
    """Copy results of ``work`` into ``flow`` (only for ``buses`` when given)."""
    rb = work.res_bus
    sel_b = rb.index if buses is None else buses
    flow.vm_pu.loc[sel_b] = rb.loc[sel_b, "vm_pu"].to_numpy()
    for table, p_col, out_p, out_l, cols in (
            ("line", "p_from_mw", flow.line_p_from_mw, flow.line_loading_percent, ("from_bus", "to_bus")),
            ("trafo", "p_hv_mw", flow.trafo_p_hv_mw, flow.trafo_loading_percent, ("hv_bus", "lv_bus")),
            ("trafo3w", "p_hv_mw", flow.trafo3w_p_hv_mw, flow.trafo3w_loading_percent, ("hv_bus", "mv_bus"))):
        res = work[f"res_{table}"] if f"res_{table}" in work else pd.DataFrame()
        if not len(res) or out_l is None:
            continue
        idx = res.index
        if buses is not None:
            idx = work[table].index[work[table][cols[0]].isin(buses)]
        if out_p is not None:
            out_p.loc[idx] = res.loc[idx, p_col].to_numpy()
        out_l.loc[idx] = res.loc[idx, "loading_percent"].to_numpy()
    rg = work.res_gen
    idx = rg.index if buses is None else work.gen.index[work.gen["bus"].isin(buses)]
    flow.gen_p_mw.loc[idx] = rg.loc[idx, "p_mw"].to_numpy()


def losses_by_bus(work) -> pd.Series:
    """Active losses of a solved net per bus (MW): each branch's loss at its first bus, shunt P at its bus."""
    parts = []
    for table, col in (("line", "from_bus"), ("trafo", "hv_bus"), ("trafo3w", "hv_bus"),
                       ("impedance", "from_bus")):
        res = work[f"res_{table}"] if f"res_{table}" in work else pd.DataFrame()
        if len(res) and "pl_mw" in res:
            parts.append(pd.Series(res["pl_mw"].fillna(0.0).to_numpy(), index=work[table].loc[res.index, col]))
    for table in ("shunt", "ward", "xward"):
        res = work[f"res_{table}"] if f"res_{table}" in work else pd.DataFrame()
        if len(res) and "p_mw" in res:
            parts.append(pd.Series(res["p_mw"].fillna(0.0).to_numpy(), index=work[table].loc[res.index, "bus"]))
    if not parts:
        return pd.Series(dtype=float)
    return pd.concat(parts).groupby(level=0).sum()


def _read_losses(work, flow: Flow, islands: Islands, ids) -> None:
    by_bus = losses_by_bus(work)
    isl_of = islands.bus_island.reindex(by_bus.index)
    per = by_bus.groupby(isl_of.to_numpy()).sum()
    for i in ids:
        flow.losses_mw[i] = float(per.get(i, 0.0))


def _empty_flow(net, islands: Islands) -> Flow:
    nan = np.nan
    return Flow(
        status={i.id: ("dead" if not i.energised else "diverged") for i in islands},
        vm_pu=pd.Series(nan, index=net.bus.index),
        line_p_from_mw=pd.Series(nan, index=net.line.index),
        line_loading_percent=pd.Series(nan, index=net.line.index),
        trafo_p_hv_mw=pd.Series(nan, index=net.trafo.index),
        trafo_loading_percent=pd.Series(nan, index=net.trafo.index),
        gen_p_mw=pd.Series(0.0, index=net.gen.index),
        trafo3w_loading_percent=pd.Series(nan, index=net.trafo3w.index) if "trafo3w" in net
        else pd.Series(dtype=float),
        trafo3w_p_hv_mw=pd.Series(nan, index=net.trafo3w.index) if "trafo3w" in net else pd.Series(dtype=float))


def _solve(net, islands: Islands, bal: Balance, ac: bool) -> Flow:
    flow = _empty_flow(net, islands)
    if not islands.energised:
        return flow
    flow.ac = ac
    work = _prepare(net, islands, bal)
    try:
        _run(work, ac)
        _read(work, flow, None)
        _read_losses(work, flow, islands, [i.id for i in islands.energised])
        for isl in islands.energised:
            flow.status[isl.id] = "converged"
        return flow
    except Exception:      # noqa: BLE001,S110 -- solved island by island below
        pass
    modes = (True, False) if ac else (False,)
    return _island_by_island(work, islands, flow, islands.energised, modes, ac)


def _island_by_island(work, islands: Islands, flow: Flow, isls: list, modes: tuple, ac: bool,
                      why: dict | None = None) -> Flow:
    """Solve each island of ``isls`` on its own (the others switched off in the private copy ``work``), in the
    first of ``modes`` (True: AC, False: DC) that runs: status ``converged`` in the mode asked for (``ac``),
    ``fallback-dc`` in DC otherwise, ``diverged`` when none runs. The message: ``why[id]`` (when given) and the
    last solver error."""
    bus_on = work.bus["in_service"].copy()
    for isl in isls:
        work.bus["in_service"] = False
        work.bus.loc[isl.buses, "in_service"] = bus_on.loc[isl.buses]
        errors = []
        for mode in modes:
            try:
                _run(work, mode)
            except Exception as exc:   # noqa: BLE001 -- any solver failure becomes a per-island status
                errors.append(f"{'AC' if mode else 'DC'}: {type(exc).__name__}: {exc}")
                continue
            _read(work, flow, isl.buses)
            _read_losses(work, flow, islands, [isl.id])
            flow.status[isl.id] = "converged" if mode == ac else "fallback-dc"
            break
        else:
            flow.status[isl.id] = "diverged"
        text = "; ".join(t for t in ((why or {}).get(isl.id), errors[-1] if errors else None) if t)
        if text:
            flow.messages[isl.id] = text
    return flow


def solve_dc(net, islands: Islands, bal: Balance, method: str = "proportional",
             rebalance: bool = True) -> tuple[Flow, Balance]:
    """Lossless DC power flow on every energised island."""
    return _solve(net, islands, bal, ac=False), bal


def solve_ac(net, islands: Islands, bal: Balance, method: str = "proportional",
             rebalance: bool = True) -> tuple[Flow, Balance]:
    """AC power flow (DC fallback per island). With ``rebalance``, islands whose slack must exceed its
    capacity to cover the losses are re-balanced with the measured losses and solved again (at most three
    rounds); without it the caller handles that (the optimal response does)."""
    base = bal
    flow = _solve(net, islands, bal, ac=True)
    for _ in range(6 if rebalance else 0):
        redo = {}
        for isl in _slack_short(net, islands, flow):
            if not len(isl.loads):
                continue
            served = float(bal.served_mw.loc[isl.loads].sum())
            losses = float(flow.gen_p_mw.loc[isl.gens].sum()) - served
            redo[isl.id] = max(bal.loss_allowance.get(isl.id, 0.0), losses / max(served, 1e-9)) + 0.002
        if not redo:
            break
        bal = _rebalance(net, islands, bal, method, redo)
        flow = _solve(net, islands, bal, ac=True)
    if rebalance:
        short = _slack_short(net, islands, flow)
        if short:
            bal = _restore(islands, bal, base, [isl.id for isl in short])
            flow = fallback_dc(net, islands, bal, flow, short)
    return flow, bal


def _slack_short(net, islands: Islands, flow: Flow) -> list:
    """Energised islands solved in AC whose slack runs above its available capacity."""
    out = []
    for isl in islands.energised:
        if flow.status[isl.id] != "converged":
            continue
        cap = float(net.gen.at[isl.slack, "max_p_mw"])
        if flow.gen_p_mw.at[isl.slack] > cap + SLACK_TOLERANCE_MW:
            out.append(isl)
    return out


def fallback_dc(net, islands: Islands, bal: Balance, flow: Flow, short: list) -> Flow:
    """Islands with no AC operating point within their units' capacity (the losses alone exceed it, even with
    the load shed the rebalance rounds allow: long, lightly loaded lines far above their voltage band) fall
    back to the DC power flow of ``bal``, as islands whose AC power flow does not converge do; the message
    says why. The other islands keep their AC results."""
    why = {}
    for isl in short:
        cap = float(net.gen.loc[isl.gens, "max_p_mw"].sum())
        served = max(0.0, float(flow.gen_p_mw.loc[isl.gens].sum()) - flow.losses_mw.get(isl.id, 0.0))
        why[isl.id] = (f"AC: losses of {flow.losses_mw.get(isl.id, 0.0):.1f} MW at {served:.1f} MW served exceed "
                       f"the island's available capacity of {cap:.1f} MW (voltages "
                       f"{flow.vm_pu.loc[isl.buses].min():.2f}-{flow.vm_pu.loc[isl.buses].max():.2f} p.u.): no AC "
                       "operating point within its units' capacity")
    return _island_by_island(_prepare(net, islands, bal), islands, flow, short, (False,), True, why)


def _restore(islands: Islands, bal: Balance, base: Balance, ids: list[int]) -> Balance:
    """``bal`` with the islands ``ids`` as they were in ``base`` (before any loss allowance was added)."""
    served, gen_p, deficit = bal.served_mw.copy(), bal.gen_p_mw.copy(), bal.deficit_mw.copy()
    used = dict(bal.loss_allowance)
    for i in ids:
        isl = islands.islands[i]
        served.loc[isl.loads] = base.served_mw.loc[isl.loads]
        gen_p.loc[isl.gens] = base.gen_p_mw.loc[isl.gens]
        deficit.loc[isl.loads] = base.deficit_mw.loc[isl.loads]
        used[i] = base.loss_allowance.get(i, 0.0)
    return Balance(bal.demand_mw, served, bal.isolated_mw, deficit, gen_p, used)


def _rebalance(net, islands: Islands, bal: Balance, method: str, allowance: dict[int, float]) -> Balance:
    served, gen_p, deficit = bal.served_mw.copy(), bal.gen_p_mw.copy(), bal.deficit_mw.copy()
    used = dict(bal.loss_allowance)
    for isl in islands.energised:
        if isl.id not in allowance:
            continue
        s, p = balance_island(net, isl, bal.demand_mw, method, allowance[isl.id])
        served.loc[isl.loads] = s
        gen_p.loc[isl.gens] = p
        deficit.loc[isl.loads] = bal.demand_mw.loc[isl.loads].to_numpy() - s
        used[isl.id] = allowance[isl.id]
    return Balance(bal.demand_mw, served, bal.isolated_mw, deficit.clip(lower=0.0), gen_p, used)

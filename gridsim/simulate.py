"""The pipeline, and nothing else: scenario -> network -> outages -> islands -> balance -> solve -> result."""

from __future__ import annotations

import time

import pandas as pd
from collections.abc import Callable

from gridsim import assemble as asm
from gridsim.balance import balance
from gridsim.dispatch import apply_availability
from gridsim.networks import build_network
from gridsim.outages import apply_outages
from gridsim.results import CAUSES, Result
from gridsim.solvers import RESPONSES, SOLVERS
from gridsim.topology import find_islands

Progress = Callable[[str], None]


class _Stages:
    """Times the pipeline's stages and reports each start to the optional progress callback."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.current: str | None = None
        self.started = time.perf_counter()

    def __call__(self, name: str) -> None:
        self.finish()
        self.current, self.started = name, time.perf_counter()
        if self.progress is not None:
            self.progress(name)

    def finish(self) -> dict[str, float]:
        if self.current is not None:
            self.timings[self.current] = time.perf_counter() - self.started
            self.current = None
        return self.timings


def simulate(scenario, net=None, progress: Progress | None = None, detail: str = "full") -> Result:
    """Run one scenario. ``net`` (optional) is used instead of building ``scenario.network``; it is never
    modified. ``progress`` is called with the name of each stage as it starts. ``detail="regions"`` builds
    only the load and region tables and the headline summary (for the many steps of a timeline); the
    numbers are the same."""
    stage = _Stages(progress)
    stage("network")
    base = prepare_network(scenario, net)
    stage("outages")
    damaged, applied = apply_outages(base, scenario.outages, getattr(scenario, "source", None))
    stage("islands")
    islands = find_islands(damaged)
    stage("balance")
    solve, loss_allowance = SOLVERS[scenario.solver]
    bal = balance(damaged, islands, scenario.shedding, loss_allowance)
    islands = islands.with_slack(bal.slack)
    stage("solve")
    response = getattr(scenario, "response", "none")
    outcome = RESPONSES[response](damaged, islands, bal, scenario, solve)
    stage("assemble")
    result = (assemble if detail == "full" else assemble_regions)(scenario, base, applied, outcome, response)
    result.timings_s = stage.finish()
    return result


def assemble_regions(scenario, base, applied, outcome, response: str) -> Result:
    """A Result with the load and region tables and the headline summary only (other tables empty)."""
    net, islands, bal, flow = outcome.net, outcome.islands, outcome.bal, outcome.flow
    loads = asm.load_table(net, bal, islands, outcome.extra_unserved)
    regions = asm.region_table(net, loads)
    unserved = float(loads["unserved_mw"].sum())
    summary = {"scenario": scenario.name, "status": asm.overall_status(flow),
               "demand_mw": float(loads["demand_mw"].sum()), "served_mw": float(loads["served_mw"].sum()),
               "unserved_mw": unserved,
               "unserved_by_cause_mw": {c: float(loads[f"unserved_{c}_mw"].sum()) for c in CAUSES},
               "critical_unserved_mw": float(loads.loc[loads["priority"] == 1, "unserved_mw"].sum()),
               "notes": list(outcome.notes)}
    empty = pd.DataFrame()
    return Result(scenario_name=scenario.name, network_name=str(scenario.network), summary=summary, loads=loads,
                  regions=regions, islands=empty, buses=empty, branches=empty, generators=empty,
                  outages=applied.table)


def add_island_power(islands_df, gens, flow) -> None:
    """Per island: generation, losses (AC; 0 in DC) and reserve (available capacity less output), in MW."""
    on = gens[gens["island"] >= 0]
    gen = on.groupby("island")["p_mw"].sum()
    head = (on["available_mw"] - on["p_mw"]).clip(lower=0.0).groupby(on["island"]).sum()
    idx = islands_df.index
    islands_df["generation_mw"] = gen.reindex(idx, fill_value=0.0).to_numpy()
    islands_df["losses_mw"] = [float(flow.losses_mw.get(int(i), 0.0)) if int(i) >= 0 else 0.0 for i in idx]
    islands_df["reserve_mw"] = head.reindex(idx, fill_value=0.0).to_numpy()


def unmodelled_notes(net) -> list[str]:
    """Elements of the network that the simulation leaves out, with their MW, so nothing is dropped silently."""
    notes = []
    st = net["storage"] if "storage" in net else None
    if st is not None and len(st) and st["in_service"].astype(bool).any():
        on = st[st["in_service"].astype(bool)]
        mw = float(on["max_p_mw"].abs().fillna(on["p_mw"].abs()).sum()) if "max_p_mw" in on else float(on["p_mw"].abs().sum())
        notes.append(f"not modelled: {len(on)} storage unit(s), {mw:.1f} MW, left out of the power flow, the balance "
                     "and the optimal shedding")
    imp = net["impedance"] if "impedance" in net else None
    if imp is not None and len(imp) and imp["in_service"].astype(bool).any():
        notes.append(f"not modelled: ratings of {int(imp['in_service'].astype(bool).sum())} impedance branch(es) "
                     "(they carry flow, but their loading is never checked)")
    return notes


def prepare_network(scenario, net=None):
    """The undamaged network a scenario runs on: ``net`` (never modified) or the scenario's network built
    fresh, with the availability in force (the network's own table, overridden by the scenario's
    ``availability``) applied to every unit's capacity. Batch runs prepare it once and share it."""
    if net is None:
        net = build_network(scenario.network, getattr(scenario, "base_dir", None), scenario.load_level)
    return apply_availability(net, getattr(scenario, "availability", None))


def assemble(scenario, base, applied, outcome, response: str) -> Result:
    """The Result of a response's Outcome (tables named by element, summary)."""
    net, islands, bal, flow = outcome.net, outcome.islands, outcome.bal, outcome.flow
    loads = asm.load_table(net, bal, islands, outcome.extra_unserved)
    regions = asm.region_table(net, loads)
    islands_df = asm.island_table(net, islands, loads, flow)
    gens = asm.generator_table(base, net, islands, flow)
    add_island_power(islands_df, gens, flow)
    branches = asm.branch_table(base, net, flow, outcome.ratings, outcome.tripped)
    summary = asm.summary_dict(scenario, loads, regions, islands_df, branches, applied, flow, response)
    summary["notes"] = list(outcome.notes) + unmodelled_notes(net)
    if any(getattr(o, "at_h", 0) or getattr(o, "repair_h", None) for o in scenario.outages):
        summary["notes"].append("strike and repair times (at_h, repair_h) are recorded but this snapshot "
                                "treats every outage as simultaneous and unrepaired (add a timeline block to "
                                "simulate them over time)")
    steps = outcome.cascade_steps
    if steps is not None:
        summary["cascade_steps"] = steps.to_dict(orient="records")
    return Result(
        scenario_name=scenario.name, network_name=str(scenario.network), summary=summary, loads=loads,
        regions=regions, islands=islands_df, buses=asm.bus_table(net, islands, applied, flow),
        branches=branches, generators=gens,
        outages=applied.table, cascade_steps=steps if steps is not None else pd.DataFrame())

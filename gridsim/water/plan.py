"""The water plan of a timeline: each step's damaged network as a DC block, the river coupling them, one LP.

``plan_timeline(runner, states)`` builds every step's network exactly as the timeline's snapshot does
(demand of the step, units restarting out, the step's availability, the outages in force), turns it into
the optimal response's DC load-shed LP (``gridsim.solvers.optimal``), couples the steps through the river
(``gridsim.water.lp``) and solves once. The plan gives each river unit its output per step; the timeline then
runs each step's snapshot with that output as the unit's available capacity (``WaterPlan.apply``), so the
snapshot can never use more water than the plan released, and in DC the timeline's energy not served equals
the plan's.

Pumping: operators never pump while demand goes unserved; a plan that does so at some step is solved again
with pumping barred there (at most ``PUMP_ROUNDS`` times). So the snapshot of a pumping step (which does not
show the pump's load) serves everything, as the plan does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.dispatch import apply_availability, availability_of, fuel_fractions, unit_cost
from gridsim.outages import apply_outages
from gridsim.solvers.dcmodel import build_dc_model
from gridsim.solvers.optimal import COST_EPSILON
from gridsim.solvers.response import PRIORITY_WEIGHTS
from gridsim.water.blocks import NetState, StepBlock, step_block
from gridsim.water.lp import RiverInputs, solve_water_lp
from gridsim.water.river import inflow_series, river_table

#: times a plan is solved again with pumping barred where it pumped while shedding
PUMP_ROUNDS = 4
#: MW below which a step counts as fully served, and pumping as none
TOL_MW = 1e-6
HYDRO_COLUMNS = ["plant", "time_h", "p_mw", "discharge_m3s", "inflow_m3s", "spill_m3s", "storage_hm3", "pump_mw"]


@dataclass
class WaterPlan:
    """What the plan decided: per step, each river unit's output (MW) and the capacity the LP saw for it."""

    river: pd.DataFrame
    hydro: pd.DataFrame                   # HYDRO_COLUMNS, one row per plant and step
    unit_mw: list[dict[int, tuple[float, float]]]   # per step: gen index -> (planned MW, capacity in the LP)
    unserved_mw: np.ndarray               # per step, the plan's unserved demand (MW)
    step_h: float
    status: str
    summary: dict = field(default_factory=dict)

    @property
    def ens_mwh(self) -> float:
        return float(self.unserved_mw.sum() * self.step_h)

    def apply(self, net, k: int) -> None:
        """Make step ``k``'s planned output the river units' capacity in ``net`` (a step network whose ``gen``
        table is its own copy): their nameplate is scaled by planned / capacity, so the availability and
        derates the snapshot applies on top land exactly on the planned MW."""
        if not self.unit_mw or "p_nameplate_mw" not in net.gen:
            return
        for g, scale in self.scales(k).items():
            net.gen.at[g, "p_nameplate_mw"] = float(net.gen.at[g, "p_nameplate_mw"]) * scale

    def scales(self, k: int) -> dict[int, float]:
        """Per river unit (gen index) at step ``k``: planned output over the capacity the plan saw (0..1)."""
        return {g: (min(1.0, max(0.0, p / cap)) if cap > TOL_MW else 0.0) for g, (p, cap) in self.unit_mw[k].items()}

    def key(self, k: int) -> tuple:
        """What the plan sets at step ``k``, for the timeline's state cache."""
        return tuple(sorted((g, round(p, 6)) for g, (p, _) in self.unit_mw[k].items()))


def dam_status(river: pd.DataFrame, states: list, matches: list) -> np.ndarray:
    """(plants, steps): False where a ``dam:`` outage is in force."""
    pos = {p: i for i, p in enumerate(river["plant"])}
    ok = np.ones((len(river), len(states)), dtype=bool)
    for k, (active, _) in enumerate(states):
        for i, o in active:
            if o.kind != "dam":
                continue
            for m in matches[i]:
                ok[pos[m.asset], k] = False
    return ok


def plan_timeline(runner, states: list, matches: list) -> WaterPlan:
    """The water plan of one run of the timeline: ``states`` is, per step, (active outages, forced units)."""
    t0 = time.perf_counter()
    blocks, caps, inputs, scale = plan_inputs(runner, states, matches)
    build = time.perf_counter() - t0
    result, rounds = solve_barring_pumps(blocks, inputs, scale)
    return _plan_of(inputs.river, blocks, caps, inputs, result, {"lp_rounds": rounds, **result.extra, "build_s": build,
                                                          "plan_s": time.perf_counter() - t0,
                                                          "lp_solve_s": result.solve_time_s})


def plan_inputs(runner, states: list, matches: list):
    """The LP's parts for a timeline run: every step's block, the river units' capacities per step, the river
    inputs and the cost scale (``gridsim.water.myopic`` decides the same parts step by step)."""
    river = river_table(runner.base)
    weights = PRIORITY_WEIGHTS if runner.scenario.shedding == "priority" else None
    cost = unit_cost(runner.base)
    scale = COST_EPSILON * (min(weights.values()) if weights else 1.0) / max(float(cost.max()), 1e-9)
    blocks, caps = _step_blocks(runner, states, river, weights, cost * scale)
    inputs = RiverInputs(river, inflow_series(river, runner.n, runner.dt), dam_status(river, states, matches),
                         runner.dt)
    return blocks, caps, inputs, scale


def _step_blocks(runner, states: list, river: pd.DataFrame, weights, gcost: pd.Series):
    """Every step's block: the damaged network and its PTDF once per damage state (at full availability),
    then the step's demand and each unit's capacity (times the step's availability of its fuel). The damaged
    networks are kept on the runner (``water_nets``): a timeline's run with its baseline alone shares the
    states before the strike with the run of the scenario."""
    sc = runner.scenario
    nets = getattr(runner, "water_nets", None)
    nets = {} if nets is None else nets
    base_p = runner.base.load["p_mw"].astype(float).to_numpy()
    gen = runner.base.gen
    fuel = gen["fuel"].astype(str) if "fuel" in gen else pd.Series("other", index=gen.index)
    fuels = set(fuel)
    fractions: dict = {}
    blocks, caps = [], []
    for k, (active, forced) in enumerate(states):
        table = availability_of(runner.base, {**(sc.availability or {}), **runner._availability(k)})
        key = (tuple(sorted((o.label, -1.0 if o.derate is None else float(o.derate)) for _, o in active)),
               frozenset(forced), bool(table))
        if key not in nets:      # every fuel at 1.0: the same network whichever step builds it
            damaged = step_network(runner, k, active, forced, {f: 1.0 for f in fuels | set(table)} if table else {})
            nets[key] = (damaged, NetState.of(build_dc_model(damaged, rating=getattr(sc, "rating", "rate_a"),
                                                             emergency_factor=getattr(sc, "emergency_factor", 1.0))),
                         damaged.gen["max_p_mw"].astype(float), damaged.gen.index.equals(fuel.index))
        damaged, state, max_p, aligned = nets[key]
        if table:
            tkey = tuple(sorted(table.items()))
            frac = fractions.get(tkey)
            if frac is None:
                frac = fractions[tkey] = fuel_fractions(fuel.to_numpy(), table)
            # Series * Series aligns on the index: with equal indexes that is the product of the arrays
            cap = max_p.to_numpy() * frac if aligned else (max_p * pd.Series(frac, index=fuel.index)).to_numpy(float)
        else:
            cap = max_p.to_numpy()
        block, cap = step_block(damaged, state, river, weights, gcost, base_p * runner._demand_factor(k), cap)
        blocks.append(block)
        caps.append(cap)
    return blocks, caps


def solve_barring_pumps(blocks: list[StepBlock], inputs: RiverInputs, scale: float):
    """Solve; where the plan pumps while shedding, bar pumping there and solve again."""
    inputs.pump_off = np.zeros(inputs.dam_ok.shape, dtype=bool)
    for rounds in range(1, PUMP_ROUNDS + 2):
        result = solve_water_lp(blocks, inputs, scale)
        if not result.ok:
            return result, rounds
        bad = (result.water[:, :, 3].T > TOL_MW) & (result.shed_mw[None, :] > TOL_MW)
        if not bad.any() or rounds > PUMP_ROUNDS:
            return result, rounds
        inputs.pump_off |= bad | (result.shed_mw[None, :] > TOL_MW)
    return result, rounds


def step_network(runner, k: int, active: list, forced: set, availability: dict | None = None):
    """Step ``k``'s damaged network, built as the timeline's snapshot builds it (without any water plan), with
    ``availability`` (default: the step's own)."""
    net = runner._step_net(k, water=False)
    if forced:
        net.gen.loc[sorted(forced), "in_service"] = False
    if availability is None:
        availability = {**(runner.scenario.availability or {}), **runner._availability(k)}
    damaged, _ = apply_outages(apply_availability(net, availability), [o for _, o in active])
    return damaged


def _plan_of(river, blocks, caps, inputs: RiverInputs, result, info: dict) -> WaterPlan:
    n_t, dt = len(blocks), inputs.step_h
    unit_mw: list[dict] = []
    rows = []
    for x, step_caps in zip(result.x, caps):
        cols = np.array([col for col, _ in step_caps.values()], dtype=np.int64)
        cap = [c for _, c in step_caps.values()]
        mw = np.clip(x[cols], 0.0, np.array(cap, dtype=float)).tolist()   # each planned MW within [0, cap]
        unit_mw.append(dict(zip(step_caps, zip(mw, cap))))
    water = result.water
    for i, plant in enumerate(river["plant"]):
        k = float(river["mw_per_m3s"].iat[i])
        rows.append(pd.DataFrame({
            "plant": plant, "time_h": np.arange(n_t) * dt, "p_mw": water[:, i, 0] * k,
            "discharge_m3s": water[:, i, 0], "inflow_m3s": result.inflow_m3s[i], "spill_m3s": water[:, i, 1],
            "storage_hm3": water[:, i, 2], "pump_mw": water[:, i, 3]}))
    hydro = pd.concat(rows, ignore_index=True)[HYDRO_COLUMNS] if rows else pd.DataFrame(columns=HYDRO_COLUMNS)
    summary = {"status": result.status, "energy_not_served_mwh": float(result.unserved_mw.sum() * dt), **info,
               "spill_hm3": {p: float(g["spill_m3s"].sum() * dt * 3600 / 1e6)
                             for p, g in hydro.groupby("plant", sort=False)},
               "hydro_energy_mwh": float(hydro["p_mw"].sum() * dt),
               "pumping_energy_mwh": float(hydro["pump_mw"].sum() * dt)}
    return WaterPlan(river, hydro, unit_mw, result.unserved_mw, dt, result.status, summary)

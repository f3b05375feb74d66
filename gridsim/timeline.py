"""Time: a scenario simulated step by step, through strikes, repairs, restarts and the daily demand curve.

Each step ``k`` covers ``[k * step_h, (k + 1) * step_h)`` and is the snapshot of the state at its start:

- **outages** in force: struck (``at_h <= t``) and not yet repaired (``t < at_h + repair_h``); ``restore``
  steps change a derating (or end the outage) ``after_h`` hours after the strike;
- **restarts**: a unit cut off from the energised grid without being damaged itself (its substation or
  outlets hit, its island without load) trips; once reconnected it is back only ``restart_h`` later
  (``gridsim.dispatch.DEFAULT_RESTART_H``; ``gen.restart_h`` per unit);
- **demand**: the scenario's demand times the profile's factor (``gridsim.profiles``); **solar**: the sun's
  output at the step's middle; a profile CSV's ``wind``/``solar`` columns give them hour by hour (unless the
  scenario fixes them in ``availability``).

The snapshot is ``simulate()`` itself: a step is the one-case use of the pipeline, and steps whose state
(outages, restarts, demand, sun) was already solved reuse that solution (``cache``). Energy not served is
the sum over steps of unserved MW times the step length.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.dispatch import restart_hours
from gridsim.outages import apply_outages, resolve_outage
from gridsim.profiles import demand_profile, solar_fraction, step_times
from gridsim.results import CAUSES, Result
from gridsim.simulate import prepare_network, simulate
from gridsim.solvers.response import PRIORITY_WEIGHTS   # the optimal response's: critical loads count most
from gridsim.timeline_summary import events_of, timeline_summary
from gridsim.topology import find_islands
from gridsim.water import plan_water

Progress = Callable[[int, int], None]
TIMELINE_COLUMNS = ["step", "time_h", "region", "demand_mw", "served_mw", "unserved_mw",
                    *[f"unserved_{c}_mw" for c in CAUSES], "customers_without_power", "weighted_unserved_mw"]



_OFF = object()


def outage_at(outage, t: float):
    """The outage as in force at hour ``t`` (its derate after any restore step), or None when it is not."""
    derate = _derate_at(outage, t)
    return None if derate is _OFF else _in_force(outage, derate)


def _derate_at(outage, t: float):
    """The outage's derate at hour ``t`` (None: out), or ``_OFF`` when it is not in force."""
    if t < outage.at_h - 1e-9:
        return _OFF
    since = t - outage.at_h
    if outage.repair_h is not None and since >= outage.repair_h - 1e-9:
        return _OFF
    derate = outage.derate
    for step in outage.restore or ():
        if since >= step.after_h - 1e-9:
            if step.derate is None:
                return _OFF
            derate = step.derate
    return derate


def _in_force(outage, derate):
    return outage.model_copy(update={"derate": derate, "repair_h": None, "restore": None, "at_h": 0.0})


def _state_key(active: list) -> tuple:
    """The damage in force, independent of list order: (asset as written, derate or -1 for out)."""
    return tuple(sorted((o.label, -1.0 if o.derate is None else float(o.derate)) for _, o in active))


@dataclass
class _Restarts:
    """Units tripped by losing their connection; when each is available again."""

    restart_h: pd.Series
    down: set = field(default_factory=set)             # disconnected now (or waiting to be reconnected)
    back_at: dict = field(default_factory=dict)        # gen -> hour available again

    def update(self, t: float, connected: set, hit: set) -> set:
        """Advance to hour ``t``; return the units forced out for restart."""
        for g in list(self.restart_h.index):
            if g in hit:
                self.down.discard(g)
                self.back_at.pop(g, None)
                continue
            if g not in connected:
                self.down.add(g)
                self.back_at.pop(g, None)
            elif g in self.down:
                self.down.discard(g)
                self.back_at[g] = t + float(self.restart_h.at[g])
        return {g for g, at in self.back_at.items() if t < at - 1e-9} | (self.down - hit)


def simulate_timeline(scenario, net=None, progress: Progress | None = None,
                      cache: bool = True, fast: bool = True) -> Result:
    """Run a scenario with a ``timeline`` block. Returns the Result of the step with the most unserved
    demand, with ``timeline`` (and ``baseline_timeline`` with a baseline) and the time figures in its
    summary. ``cache=False`` solves every step (the reference for the state cache); ``fast=False`` solves steps
    with ``simulate()`` even where the batch engine's DC model could (``gridsim.timeline_fast``)."""
    t0 = time.perf_counter()
    base = prepare_network(scenario, net)
    baseline = _baseline_outages(scenario)
    runner = _Runner(scenario, base, cache, fast)
    combined, peak = runner.run([*baseline, *scenario.outages], progress)
    water = runner.water
    base_table = pd.DataFrame()
    if baseline:
        base_table, _ = runner.run(baseline, None, full_peak=False)
    summary = timeline_summary(scenario, combined, base_table, peak, events_of(scenario, baseline))
    summary["elapsed_s"] = time.perf_counter() - t0
    summary["solved_steps"] = runner.solved
    peak.summary = {**peak.summary, **summary}
    peak.timeline, peak.baseline_timeline = combined, base_table
    if water is not None:
        peak.summary["water"], peak.hydro = water.summary, water.hydro
    return peak


def _baseline_outages(scenario) -> list:
    if not getattr(scenario, "baseline", None):
        return []
    from gridsim.scenario import load_scenario

    from gridsim.errors import ScenarioError
    from gridsim.limits import clip, resolve_inside

    path = scenario.base_dir / scenario.baseline
    root = getattr(scenario, "network_root", None)
    if root is not None and resolve_inside(path, root) is None:
        raise ScenarioError(f"baseline: {clip(path, 200)} is outside the network root {clip(root, 200)} "
                            "(--network-root): only files inside it are read")
    other = load_scenario(path, network_root=root)
    return [o.model_copy(update={"at_h": 0.0}) for o in other.outages]


class _Runner:
    def __init__(self, scenario, base, cache: bool, fast: bool = True):
        tl = scenario.timeline
        self._fast = None if fast and cache else False     # gridsim.timeline_fast.FastSteps, built on first use
        self.scenario, self.base, self.use_cache = scenario, base, cache
        self.n, self.dt = tl.n_steps, tl.step_h
        self.profile = demand_profile(tl.profile, scenario.base_dir, tl.start, self.n, self.dt,
                                      getattr(scenario, "network_root", None))
        self.times = step_times(tl.start, self.n, self.dt)
        self.cache: dict = {}
        self.topology: dict = {}
        self.matches: dict = {}
        self._names = None         # the base network's name view (gridsim.networks.nametables), made on first use
        self.solved = 0
        self.water = None          # the water plan of the current run (gridsim.water; networks with a river)
        self.water_nets: dict = {}    # the water plan's damaged networks, shared by the runs (gridsim.water.plan)
        self.load_region = base.load["region"].astype(str).to_numpy() if "region" in base.load else None

    def states(self, outages: list):
        """Per step ``(k, t, active, forced)``: the outages in force and the units out for restart."""
        restarts = _Restarts(restart_hours(self.base))
        labels = tuple(o.label for o in outages)
        if labels not in self.matches:          # names resolved once per list of assets, on one name view
            if self._names is None:
                from gridsim.networks.nametables import name_tables

                self._names = name_tables(self.base)
            self.matches[labels] = [resolve_outage(self._names, o, i, getattr(self.scenario, "source", None))
                                    for i, o in enumerate(outages)]
        matches = self.matches[labels]
        in_force: dict = {}          # (outage, derate) -> the outage as in force (outage_at), made once
        for k in range(self.n):
            t = k * self.dt
            active = []
            for i, o in enumerate(outages):
                derate = _derate_at(o, t)
                if derate is not _OFF:
                    hit = in_force.get((i, derate))
                    if hit is None:
                        hit = in_force[(i, derate)] = _in_force(o, derate)
                    active.append((i, hit))
            hit = {idx for i, _ in active for m in matches[i] for tab, idx in m.elements if tab == "gen"}
            yield k, t, active, restarts.update(t, self._connected(k, active), hit)

    def run(self, outages: list, progress: Progress | None, full_peak: bool = True):
        rows, peak_mw, peak_args = [], -1.0, None
        self.water = None
        states = list(self.states(outages))
        self.water = plan_water(self, states, self.matches[tuple(o.label for o in outages)])
        for k, t, active, forced in states:
            result = self._solve(k, active, forced)
            rows.append((k, t, result))
            if result.summary["unserved_mw"] > peak_mw + 1e-9:
                peak_mw, peak_args = result.summary["unserved_mw"], (k, active, forced)
            if progress is not None:
                progress(k + 1, self.n)
        table = self._table(rows)
        # the snapshot at the peak, with every table
        return table, (self._solve(*peak_args, full=True) if full_peak else None)

    def _demand_factor(self, k: int) -> np.ndarray:
        """Per load, the demand factor of step ``k`` (the profile's, region by region where it has regions)."""
        factor = np.full(len(self.base.load), float(self.profile.total[k]))
        for region, values in self.profile.by_region.items():
            if self.load_region is not None:
                factor[self.load_region == region] = float(values[k])
        return factor

    def _demand_key(self, k: int, water: bool = True):
        if self.profile.by_region:
            key = tuple(np.round(self._demand_factor(k), 9))
        else:
            key = round(float(self.profile.total[k]), 9)
        return key if self.water is None or not water else (key, self.water.key(k))   # the plan's units too

    def _step_net(self, k: int, water: bool = True):
        """The prepared network with step ``k``'s demand (tables copied where changed)."""
        net = copy.copy(self.base)
        load = self.base.load.copy()
        factor = self._demand_factor(k)
        load["p_mw"] = load["p_mw"].to_numpy() * factor
        load["q_mvar"] = load["q_mvar"].to_numpy() * factor
        net["load"] = load
        net["gen"] = self.base.gen.copy()
        if water and self.water is not None:
            self.water.apply(net, k)       # river units: the plan's output is their capacity
        return net

    def _connected(self, k: int, active: list) -> set:
        """Units in an island that serves load (before restarts); topology only, so cached by outages."""
        key = _state_key(active)
        if self.fast_steps is not None:
            return self.fast_steps.connected(key, [o for _, o in active])
        if key not in self.topology:
            self.topology[key] = self._connected_now(self._step_net(k), [o for _, o in active])
        return self.topology[key]

    def _connected_now(self, net, active: list) -> set:
        damaged, _ = apply_outages(net, active)
        islands = find_islands(damaged)
        gen_on = damaged.gen["in_service"].astype(bool)
        out = set()
        for isl in islands:
            if len(isl.loads):
                on = damaged.gen.index[damaged.gen["bus"].isin(isl.buses) & gen_on]
                out.update(int(g) for g in on)
        return out

    def _availability(self, k: int) -> dict[str, float]:
        """Availability overrides of step ``k``: the profile's wind/solar columns, else the sun for solar;
        fuels the scenario fixes in ``availability`` stay fixed."""
        fixed = self.scenario.availability or {}
        out = {fuel: round(float(v[k]), 6) for fuel, v in self.profile.availability.items() if fuel not in fixed}
        if "solar" not in fixed and "solar" not in out:
            out["solar"] = round(solar_fraction(self.times[k]), 6)
        return out

    def _solve(self, k: int, active: list, forced: set, full: bool = False) -> Result:
        """The snapshot of step ``k``'s state: region tables only, from the cache where this state was solved;
        with ``full`` every table, solved afresh."""
        step_availability = self._availability(k)
        if not full and self.fast_steps is not None:
            return self._solve_fast(k, active, forced, step_availability)
        key = (_state_key(active), frozenset(forced), self._demand_key(k), tuple(sorted(step_availability.items())))
        if not full and self.use_cache and key in self.cache:
            return self.cache[key]
        net = self._step_net(k)
        if forced:
            net.gen.loc[sorted(forced), "in_service"] = False
        availability = {**(self.scenario.availability or {}), **step_availability}
        sc = self.scenario.model_copy(update={"outages": [o for _, o in active], "availability": availability,
                                              "timeline": None, "baseline": None})
        result = simulate(sc, net=net, detail="full" if full else "regions")
        result.summary["restarting_units"] = sorted(str(net.gen.at[g, "name"]) for g in forced)
        if not full:
            self.solved += 1
            if self.use_cache:
                self.cache[key] = result
        return result

    @property
    def fast_steps(self):
        """The steps through the batch engine's DC model (``gridsim.timeline_fast``), None where it does not apply."""
        if self._fast is None:
            from gridsim.timeline_fast import fast_steps_for

            self._fast = fast_steps_for(self.scenario, self.base) or False
        return self._fast or None

    def _solve_fast(self, k: int, active: list, forced: set, step_availability: dict):
        fs, before = self.fast_steps, self.fast_steps.solved
        out = fs.solve(_state_key(active), [o for _, o in active], forced, self._demand_key(k, water=False),
                       self._demand_factor(k), {**(self.scenario.availability or {}), **step_availability},
                       None if self.water is None else self.water.scales(k))
        self.solved += fs.solved - before
        return out

    def _table(self, rows: list) -> pd.DataFrame:
        """The timeline table of ``(k, t, result)`` per step: one stacked table where every step came from the
        fast steps (``gridsim.timeline_fast.steps_table``), else a frame per step."""
        if rows and all(not isinstance(r, Result) for _, _, r in rows):
            from gridsim.timeline_fast import steps_table

            return steps_table(rows)[TIMELINE_COLUMNS]
        return pd.concat([self._rows(k, t, r) for k, t, r in rows], ignore_index=True)[TIMELINE_COLUMNS]

    def _rows(self, k: int, t: float, result: Result) -> pd.DataFrame:
        if not isinstance(result, Result):       # gridsim.timeline_fast.StepValues
            return result.rows(k, t)
        reg = result.regions
        cols = ["demand_mw", "served_mw", "unserved_mw", *[f"unserved_{c}_mw" for c in CAUSES],
                "customers_without_power"]
        df = reg[cols].reset_index().rename(columns={"index": "region"})
        loads = result.loads
        w = loads["priority"].map(PRIORITY_WEIGHTS).fillna(PRIORITY_WEIGHTS[2]) * loads["unserved_mw"]
        df["weighted_unserved_mw"] = df["region"].map(w.groupby(loads["region"]).sum()).fillna(0.0).to_numpy()
        df.insert(0, "time_h", t)
        df.insert(0, "step", k)
        return df

"""Timeline steps through the batch engine's prepared DC model instead of ``simulate()``.

A timeline step is ``simulate()`` of the scenario with the step's outages, restarts, demand and availability
(``gridsim.timeline``). For ``solver: dc`` with ``response: optimal`` or ``none`` on a network the fast engine
models, ``gridsim.batch.fast.FastDCEvaluator`` computes the same numbers on one prepared model without a
network copy per case. This module adapts it to the timeline's steps:

- **damage** (the outages in force) becomes the model's case masks, once per distinct damage state;
- **restarts** (units forced out while they come back) are more units out;
- **availability** of the step (the sun, a profile's wind/solar columns) and **derates** become each unit's
  capacity for the case, as ``gridsim.dispatch.apply_availability`` and ``gridsim.outages.apply_outages``
  compute them;
- **demand** of the step: one copy of the evaluator per distinct demand vector, its model's demand scaled (the
  engine has no per-case demand yet; the copy shares every other array and the factorisation).

A step's answer is ``StepValues``: per region the columns the timeline's rows need (demand, served, unserved
in total and by cause, customers without power, priority-weighted unserved). tests/test_timeline_fast.py keeps
them equal to the ``simulate()``-based steps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.dispatch import availability_of, available_capacity, nameplate_and_fuel
from gridsim.results import CAUSES
from gridsim.solvers.response import PRIORITY_WEIGHTS

#: per-region value columns of a timeline row, in ``gridsim.timeline.TIMELINE_COLUMNS`` order
VALUE_COLUMNS = ["demand_mw", "served_mw", "unserved_mw", *[f"unserved_{c}_mw" for c in CAUSES],
                 "customers_without_power", "weighted_unserved_mw"]
_COL = {c: i for i, c in enumerate(VALUE_COLUMNS)}


@dataclass
class StepValues:
    """One step's numbers per region (rows ``regions``, columns ``VALUE_COLUMNS``)."""

    regions: list[str]
    values: np.ndarray
    summary: dict = field(default_factory=dict)       # the headline a Result has: unserved_mw

    def column(self, name: str) -> np.ndarray:
        return self.values[:, _COL[name]]

    def rows(self, k: int, t: float) -> pd.DataFrame:
        n = len(self.regions)
        columns = {"step": np.full(n, k, dtype=np.int64), "time_h": np.full(n, t), "region": list(self.regions),
                   **{c: self.values[:, i] for i, c in enumerate(VALUE_COLUMNS)}}
        columns["customers_without_power"] = columns["customers_without_power"].round().astype(np.int64)
        return pd.DataFrame(columns)      # one frame from columns: a tenth of the time of inserting them


def steps_table(steps: list[tuple[int, float, StepValues]]) -> pd.DataFrame:
    """The rows of many steps at once: ``pd.concat`` of each step's ``StepValues.rows`` (same columns, dtypes
    and order), built from one stacked array instead of a frame per step."""
    counts = [len(v.regions) for _, _, v in steps]
    values = np.concatenate([v.values for _, _, v in steps])
    columns = {"step": np.repeat(np.array([k for k, _, _ in steps], dtype=np.int64), counts),
               "time_h": np.repeat(np.array([t for _, t, _ in steps], dtype=float), counts),
               "region": [r for _, _, v in steps for r in v.regions],
               **{c: values[:, i] for i, c in enumerate(VALUE_COLUMNS)}}
    columns["customers_without_power"] = columns["customers_without_power"].round().astype(np.int64)
    return pd.DataFrame(columns)


def fast_steps_for(scenario, base):
    """``FastSteps`` for the scenario on its prepared network ``base``, or None where the fast engine does not
    reproduce ``simulate()`` (AC, cascade, elements it does not model, no highspy)."""
    if getattr(scenario, "solver", "dc") != "dc" or getattr(scenario, "response", "none") not in ("optimal", "none"):
        return None
    try:
        return FastSteps(scenario, base)
    except (ImportError, ValueError):
        return None


class FastSteps:
    """The timeline's step snapshots on one prepared DC model (``FastDCEvaluator``)."""

    def __init__(self, scenario, base):
        from gridsim.batch.fast import FastDCEvaluator

        self.scenario = scenario
        plain = scenario.model_copy(update={"outages": [], "timeline": None, "baseline": None,
                                            **({"restoration": None} if hasattr(scenario, "restoration") else {})})
        self.ev = FastDCEvaluator(plain, net=base)
        pm = self.ev.model
        self.base = base
        self.base_demand = pm.demand.copy()
        load = pm.damaged.load
        region = (load["region"] if "region" in load.columns else pd.Series("all", index=load.index)).astype(str)
        meta = base["regions"] if "regions" in base and isinstance(base["regions"], pd.DataFrame) else None
        names = set(region) | (set(meta.index.astype(str)) if meta is not None and len(meta) else set())
        self.regions = sorted(names)
        self.load_region = np.searchsorted(self.regions, region.to_numpy())
        cust = load["customers"] if "customers" in load.columns else pd.Series(0, index=load.index)
        self.customers = cust.fillna(0).astype(int).to_numpy()
        self.weight = np.array([PRIORITY_WEIGHTS.get(int(p), PRIORITY_WEIGHTS[2]) for p in pm.priority])
        self.gen_positions = pm.gen_position(pm.gen_index)
        self._masks: dict = {}
        self._topology: dict = {}
        self._evaluators: dict = {}
        self._caps: dict = {}
        self._gen_pos: dict = {}
        self._islands: dict = {}
        self._units = None      # (max_p_mw, nameplate, fuel, position of each model unit) of the base gen table
        self.cache: dict = {}
        self.solved = 0

    # -- per damage state --------------------------------------------------------------------------------------
    def damage(self, key, outages: list):
        """(masks of the outages, [(gen positions, derate)]) for a damage state: the masks' branches, buses, loads
        and units out; the derates apply to each step's capacities (``solve``)."""
        hit = self._masks.get(key)
        if hit is None:
            pm = self.ev.model
            derated = [(pm.masks([o.model_copy(update={"derate": None})]).gen_out, float(o.derate))
                       for o in outages if o.derate is not None]
            hit = self._masks[key] = (pm.masks(outages), derated)      # its capacities are replaced per step
        return hit

    def connected(self, key, outages: list) -> set:
        """pandapower ``gen`` indices of units in service inside an island that holds a load in service (what
        the timeline's restart rule calls connected), for a damage state."""
        hit = self._topology.get(key)
        if hit is None:
            from gridsim.batch.state import case_state

            pm = self.ev.model
            masks, derated = self.damage(key, outages)
            st = case_state(pm, masks, self.ev.method)
            load_ok = pm.load_on.copy()
            load_ok[masks.load_out] = False
            with_load = np.zeros(len(st.energised) + 1, dtype=bool)
            lab = st.labels[pm.load_bus[load_ok]]
            with_load[lab[lab >= 0]] = True
            gen_lab = st.labels[pm.gen_bus]
            on = pm.gen_on.copy()
            on[masks.gen_out] = False
            ok = on & (gen_lab >= 0) & with_load[np.maximum(gen_lab, 0)]
            hit = self._topology[key] = {int(g) for g in pm.gen_index[ok]}
        return hit

    # -- per step ----------------------------------------------------------------------------------------------
    def capacity(self, availability: dict) -> np.ndarray:
        """Each unit's capacity (model gen order) under the availability in force, as ``simulate()`` sets it."""
        key = tuple(sorted(availability.items()))
        hit = self._caps.get(key)
        if hit is None:
            hit = self._caps[key] = self._capacity(availability)
        return hit

    def _capacity(self, availability: dict) -> np.ndarray:
        """``apply_availability(base, availability).gen["max_p_mw"]`` in model gen order, from arrays: with a
        table, nameplate times the fuel's availability (1 where the table has none); without, ``max_p_mw``."""
        if self._units is None:
            gen = self.base.gen
            plate, fuel = nameplate_and_fuel(gen)
            pos = gen.index.get_indexer(self.ev.model.gen_index)
            self._units = (gen["max_p_mw"].astype(float).to_numpy(), plate, fuel, pos)
        max_p, plate, fuel, pos = self._units
        table = availability_of(self.base, availability)
        cap = available_capacity(plate, fuel, table) if table else max_p
        return np.where(pos >= 0, cap[np.maximum(pos, 0)], np.nan)     # reindex: NaN where not in the table

    def evaluator(self, demand_key, factor: np.ndarray):
        """The evaluator whose model's demand is the base demand times ``factor`` (one per demand vector)."""
        ev = self._evaluators.get(demand_key)
        if ev is None:
            ev = self._evaluators[demand_key] = self.ev.with_demand(self.base_demand * factor)
        return ev

    def solve(self, key, outages: list, forced: set, demand_key, factor: np.ndarray,
              availability: dict, scale: dict | None = None) -> StepValues:
        """The step's numbers for damage ``outages`` (state ``key``), units ``forced`` out, demand ``factor``
        per load and the ``availability`` in force (cached by the whole state); ``scale`` (gen index -> factor)
        multiplies some units' capacity (a water plan's output, ``gridsim.water``)."""
        scale = scale or {}
        full_key = (key, frozenset(forced), demand_key, tuple(sorted(availability.items())),
                    tuple(sorted(scale.items())))
        hit = self.cache.get(full_key)
        if hit is not None:
            return hit
        masks, derated = self.damage(key, outages)
        ev = self.evaluator(demand_key, factor)
        pm = ev.model
        cap = base_cap = self.capacity(availability)
        if derated:
            cap = cap.copy()
            for pos, d in derated:        # apply_outages: min(before, prepared capacity * derate)
                cap[pos] = np.minimum(cap[pos], base_cap[pos] * d)
        if scale:
            cap = cap.copy()
            cap[self._positions(tuple(scale))] *= np.array(list(scale.values()), dtype=float)
        gen_out = masks.gen_out
        if forced:
            extra = self._positions(tuple(sorted(forced)))
            gen_out = np.union1d(gen_out, extra.astype(np.int64))
        case = copy.copy(masks)
        case.gen_out, case.gen_cap = gen_out, cap
        st, _ = ev.evaluate_state(case, islands=self._islands.get(key))
        if key not in self._islands:      # the islands depend on the damage only (branches and buses out)
            self._islands[key] = (st.labels, st.n_islands, len(st.energised))
        out = self.cache[full_key] = self._values(pm.demand, st)
        self.solved += 1
        return out

    def _positions(self, gens: tuple) -> np.ndarray:
        """``PreparedModel.gen_position`` of pandapower ``gen`` indices, remembered per tuple."""
        hit = self._gen_pos.get(gens)
        if hit is None:
            hit = self._gen_pos[gens] = self.ev.model.gen_position(list(gens))
        return hit

    def _values(self, demand: np.ndarray, st) -> StepValues:
        isolated, deficit, network = (np.clip(a, 0.0, None) for a in (st.isolated, st.deficit, st.network))
        unserved = isolated + deficit + network
        frac = np.divide(unserved, demand, out=np.zeros(len(demand)), where=demand > 0)
        per_load = np.column_stack([demand, demand - unserved, unserved, isolated, deficit, network,
                                    np.zeros(len(demand)), np.rint(self.customers * frac),
                                    self.weight * unserved])
        # per region, summed load by load in load order (as np.add.at sums): one bincount per column
        values = np.column_stack([np.bincount(self.load_region, weights=col, minlength=len(self.regions))
                                  for col in per_load.T])
        return StepValues(self.regions, values, {"unserved_mw": float(unserved.sum())})


"""Dispatch data and rules: what each unit can give (availability by fuel) and in which order (merit order).

Both are *network data* a scenario can override, never constants buried in the solver:

- ``availability``: the fraction of a unit's nameplate capacity (``p_nameplate_mw``) that is available, by
  fuel. The built-in grid declares a winter-evening-peak table (``net["availability"]``, see
  ``DEFAULT_AVAILABILITY``); networks without one (MATPOWER files, pandapower cases) keep every unit's full
  capacity. A scenario's ``availability:`` mapping overrides fuels one by one, on any network.
- ``cost_per_mwh``: the merit-order cost of each unit (a ``gen`` column; defaults by fuel from
  ``DEFAULT_COST_PER_MWH``, or a MATPOWER/pandapower linear cost where the network has one).

``merit_dispatch`` fills an island's generation target cheapest first; units of equal cost share the marginal
block in proportion to their capacity (so four identical units of one plant run alike).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import pandas as pd

#: available fraction of nameplate at a winter evening peak (the built-in grid's default): solar is dark,
#: wind at a typical winter capacity factor, thermal fleets less their usual forced and planned outages,
#: hydro limited by winter river flow. Fuels not listed: 1.0.
DEFAULT_AVAILABILITY: dict[str, float] = {
    "nuclear": 0.92, "coal": 0.80, "gas": 0.90, "hydro": 0.90, "pumped_storage": 1.0,
    "solar": 0.0, "wind": 0.30, "import": 1.0, "other": 1.0,
}

#: merit-order cost by fuel (currency units per MWh, illustrative; only the order matters to gridsim):
#: zero-marginal-cost renewables first, then nuclear, hydro, coal, gas, pumped storage, imports last
DEFAULT_COST_PER_MWH: dict[str, float] = {
    "solar": 0.0, "wind": 0.0, "nuclear": 10.0, "hydro": 20.0, "coal": 45.0, "other": 60.0, "gas": 70.0,
    "pumped_storage": 80.0, "import": 120.0,
}


#: hours a unit needs to restart after it was cut off from the energised grid without being damaged itself
#: (its substation or outlets hit, its island dark), counted from its reconnection; network data
#: (``gen.restart_h``) overrides it per unit
DEFAULT_RESTART_H: dict[str, float] = {
    "nuclear": 48.0, "coal": 8.0, "gas": 2.0, "hydro": 0.25, "pumped_storage": 0.25, "solar": 0.0,
    "wind": 0.0, "import": 0.0, "other": 2.0,
}


def restart_hours(net) -> pd.Series:
    """Restart time per ``gen`` (h): ``gen.restart_h`` where set, else the fuel default."""
    return unit_data(net, "restart_h", DEFAULT_RESTART_H)


def unit_cost(net) -> pd.Series:
    """Merit-order cost per ``gen`` (``cost_per_mwh`` where set, else the fuel default, else ``other``)."""
    return unit_data(net, "cost_per_mwh", DEFAULT_COST_PER_MWH)


def unit_data(net, column: str, by_fuel: Mapping[str, float]) -> pd.Series:
    """Per ``gen``: its ``column`` where the network sets it, else the default for its fuel (``other`` for
    fuels the table does not list)."""
    gen = net.gen
    fuel = gen["fuel"].astype(str) if "fuel" in gen.columns else pd.Series("other", index=gen.index)
    default = fuel.map(by_fuel).fillna(by_fuel["other"]).astype(float)
    if column in gen.columns:
        return gen[column].astype(float).fillna(default)
    return default


def availability_of(net, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The availability table in force: the network's own (empty for networks without one), then the
    scenario's ``overrides`` fuel by fuel."""
    table = dict(net["availability"]) if "availability" in net and isinstance(net["availability"], dict) else {}
    table.update({str(k): float(v) for k, v in (overrides or {}).items()})
    return table


def apply_availability(net, overrides: Mapping[str, float] | None = None):
    """A shallow copy of ``net`` whose ``gen.max_p_mw`` is ``p_nameplate_mw * availability[fuel]``.

    ``p_nameplate_mw`` is kept (filled from ``max_p_mw`` where missing), so applying it twice is harmless.
    Only the ``gen`` table is copied; ``net`` itself is never changed.
    """
    table = availability_of(net, overrides)
    out = copy.copy(net)
    gen = net.gen.copy()
    plate, fuel = nameplate_and_fuel(gen)
    gen["p_nameplate_mw"] = plate
    if "cost_per_mwh" not in gen.columns or gen["cost_per_mwh"].isna().any():
        gen["cost_per_mwh"] = unit_cost(net)
    if table:
        gen["max_p_mw"] = available_capacity(plate, fuel, table)
    out["gen"] = gen
    out["availability_in_force"] = table
    return out


def nameplate_and_fuel(gen: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per unit of a ``gen`` table: its nameplate (``p_nameplate_mw``, ``max_p_mw`` where missing) and fuel
    (``"other"`` without a fuel column)."""
    max_p = gen["max_p_mw"].astype(float)
    plate = gen["p_nameplate_mw"].astype(float).fillna(max_p) if "p_nameplate_mw" in gen.columns else max_p
    fuel = gen["fuel"].astype(str).to_numpy() if "fuel" in gen.columns else np.full(len(gen), "other", dtype=object)
    return plate.to_numpy(dtype=float), fuel


def fuel_fractions(fuel: np.ndarray, table: Mapping[str, float]) -> np.ndarray:
    """The availability of each unit's fuel: 1 for a fuel the table does not name (or names as NaN)."""
    frac = {f: table.get(f) for f in set(fuel)}
    frac = {f: 1.0 if v is None or v != v else float(v) for f, v in frac.items()}
    return np.array([frac[f] for f in fuel], dtype=float)


def available_capacity(nameplate_mw: np.ndarray, fuel: np.ndarray, table: Mapping[str, float]) -> np.ndarray:
    """``nameplate * availability[fuel]`` per unit (``fuel_fractions``)."""
    return nameplate_mw * fuel_fractions(fuel, table)


def merit_dispatch(capacity_mw: np.ndarray, cost: np.ndarray, target_mw: float) -> np.ndarray:
    """Output per unit that meets ``target_mw`` (clipped to total capacity) cheapest first.

    Units are grouped by equal cost; groups are filled in cost order, and the marginal group runs at one
    utilisation of its units' capacities. Vectorised: O(n log n) for n units.
    """
    cap = np.maximum(np.asarray(capacity_mw, dtype=float), 0.0)
    if cap.size == 0:
        return cap.copy()
    levels, group = np.unique(np.asarray(cost, dtype=float), return_inverse=True)
    group_cap = np.bincount(group, weights=cap, minlength=len(levels))
    before = np.cumsum(group_cap) - group_cap
    u = np.divide(np.clip(float(target_mw) - before, 0.0, group_cap), group_cap,
                  out=np.zeros(len(levels)), where=group_cap > 0)
    return cap * u[group]

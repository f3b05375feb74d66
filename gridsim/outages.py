"""apply_outages: damage a copy of the network and record exactly what was removed or derated.

Outages are status flags on a copy (``in_service = False``) and reduced ``max_p_mw``; nothing is deleted and
the caller's network is never touched. A destroyed bus takes everything connected to it out of service;
its loads stay in service as *demand* (they are counted, and lost as isolated). A load hit directly (a
``select: {kind: load}`` outage) is likewise kept as demand but marked ``disconnected``: no island serves it,
and its demand is lost with cause ``isolated``.

Consequential switching: a shunt reactor (``shunt.q_mvar > 0``) follows the line charging it absorbs: at a
bus whose lines are all out it is switched off with them (action ``switched off``); where only some are out its
banks are reduced to the share of the bus's line charging still connected (action ``reduced to N %``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridsim.netcopy import working_copy
from gridsim.networks.naming import resolve_outage
from gridsim.networks.nametables import name_tables

#: pandapower tables with a single bus column, taken out with a destroyed bus (loads excepted)
_BUS_ELEMENTS = {"gen": "bus", "sgen": "bus", "shunt": "bus", "ext_grid": "bus", "storage": "bus",
                 "ward": "bus", "xward": "bus"}
_BRANCH_BUSES = {"line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"),
                 "trafo3w": ("hv_bus", "mv_bus", "lv_bus"), "impedance": ("from_bus", "to_bus"),
                 "dcline": ("from_bus", "to_bus")}
_KIND_OF_TABLE = {"bus": "bus", "line": "line", "trafo": "trafo", "trafo3w": "trafo3w", "gen": "gen",
                  "sgen": "sgen", "shunt": "shunt", "load": "load", "impedance": "impedance",
                  "ext_grid": "ext_grid", "storage": "storage", "dcline": "dcline", "ward": "ward",
                  "xward": "xward", "river": "dam"}

OUTAGE_COLUMNS = ["asset", "asset_kind", "element_kind", "element", "action",
                  "capacity_before_mw", "capacity_after_mw"]


@dataclass
class AppliedOutages:
    """What the scenario actually removed: one row per element (see ``Result.outages``)."""

    table: pd.DataFrame
    destroyed_buses: np.ndarray   # bus indices taken out by substation/bus outages

    def __len__(self) -> int:
        return len(self.table)


def apply_outages(net, outages: Sequence, source=None) -> tuple[object, AppliedOutages]:
    """Return a damaged copy of ``net`` (``working_copy``) and the record of what was removed.

    ``outages`` are scenario Outage entries (``kind``, ``target``, ``select``, ``derate``, ``line``).
    Names are resolved first, so a misspelt name fails before any work is done.
    """
    names = name_tables(net) if len(outages) > 1 else net   # the name view once, not once per entry
    resolved = [(o, resolve_outage(names, o, i, source)) for i, o in enumerate(outages)]
    damaged = working_copy(net)
    damaged.load["disconnected"] = damaged.load.get("disconnected", False)
    damaged.load["disconnected"] = damaged.load["disconnected"].fillna(False).astype(bool)
    if "river" in damaged and isinstance(damaged["river"], pd.DataFrame) and "in_service" not in damaged["river"]:
        damaged["river"]["in_service"] = True        # dams stand unless a ``dam:`` outage breaks one
    rows: list[dict] = []
    destroyed: set[int] = set()
    seen_out: set[tuple[str, int]] = set()
    base_cap = damaged.gen["max_p_mw"].astype(float).copy()

    def take_out(table: str, idx: int, asset: str, asset_kind: str) -> None:
        if (table, idx) in seen_out or not bool(damaged[table].at[idx, "in_service"]):
            return
        seen_out.add((table, idx))
        if table == "load":
            damaged.load.at[idx, "disconnected"] = True
        else:
            damaged[table].at[idx, "in_service"] = False
        cap = float(damaged.gen.at[idx, "max_p_mw"]) if table == "gen" else np.nan
        rows.append({"asset": asset, "asset_kind": asset_kind, "element_kind": _KIND_OF_TABLE.get(table, table),
                     "element": _element_name(damaged, table, idx), "action": "out",
                     "capacity_before_mw": cap, "capacity_after_mw": 0.0 if table == "gen" else np.nan})

    for outage, matches in resolved:
        derate = getattr(outage, "derate", None)
        for m in matches:
            label = f"{m.asset_kind}: {m.asset}"
            for table, idx in m.elements:
                if derate is not None and table == "gen":
                    _derate(damaged, idx, derate, base_cap, rows, label, m.asset_kind)
                elif table == "bus":
                    _destroy_bus(damaged, idx, label, m.asset_kind, take_out)
                    destroyed.add(idx)
                else:
                    take_out(table, idx, label, m.asset_kind)

    rows += _switch_reactors(net, damaged)
    table = pd.DataFrame(rows, columns=OUTAGE_COLUMNS)
    return damaged, AppliedOutages(table, np.array(sorted(destroyed), dtype=int))


def _derate(net, idx: int, derate: float, base_cap: pd.Series, rows: list, label: str, kind: str) -> None:
    before = float(net.gen.at[idx, "max_p_mw"])
    after = min(before, float(base_cap.at[idx]) * float(derate))
    if not bool(net.gen.at[idx, "in_service"]):
        return
    net.gen.at[idx, "max_p_mw"] = after
    if "min_p_mw" in net.gen.columns:
        net.gen.at[idx, "min_p_mw"] = min(float(net.gen.at[idx, "min_p_mw"]), after)
    rows.append({"asset": label, "asset_kind": kind, "element_kind": "gen",
                 "element": _element_name(net, "gen", idx), "action": "derated",
                 "capacity_before_mw": before, "capacity_after_mw": after})


def _destroy_bus(net, bus: int, label: str, kind: str, take_out) -> None:
    take_out("bus", bus, label, kind)
    for table, col in _BUS_ELEMENTS.items():
        if table in net and len(net[table]):
            for idx in net[table].index[net[table][col] == bus]:
                take_out(table, int(idx), label, kind)
    for table, cols in _BRANCH_BUSES.items():
        if table in net and len(net[table]):
            df = net[table]
            hit = np.zeros(len(df), dtype=bool)
            for c in cols:
                hit |= (df[c] == bus).to_numpy()
            for idx in df.index[hit]:
                take_out(table, int(idx), label, kind)
    if "switch" in net and len(net.switch):
        sw = net.switch
        bb = (sw["et"] == "b") & ((sw["bus"] == bus) | (sw["element"] == bus))
        net.switch.loc[bb, "closed"] = False


def _switch_reactors(base, net) -> list[dict]:
    """Shunt reactors follow the line charging they compensate: at a bus whose lines are all out the reactor
    is switched off; where some are out, its banks are reduced to the share of the bus's line charging still
    connected (charging ~ C x length x V^2, half at each end)."""
    if "shunt" not in net or not len(net.shunt) or not len(net.line):
        return []
    sh = net.shunt
    cand = sh.index[sh["in_service"].astype(bool) & (sh["q_mvar"].astype(float) > 0)]
    if not len(cand):
        return []
    before, now = _charging_by_bus(base), _charging_by_bus(net)
    rows = []
    for idx in cand:
        bus = int(sh.at[idx, "bus"])
        had = float(before.get(bus, 0.0))
        if had <= 0 or not bool(net.bus.at[bus, "in_service"]):
            continue
        share = float(now.get(bus, 0.0)) / had
        if share >= 1.0 - 1e-9:
            continue
        if share <= 1e-9:
            sh.at[idx, "in_service"] = False
            action = "switched off"
        else:
            sh.at[idx, "q_mvar"] = float(sh.at[idx, "q_mvar"]) * share
            action = f"reduced to {share:.0%}"
        rows.append({"asset": f"consequence: lines at {_element_name(net, 'bus', bus)} out",
                     "asset_kind": "switching", "element_kind": "shunt",
                     "element": _element_name(net, "shunt", idx), "action": action,
                     "capacity_before_mw": np.nan, "capacity_after_mw": np.nan})
    return rows


def _charging_by_bus(net) -> pd.Series:
    """Line charging (relative units: nF x km x kV^2) of the in-service lines, half at each end, per bus."""
    line = net.line[net.line["in_service"].astype(bool)]
    if not len(line):
        return pd.Series(dtype=float)
    vn = net.bus["vn_kv"].astype(float).reindex(line["from_bus"]).to_numpy()
    half = 0.5 * (line["c_nf_per_km"].astype(float) * line["length_km"].astype(float)
                  * line.get("parallel", 1)).to_numpy() * vn ** 2
    return pd.Series(np.concatenate([half, half]),
                     index=np.concatenate([line["from_bus"].to_numpy(), line["to_bus"].to_numpy()])).groupby(level=0).sum()


def _element_name(net, table: str, idx: int) -> str:
    df = net[table]
    if table == "river":
        return f"{df.at[idx, 'plant']} dam"
    if "name" in df.columns:
        name = df.at[idx, "name"]
        if isinstance(name, str) and name:
            return name
    return f"{table} {idx}"

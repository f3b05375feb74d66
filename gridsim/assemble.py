"""assemble: turn the pipeline's intermediate products into a Result of tidy tables named by element."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.balance import Balance
from gridsim.outages import AppliedOutages
from gridsim.results import CAUSES, Result
from gridsim.solvers.powerflow import STATUSES, Flow
from gridsim.topology import Islands

#: loading above this (percent of rating) counts as an overload
OVERLOAD_PERCENT = 100.0


def _names(df: pd.DataFrame, prefix: str) -> pd.Series:
    if "name" in df.columns:
        names = df["name"].astype(object)
        ok = names.map(lambda v: isinstance(v, str) and v != "")
        return names.where(ok, [f"{prefix} {i}" for i in df.index]).astype(str)
    return pd.Series([f"{prefix} {i}" for i in df.index], index=df.index)


def _col(df: pd.DataFrame, name: str, default) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(default, index=df.index)


def load_table(net, bal: Balance, islands: Islands, extra: dict[str, pd.Series]) -> pd.DataFrame:
    """One row per load: demand, served and unserved by cause."""
    load = net.load
    bus_names = _names(net.bus, "bus")
    unserved = {"isolated": bal.isolated_mw, "deficit": bal.deficit_mw}
    unserved.update(extra)
    df = pd.DataFrame({
        "bus": bus_names.loc[load["bus"]].to_numpy(),
        "substation": _col(net.bus, "substation", "").loc[load["bus"]].astype(str).to_numpy(),
        "region": _col(load, "region", "all").astype(str).to_numpy(),
        "island": islands.bus_island.loc[load["bus"]].to_numpy().astype(int),
        "priority": _col(load, "priority", 2).fillna(2).astype(int).to_numpy(),
        "customers": _col(load, "customers", 0).fillna(0).astype(int).to_numpy(),
        "demand_mw": bal.demand_mw.to_numpy(),
    }, index=_names(load, "load").to_numpy())
    for cause in CAUSES:
        s = unserved.get(cause)
        df[f"unserved_{cause}_mw"] = 0.0 if s is None else np.clip(s.to_numpy(dtype=float), 0.0, None)
    cause_cols = [f"unserved_{c}_mw" for c in CAUSES]
    df["unserved_mw"] = df[cause_cols].sum(axis=1)
    df["served_mw"] = df["demand_mw"] - df["unserved_mw"]
    main = df[cause_cols].to_numpy().argmax(axis=1)
    df["cause"] = np.where(df["unserved_mw"] > 1e-9, np.array(CAUSES)[main], "")
    frac = np.divide(df["unserved_mw"], df["demand_mw"], out=np.zeros(len(df)), where=df["demand_mw"] > 0)
    df["customers_without_power"] = np.rint(df["customers"] * frac).astype(int)
    return df[["bus", "substation", "region", "island", "priority", "customers", "demand_mw", "served_mw",
               "unserved_mw", *cause_cols, "cause", "customers_without_power"]]


def region_table(net, loads: pd.DataFrame) -> pd.DataFrame:
    cols = ["demand_mw", "served_mw", "unserved_mw", *[f"unserved_{c}_mw" for c in CAUSES], "customers",
            "customers_without_power"]
    reg = loads.groupby("region")[cols].sum()
    meta = net["regions"] if "regions" in net and isinstance(net["regions"], pd.DataFrame) else None
    if meta is not None and len(meta):
        reg = reg.reindex(reg.index.union(meta.index.astype(str)), fill_value=0)
        reg["x_km"] = meta["x_km"].reindex(reg.index).to_numpy()
        reg["y_km"] = meta["y_km"].reindex(reg.index).to_numpy()
    else:
        bus = net.bus
        xy = bus.groupby(_col(bus, "region", "all").astype(str))[["x_km", "y_km"]].mean() \
            if "x_km" in bus.columns else pd.DataFrame(columns=["x_km", "y_km"])
        reg["x_km"] = xy["x_km"].reindex(reg.index).to_numpy() if len(xy) else np.nan
        reg["y_km"] = xy["y_km"].reindex(reg.index).to_numpy() if len(xy) else np.nan
    reg["unserved_pct"] = np.divide(100.0 * reg["unserved_mw"], reg["demand_mw"],
                                    out=np.zeros(len(reg)), where=reg["demand_mw"] > 0)
    reg.index.name = "region"
    return reg[["demand_mw", "served_mw", "unserved_mw", "unserved_pct", *cols[3:], "x_km", "y_km"]]


#: the island id of buses out of service (destroyed by the scenario or switched off in the network)
NO_ISLAND = -1


def island_table(net, islands: Islands, loads: pd.DataFrame, flow: Flow) -> pd.DataFrame:
    """One row per island; when some buses are out of service (destroyed), one more row, island -1 with the
    message "destroyed", holds their loads, so every column sums to the total in summary.json."""
    gen_names = _names(net.gen, "gen")
    rows = []
    for isl in islands:
        ld = loads[loads["island"] == isl.id]
        rows.append({
            "island": isl.id, "n_buses": len(isl.buses), "energised": isl.energised,
            "demand_mw": float(ld["demand_mw"].sum()), "capacity_mw": isl.capacity_mw,
            "served_mw": float(ld["served_mw"].sum()), "unserved_mw": float(ld["unserved_mw"].sum()),
            "slack": gen_names.at[isl.slack] if isl.slack is not None else "",
            "status": flow.status.get(isl.id, "dead"), "message": flow.messages.get(isl.id, ""),
        })
    off = int((islands.bus_island == NO_ISLAND).sum())
    orphans = loads[loads["island"] == NO_ISLAND]
    if off or len(orphans):
        rows.append({
            "island": NO_ISLAND, "n_buses": off, "energised": False,
            "demand_mw": float(orphans["demand_mw"].sum()), "capacity_mw": 0.0,
            "served_mw": float(orphans["served_mw"].sum()), "unserved_mw": float(orphans["unserved_mw"].sum()),
            "slack": "", "status": "dead",
            "message": "destroyed: buses out of service (knocked out by the scenario or switched off in the "
                       "network); their loads belong to no island",
        })
    cols = ["n_buses", "energised", "demand_mw", "capacity_mw", "served_mw", "unserved_mw", "slack",
            "status", "message"]
    return pd.DataFrame(rows, columns=["island", *cols]).set_index("island")


def bus_table(net, islands: Islands, applied: AppliedOutages, flow: Flow) -> pd.DataFrame:
    bus = net.bus
    isl = islands.bus_island.loc[bus.index]
    energised_ids = {i.id for i in islands.energised}
    return pd.DataFrame({
        "substation": _col(bus, "substation", "").astype(str).to_numpy(),
        "region": _col(bus, "region", "all").astype(str).to_numpy(),
        "vn_kv": bus["vn_kv"].to_numpy(dtype=float),
        "x_km": _col(bus, "x_km", np.nan).to_numpy(dtype=float),
        "y_km": _col(bus, "y_km", np.nan).to_numpy(dtype=float),
        "island": isl.to_numpy().astype(int),
        "energised": isl.isin(energised_ids).to_numpy(),
        "destroyed": bus.index.isin(applied.destroyed_buses),
        "vm_pu": flow.vm_pu.loc[bus.index].to_numpy(dtype=float),
    }, index=_names(bus, "bus").to_numpy())


def branch_table(base, net, flow: Flow, ratings, tripped: set[tuple[str, int]] | None = None) -> pd.DataFrame:
    """One row per line and transformer; loading in % of the scenario's rating (``ratings``)."""
    bus_names = _names(net.bus, "bus")
    line_loading, trafo_loading = ratings.loading(flow)
    region = _col(net.bus, "region", "all").astype(str)
    parts = []
    for kind, a, b, p, loading in (
            ("line", "from_bus", "to_bus", flow.line_p_from_mw, line_loading),
            ("trafo", "hv_bus", "lv_bus", flow.trafo_p_hv_mw, trafo_loading),
            # 3-winding transformers: loading of the most loaded winding against its sn_mva (pandapower's)
            ("trafo3w", "hv_bus", "lv_bus", flow.trafo3w_p_hv_mw, flow.trafo3w_loading_percent)):
        df = net[kind] if kind in net else pd.DataFrame()
        if p is None or loading is None:
            continue
        if not len(df):
            continue
        vn = np.maximum(net.bus.loc[df[a], "vn_kv"].to_numpy(float), net.bus.loc[df[b], "vn_kv"].to_numpy(float))
        base_on = base[kind]["in_service"].astype(bool).reindex(df.index).to_numpy()
        on = df["in_service"].astype(bool).to_numpy()
        trip = np.array([(kind, i) in (tripped or set()) for i in df.index], dtype=bool)
        part = pd.DataFrame({
            "kind": kind,
            "from_bus": bus_names.loc[df[a]].to_numpy(), "to_bus": bus_names.loc[df[b]].to_numpy(),
            "vn_kv": vn, "region": region.loc[df[a]].to_numpy(), "in_service": on,
            "outaged": base_on & ~on & ~trip, "tripped": trip,
            "p_from_mw": np.where(on, p.loc[df.index].to_numpy(float), np.nan),
            "loading_percent": np.where(on, loading.loc[df.index].to_numpy(float), np.nan),
        }, index=_names(df, kind).to_numpy())
        parts.append(part)
    out = pd.concat(parts) if parts else pd.DataFrame(columns=["kind", "loading_percent"])
    out["overloaded"] = out["loading_percent"].fillna(0.0) > OVERLOAD_PERCENT + 1e-6
    return out


def generator_table(base, net, islands: Islands, flow: Flow) -> pd.DataFrame:
    gen = net.gen
    isl = islands.bus_island.loc[gen["bus"]].to_numpy().astype(int)
    on = gen["in_service"].astype(bool).to_numpy()
    slack_ids = {i.slack for i in islands.energised}
    return pd.DataFrame({
        "plant": _col(gen, "plant", "").astype(str).to_numpy(),
        "fuel": _col(gen, "fuel", "other").astype(str).to_numpy(),
        "kind": _col(gen, "kind", "unit").astype(str).to_numpy(),
        "region": _col(gen, "region", "all").astype(str).to_numpy(),
        "bus": _names(net.bus, "bus").loc[gen["bus"]].to_numpy(),
        "max_p_mw": base.gen["max_p_mw"].reindex(gen.index).to_numpy(float),
        "available_mw": np.where(on, gen["max_p_mw"].to_numpy(float), 0.0),
        "p_mw": flow.gen_p_mw.loc[gen.index].to_numpy(float),
        "island": isl,
        "slack": gen.index.isin(list(slack_ids)),
    }, index=_names(gen, "gen").to_numpy())


def overall_status(flow: Flow) -> str:
    live = [s for s in flow.status.values() if s != "dead"]
    if not live:
        return "dead"
    return max(live, key=STATUSES.index)


def summary_dict(scenario, loads, regions, islands_df, branches, applied, flow, response) -> dict:
    demand = float(loads["demand_mw"].sum())
    unserved = float(loads["unserved_mw"].sum())
    crit = loads[loads["priority"] == 1]
    over = branches[branches["overloaded"]].sort_values("loading_percent", ascending=False)
    return {
        "scenario": scenario.name,
        "description": getattr(scenario, "description", ""),
        "network": str(scenario.network),
        "load_level": float(scenario.load_level),
        "solver": scenario.solver,
        "shedding": scenario.shedding,
        "response": response,
        "status": overall_status(flow),
        "demand_mw": demand,
        "served_mw": float(loads["served_mw"].sum()),
        "unserved_mw": unserved,
        "unserved_pct": 100.0 * unserved / demand if demand > 0 else 0.0,
        "unserved_by_cause_mw": {c: float(loads[f"unserved_{c}_mw"].sum()) for c in CAUSES},
        "critical_demand_mw": float(crit["demand_mw"].sum()),
        "critical_unserved_mw": float(crit["unserved_mw"].sum()),
        "customers": int(loads["customers"].sum()),
        "customers_without_power": int(loads["customers_without_power"].sum()),
        "n_islands": int((islands_df.index >= 0).sum()),     # islands; the -1 row (buses out) is not one
        "n_energised_islands": int(islands_df["energised"].sum()),
        "islands": [{"island": int(i), **{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}}
                    for i, row in islands_df.iterrows()],
        "overloaded_branches": [{"name": n, "kind": r["kind"], "loading_percent": float(r["loading_percent"])}
                                for n, r in over.iterrows()],
        "outaged_elements": int(len(applied.table)),
        "regions": {r: {k: (float(v) if k not in ("customers", "customers_without_power") else int(v))
                        for k, v in row.items() if k not in ("x_km", "y_km")}
                    for r, row in regions.iterrows()},
    }

"""describe_network: what a network contains (regions, plants, substations, interconnectors), as plain data."""

from __future__ import annotations

import pandas as pd


def _col(df: pd.DataFrame, name: str, default) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(default, index=df.index)


def describe_network(net, name: str = "") -> dict:
    """A JSON-ready description of a data-contract network, for ``gridsim network``."""
    bus, gen, load = net.bus, net.gen, net.load
    gen_on = gen[gen["in_service"].astype(bool)]
    kind = _col(gen_on, "kind", "unit").fillna("unit")
    units, ics = gen_on[kind == "unit"], gen_on[kind == "interconnector"]
    bus_region = _col(bus, "region", "all").astype(str)

    regions = []
    meta = net["regions"] if "regions" in net and isinstance(net["regions"], pd.DataFrame) else pd.DataFrame()
    load_region = _col(load, "region", "all").astype(str)
    gen_region = _col(gen_on, "region", "all").astype(str)
    for r in sorted(set(bus_region)):
        regions.append({
            "name": r,
            "demand_mw": round(float(load.loc[load_region == r, "p_mw"].sum()), 3),
            "capacity_mw": round(float(gen_on.loc[gen_region == r, "max_p_mw"].sum()), 3),
            "customers": int(_col(load, "customers", 0).loc[load_region == r].sum()),
            "substations": int(_col(bus, "substation", "").loc[bus_region == r].nunique()),
            "x_km": float(meta.at[r, "x_km"]) if r in meta.index else None,
            "y_km": float(meta.at[r, "y_km"]) if r in meta.index else None,
        })

    plants = []
    for plant, grp in units.groupby(_col(units, "plant", "").astype(str), sort=False):
        plants.append({"name": plant, "fuel": str(_col(grp, "fuel", "other").iloc[0]),
                       "region": str(_col(grp, "region", "all").iloc[0]), "units": int(len(grp)),
                       "capacity_mw": round(float(grp["max_p_mw"].sum()), 3),
                       "substation": str(_col(bus, "substation", "").loc[grp["bus"].iloc[0]])})
    plants.sort(key=lambda p: -p["capacity_mw"])

    subs = []
    for sub, grp in bus.groupby(_col(bus, "substation", "").astype(str), sort=False):
        subs.append({"name": sub, "region": str(_col(grp, "region", "all").iloc[0]),
                     "voltages_kv": sorted({float(v) for v in grp["vn_kv"]}, reverse=True),
                     "buses": int(len(grp))})
    subs.sort(key=lambda s: (-s["voltages_kv"][0], s["name"]))

    interconnectors = [{"name": str(r.get("plant", r["name"])), "region": str(r.get("region", "")),
                        "capacity_mw": round(float(r["max_p_mw"]), 3),
                        "substation": str(_col(bus, "substation", "").loc[r["bus"]])}
                       for _, r in ics.iterrows()]
    fuel_mix = units.groupby(_col(units, "fuel", "other").astype(str))["max_p_mw"].sum().round(3)
    lines_by_kv = net.line.groupby(bus.loc[net.line["from_bus"], "vn_kv"].to_numpy()).size() \
        if len(net.line) else pd.Series(dtype=int)
    return {
        "name": name or str(net.name or ""),
        "totals": {
            "buses": int(len(bus)), "lines": int(len(net.line)), "transformers": int(len(net.trafo)),
            "units": int(len(units)), "plants": len(plants), "substations": len(subs),
            "interconnectors": len(interconnectors), "loads": int(len(load)),
            "demand_mw": round(float(load.loc[load["in_service"].astype(bool), "p_mw"].sum()), 3),
            "capacity_mw": round(float(units["max_p_mw"].sum()), 3),
            "import_capacity_mw": round(float(ics["max_p_mw"].sum()), 3),
            "customers": int(_col(load, "customers", 0).sum()),
        },
        "fuel_mix_mw": {k: float(v) for k, v in fuel_mix.items()},
        "lines_by_kv": {str(float(k)): int(v) for k, v in lines_by_kv.items()},
        "regions": regions,
        "plants": plants,
        "substations": subs,
        "interconnectors": interconnectors,
    }

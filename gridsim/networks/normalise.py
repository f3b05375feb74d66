"""``normalise_net(net, source)``: a pandapowerNet brought to the gridsim data contract (docs/architecture.md).

It turns every ``ext_grid`` and ``sgen`` into a ``gen`` and fills each contract column that is still missing.
It changes ``net`` in place and returns it; running it twice changes nothing. Every reader in
``gridsim.networks.importers`` ends here; what a reader filled already (MATPOWER names, areas, ratings) is kept.

Naming rules (names are unique within their table):

- pandapower: an element keeps its ``name`` where that is non-empty and unique within its table, otherwise
  it is named by its table index as text; an unnamed ext_grid/sgen becomes ``"ext_grid I"``/``"sgen I"``
  (its old index). A name that still repeats gets ``"#2"``, ``"#3"``, ... in table order.
- plant: ``"bus <bus name>"`` (the units at one bus form one plant); an interconnector is its own plant.

Other rules: a missing rating is stored as ``UNLIMITED_MVA``; region is ``"area N"`` from a numeric pandapower
``zone``, the zone text otherwise, else ``"all"``; an ``ext_grid`` without power limits is an interconnector
(fuel ``import``) of +-``UNLIMITED_MW``; customers are ``round(CUSTOMERS_PER_MW * p_mw)`` (at least 1 for a
positive load), priority 2. Load, sgen and gen ``scaling`` is folded into ``p_mw`` so that ``p_mw`` is the
demand/output. Coordinates come from pandapower ``geo`` (lon/lat projected to km when it looks geographic) or a
generated layout in a ~1000 km box (``gridsim.networks.layout``).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pandapower as pp

from gridsim.networks.layout import bus_xy

UNLIMITED_MVA = 1e5  #: a branch rating of 0 in MATPOWER means "no limit"; stored as this
UNLIMITED_MW = 1e5  #: capacity (both directions) of an ext_grid that has no power limits
CUSTOMERS_PER_MW = 400  #: customers per MW of demand, for the ``customers`` estimate
DEFAULT_PRIORITY = 2

#: MATPOWER ``genfuel`` strings -> contract fuels (anything else is "other")
FUELS = {"nuclear": "nuclear", "coal": "coal", "lignite": "coal", "ng": "gas", "gas": "gas", "lng": "gas",
         "hydro": "hydro", "hydrops": "pumped_storage", "pumped_storage": "pumped_storage", "solar": "solar",
         "pv": "solar", "wind": "wind", "wp": "wind", "import": "import"}
#: contract columns copied from an ext_grid/sgen into the gen that replaces it
_CARRIED = ("plant", "fuel", "kind", "region", "mp_gen_row")
_NAMED = ("bus", "line", "trafo", "trafo3w", "impedance", "gen", "load", "shunt", "storage", "switch",
          "dcline", "ward", "xward")


def normalise_net(net: pp.pandapowerNet, source: str) -> pp.pandapowerNet:
    """Bring ``net`` to the data contract in place and return it (``source`` is recorded in ``net["source"]``).

    Columns already filled (e.g. by ``load_matpower``) are kept; only missing values are filled.
    """
    _sources_to_gen(net)
    for table in _NAMED:
        if table in net and len(net[table]):
            net[table]["name"] = _names(net[table])
    bus = net.bus
    _fill(bus, "substation", bus["name"])
    _fill(bus, "region", [_region(z) for z in bus.get("zone", pd.Series(None, index=bus.index))])
    if not {"x_km", "y_km"} <= set(bus) or bus[["x_km", "y_km"]].isna().any(axis=None):
        xy = bus_xy(net)
        bus["x_km"], bus["y_km"] = xy[:, 0], xy[:, 1]
    _fill_branches(net)
    _fill_gens(net)
    _fill_loads(net)
    net["regions"] = _regions(net)
    net["source"] = source
    if not net.name:
        net.name = source
    pp.reset_results(net)
    return net


def _sources_to_gen(net) -> None:
    """Every ext_grid and sgen becomes a gen (p, limits, vm setpoint, q limits, status); no slack is set.

    ``gen.converted_from`` records "ext_grid"/"sgen" ("" for a native gen). An sgen regulates to the
    setpoint of another source at its bus, else to its bus voltage in a power flow of the net as given (so
    the intact net solves exactly as before), else its own ``vm_pu`` column (MATPOWER VG), else 1.0 pu.
    Costs follow their generator. Gens are ordered by ``mp_gen_row`` where present.
    """
    moved: dict[tuple[str, int], int] = {}
    _fill(net.gen, "converted_from", "")
    regulated = pd.concat([net.gen["bus"], net.ext_grid["bus"]])
    base_vm = _base_case_vm(net) if (~net.sgen["bus"].isin(regulated)).any() else pd.Series(dtype=float)
    for et in ("ext_grid", "sgen"):
        src = net[et]
        if src.empty:
            continue
        scaling = src["scaling"].fillna(1.0) if "scaling" in src else 1.0
        p = src["p_mw"].fillna(0.0) * scaling if "p_mw" in src else pd.Series(0.0, index=src.index)
        same_bus = src["bus"].map(net.gen.drop_duplicates("bus").set_index("bus")["vm_pu"])
        own = src["vm_pu"] if "vm_pu" in src else pd.Series(np.nan, index=src.index)
        if et == "ext_grid":
            vm = own.fillna(same_bus).fillna(1.0)
        else:
            vm = same_bus.fillna(src["bus"].map(base_vm)).fillna(own).fillna(1.0)
        name = _text(src["name"]) if "name" in src else pd.Series("", index=src.index)
        name = name.where(name != "", et + " " + src.index.astype(str))

        def col(c, default=np.nan):
            return src[c].to_numpy() if c in src else np.full(len(src), default)

        new = pp.create_gens(net, src["bus"].to_numpy(), p_mw=p.to_numpy(), vm_pu=vm.to_numpy(),
                             sn_mva=col("sn_mva"), name=name.to_numpy(), max_p_mw=col("max_p_mw"),
                             min_p_mw=col("min_p_mw"), max_q_mvar=col("max_q_mvar"),
                             min_q_mvar=col("min_q_mvar"), in_service=src["in_service"].to_numpy(bool),
                             controllable=np.where(pd.isna(col("controllable", True)), True,
                                                   col("controllable", True)).astype(bool),
                             type=col("type", None))
        for c in _CARRIED:
            if c in src:
                net.gen.loc[new, c] = src[c].to_numpy()
        net.gen.loc[new, "converted_from"] = et
        moved.update({(et, int(old)): int(n) for old, n in zip(src.index, new)})
        net[et] = src.iloc[0:0]
    order = net.gen.index
    if "mp_gen_row" in net.gen:
        order = net.gen.sort_values("mp_gen_row", kind="stable", na_position="last").index
        net.gen["mp_gen_row"] = net.gen["mp_gen_row"].astype("Int64")
    renumber = dict(zip(order, range(len(order))))
    net.gen = net.gen.loc[order].set_axis(pd.RangeIndex(len(order)))
    for table in ("poly_cost", "pwl_cost"):
        cost = net[table]
        if len(cost):
            source = [(et, int(e)) for et, e in zip(cost["et"], cost["element"])]
            target = [(("gen", renumber[moved.get(s, s[1])]) if s[0] in ("gen", "ext_grid", "sgen") else s)
                      for s in source]
            cost["et"] = [t[0] for t in target]
            cost["element"] = np.array([t[1] for t in target], dtype=cost["element"].dtype)


def _base_case_vm(net) -> pd.Series:
    """Bus voltages (pu) from an AC power flow of ``net`` as it is; empty when that does not solve."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net)
    except Exception:  # noqa: BLE001 - no solution just means no setpoints from it
        return pd.Series(dtype=float)
    return net.res_bus["vm_pu"].dropna() if net.converged else pd.Series(dtype=float)


def _fill_branches(net) -> None:
    bus = net.bus
    line, trafo = net.line, net.trafo
    _fill(line, "region", bus.loc[line["from_bus"], "region"].to_numpy())
    vn = bus.loc[line["from_bus"], "vn_kv"].to_numpy()
    _fill(line, "rate_a_mva", (line["max_i_ka"] * line["df"] * line["parallel"] * math.sqrt(3) * vn)
          .fillna(UNLIMITED_MVA))
    _fill(trafo, "region", bus.loc[trafo["hv_bus"], "region"].to_numpy())
    _fill(trafo, "substation", bus.loc[trafo["hv_bus"], "substation"].to_numpy())
    _fill(trafo, "rate_a_mva", (trafo["sn_mva"] * trafo["df"] * trafo["parallel"]).fillna(UNLIMITED_MVA))
    for table in (line, trafo):
        _fill(table, "rate_b_mva", table["rate_a_mva"])
        _fill(table, "rate_c_mva", table["rate_a_mva"])
    for table, end in (("trafo3w", "hv_bus"), ("impedance", "from_bus")):
        if len(net[table]):
            _fill(net[table], "region", bus.loc[net[table][end], "region"].to_numpy())
    if len(net.trafo3w):
        _fill(net.trafo3w, "substation", bus.loc[net.trafo3w["hv_bus"], "substation"].to_numpy())


def _fill_gens(net) -> None:
    gen, bus = net.gen, net.bus
    if "scaling" in gen:
        gen["p_mw"] *= gen["scaling"].fillna(1.0)
        gen["scaling"] = 1.0
    unlimited = (gen["converted_from"] == "ext_grid") & ~np.isfinite(gen.get("max_p_mw", np.nan))
    guess = [FUELS.get(str(t).strip().lower(), "other") for t in gen["type"]] if "type" in gen else "other"
    _fill(gen, "fuel", np.where(unlimited, "import", guess))
    _fill(gen, "kind", np.where(gen["fuel"] == "import", "interconnector", "unit"))
    _fill(gen, "plant", np.where(gen["kind"] == "interconnector", gen["name"],
                                 "bus " + bus.loc[gen["bus"], "name"].to_numpy()))
    _fill(gen, "region", bus.loc[gen["bus"], "region"].to_numpy())
    interconnector = gen["kind"] == "interconnector"
    sn = gen["sn_mva"].where(gen["sn_mva"] > 0) if "sn_mva" in gen else np.nan
    _fill(gen, "max_p_mw", np.where(interconnector, UNLIMITED_MW, np.fmax(sn, gen["p_mw"].clip(lower=0))))
    _fill(gen, "min_p_mw", np.where(interconnector, -UNLIMITED_MW, 0.0))
    gen["max_p_mw"] = gen["max_p_mw"].where(np.isfinite(gen["max_p_mw"]), UNLIMITED_MW)
    gen["slack"] = False


def _fill_loads(net) -> None:
    load = net.load
    if "scaling" in load:
        load["p_mw"] *= load["scaling"].fillna(1.0)
        load["q_mvar"] *= load["scaling"].fillna(1.0)
        load["scaling"] = 1.0
    _fill(load, "region", net.bus.loc[load["bus"], "region"].to_numpy())
    p = load["p_mw"].clip(lower=0)
    _fill(load, "customers", np.where(p > 0, np.maximum(1, np.round(CUSTOMERS_PER_MW * p)), 0))
    load["customers"] = load["customers"].astype(np.int64)
    _fill(load, "priority", DEFAULT_PRIORITY)
    load["priority"] = load["priority"].astype(np.int64)


def _regions(net) -> pd.DataFrame:
    bus, load = net.bus, net.load
    on = load[load["in_service"]]
    demand = on.groupby("region")["p_mw"].sum()
    table = bus.groupby("region")[["x_km", "y_km"]].mean()
    total = demand.sum()
    table["demand_share"] = (demand.reindex(table.index, fill_value=0.0) / total) if total > 0 else 0.0
    table["customers"] = on.groupby("region")["customers"].sum().reindex(table.index, fill_value=0)
    table["customers"] = table["customers"].astype(np.int64)
    table.index.name = "region"
    return table


# -------------------------------------------------------------------------------------- small helpers

def _fill(df: pd.DataFrame, col: str, values) -> None:
    """Set ``df[col]`` where it is missing (the whole column if absent)."""
    values = pd.Series(values, index=df.index) if not np.isscalar(values) else values
    if col not in df:
        df[col] = values
    elif df[col].isna().any():
        df[col] = df[col].where(df[col].notna(), values)


def _num_text(v) -> str:
    return str(int(v)) if isinstance(v, (int, float, np.number)) and float(v).is_integer() else str(v).strip()


def _text(s: pd.Series) -> pd.Series:
    return pd.Series(["" if v is None or (isinstance(v, float) and math.isnan(v)) else _num_text(v) for v in s],
                     index=s.index, dtype=object)


def _names(df: pd.DataFrame) -> pd.Series:
    """Name where non-empty and unique in the table, else the index as text; repeats get "#2", "#3"."""
    text = _text(df["name"]) if "name" in df else pd.Series("", index=df.index, dtype=object)
    keep = (text != "") & ~text.duplicated(keep=False)
    names = text.where(keep, pd.Series(df.index.astype(str), index=df.index))
    if names.is_unique:
        return names
    taken, seen, out = set(names), set(), []
    for name in names:
        if name in seen:
            k = 2
            while f"{name}#{k}" in taken:
                k += 1
            name = f"{name}#{k}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return pd.Series(out, index=df.index, dtype=object)


def _region(zone) -> str:
    if zone is None or (isinstance(zone, float) and math.isnan(zone)) or str(zone).strip() == "":
        return "all"
    text = _num_text(zone)
    return f"area {text}" if re.fullmatch(r"-?\d+(\.\d+)?", text) else text

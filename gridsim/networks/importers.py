"""MATPOWER and pandapower networks, normalised to the gridsim data contract (docs/architecture.md).

Three readers end in one normaliser:

- ``load_matpower(path)``: a MATPOWER ``.m`` case, parsed once with matpowercaseframes and converted by
  pandapower's ``from_ppc``. What pandapower drops (areas, rate B/C, ``genfuel``, row numbers) is taken
  from the case itself.
- ``load_pandapower_json(path)`` and ``load_pandapower_case(name)`` (a function of ``pandapower.networks``).
- ``normalise_net(net, source)``: turns every ``ext_grid`` and ``sgen`` into a ``gen`` and fills each contract
  column that is still missing. It changes ``net`` in place and returns it; running it twice changes nothing.

Naming rules (names are unique within their table):

- MATPOWER: bus ``"11"`` (the bus number), line/trafo ``"F-T"`` with MATPOWER's from/to buses and
  ``"F-T#2"``, ``"F-T#3"`` for further circuits between the same two buses (either direction) in
  branch-table order, gen ``"gen R"`` (R = 1-based gen row), load ``"load B"``, a negative bus demand
  ``"injection B"`` (a gen fixed at that output). A branch's region is that of its MATPOWER from-bus.
- pandapower: an element keeps its ``name`` where that is non-empty and unique within its table, otherwise
  it is named by its table index as text; an unnamed ext_grid/sgen becomes ``"ext_grid I"``/``"sgen I"``
  (its old index). A name that still repeats gets ``"#2"``, ``"#3"``, ... in table order.
- plant: ``"bus <bus name>"`` (the units at one bus form one plant); an interconnector is its own plant.

Other rules: MATPOWER's rating 0 ("unlimited") is stored as ``UNLIMITED_MVA``; region is ``"area N"`` from
MATPOWER bus column 7 or a numeric pandapower ``zone``, the zone text otherwise, else ``"all"``; an ``ext_grid``
without power limits is an interconnector (fuel ``import``) of +-``UNLIMITED_MW``; customers are
``round(CUSTOMERS_PER_MW * p_mw)`` (at least 1 for a positive load), priority 2. Load, sgen and gen
``scaling`` is folded into ``p_mw`` so that ``p_mw`` is the demand/output. Coordinates come from pandapower
``geo`` (lon/lat projected to km when it looks geographic) or a generated layout in a ~1000 km box.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pandapower as pp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from gridsim.errors import NetworkError, did_you_mean

UNLIMITED_MVA = 1e5  #: a branch rating of 0 in MATPOWER means "no limit"; stored as this
UNLIMITED_MW = 1e5  #: capacity (both directions) of an ext_grid that has no power limits
CUSTOMERS_PER_MW = 400  #: customers per MW of demand, for the ``customers`` estimate
DEFAULT_PRIORITY = 2
LAYOUT_BOX_KM = 1000.0  #: generated layouts and non-geographic coordinates fill a box this wide
MATPOWER_F_HZ = 50

#: MATPOWER ``genfuel`` strings -> contract fuels (anything else is "other")
FUELS = {"nuclear": "nuclear", "coal": "coal", "lignite": "coal", "ng": "gas", "gas": "gas", "lng": "gas",
         "hydro": "hydro", "hydrops": "pumped_storage", "pumped_storage": "pumped_storage", "solar": "solar",
         "pv": "solar", "wind": "wind", "wp": "wind", "import": "import"}
#: contract columns copied from an ext_grid/sgen into the gen that replaces it
_CARRIED = ("plant", "fuel", "kind", "region", "mp_gen_row")
_NAMED = ("bus", "line", "trafo", "trafo3w", "impedance", "gen", "load", "shunt", "storage", "switch",
          "dcline", "ward", "xward")


# ---------------------------------------------------------------------------------------------- readers

def load_matpower(path: str | Path) -> pp.pandapowerNet:
    """Read a MATPOWER ``.m`` case and normalise it; see the module docstring for the naming rules."""
    from matpowercaseframes import CaseFrames
    from pandapower.converter.pypower import from_ppc

    path = Path(path)
    try:
        case = CaseFrames(str(path))
        net = from_ppc(_ppc(case), f_hz=MATPOWER_F_HZ)
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad network file
        raise NetworkError(f"cannot read MATPOWER case {path}: {err}") from err
    bus_of = pd.Series(net.bus.index, index=case.bus["BUS_I"].astype(int).to_numpy())
    _tag_matpower_buses(net, case)
    _tag_matpower_gens(net, case, bus_of, _read_genfuel(path, len(case.gen)))
    _impedances_to_lines(net, case, bus_of)
    _tag_matpower_branches(net, case)
    net.load["name"] = "load " + net.bus.loc[net.load.bus, "name"].to_numpy()
    normalise_net(net, f"matpower:{path.name}")
    rows = net.gen["mp_gen_row"].dropna().astype(int)
    net._from_ppc_lookups["gen"] = pd.DataFrame({"element": rows.index.to_numpy(), "element_type": "gen"},
                                                index=rows.to_numpy() - 1).sort_index()
    return net


def load_pandapower_json(path: str | Path) -> pp.pandapowerNet:
    """Read a pandapower ``.json`` file (``pandapower.to_json``) and normalise it."""
    path = Path(path)
    try:
        net = pp.from_json(str(path))
    except Exception as err:  # noqa: BLE001
        raise NetworkError(f"cannot read pandapower JSON {path}: {err}") from err
    return normalise_net(net, f"pandapower-json:{path.name}")


def pandapower_case_names() -> list[str]:
    """Functions of ``pandapower.networks`` that build a network without arguments."""
    import inspect

    import pandapower.networks as pn

    def takes_no_args(fn) -> bool:
        return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                   for p in inspect.signature(fn).parameters.values())

    return sorted(name for name, fn in inspect.getmembers(pn, inspect.isfunction)
                  if fn.__module__.startswith("pandapower.networks") and not name.startswith("_")
                  and takes_no_args(fn))


def load_pandapower_case(name: str) -> pp.pandapowerNet:
    """Build ``pandapower.networks.<name>()`` (e.g. ``case118``, ``mv_oberrhein``) and normalise it."""
    import pandapower.networks as pn

    names = pandapower_case_names()
    if name not in names:
        raise NetworkError(f"unknown pandapower case '{name}'{did_you_mean(name, names)}: "
                           f"use a function of pandapower.networks, e.g. case118, case_illinois200, mv_oberrhein")
    try:
        net = getattr(pn, name)()
    except Exception as err:  # noqa: BLE001
        raise NetworkError(f"pandapower case '{name}' could not be built: {err}") from err
    return normalise_net(net, f"pandapower:{name}")


# ------------------------------------------------------------------------------------- MATPOWER details

def _ppc(case) -> dict:
    """The pypower dict ``from_mpc`` would build: 0-based bus numbers, TAP 0 -> 1."""
    ppc = {"version": "2", "baseMVA": float(case.baseMVA)}
    for key in ("bus", "gen", "branch", "gencost"):
        if key in case.attributes:
            ppc[key] = np.array(getattr(case, key).to_numpy(dtype=float), ndmin=2)
    ppc["bus"][:, 0] -= 1
    ppc["gen"][:, 0] -= 1
    ppc["branch"][:, :2] -= 1
    ppc["branch"][ppc["branch"][:, 8] == 0, 8] = 1
    return ppc


def _read_genfuel(path: Path, n_gen: int) -> list[str]:
    """``mpc.genfuel`` mapped to contract fuels (matpowercaseframes does not parse it), else "other"."""
    match = re.search(r"mpc\.genfuel\s*=\s*\{(.*?)\}", path.read_text(errors="replace"), re.S)
    fuels = re.findall(r"'([^']*)'", match.group(1)) if match else []
    if len(fuels) != n_gen:
        return ["other"] * n_gen
    return [FUELS.get(f.strip().lower(), "other") for f in fuels]


def _tag_matpower_buses(net, case) -> None:
    number = case.bus["BUS_I"].astype(int).to_numpy()
    net.bus["mp_bus"] = number
    net.bus["name"] = number.astype(str)
    net.bus["substation"] = net.bus["name"]
    net.bus["region"] = ["area " + _num_text(a) for a in case.bus["BUS_AREA"]]


def _tag_matpower_gens(net, case, bus_of: pd.Series, fuels: list[str]) -> None:
    """Contract columns on whatever from_ppc made of each gen row (gen, ext_grid or sgen)."""
    gen = case.gen.reset_index(drop=True)
    lookup = net._from_ppc_lookups["gen"]
    gen_bus = gen["GEN_BUS"].astype(int)
    names = [f"gen {r}" for r in range(1, len(gen) + 1)]
    imports = np.array(fuels) == "import"  # an interconnector is its own plant
    tags = pd.DataFrame({"mp_gen_row": np.arange(1, len(gen) + 1), "name": names,
                         "plant": np.where(imports, names, "bus " + gen_bus.astype(str)), "fuel": fuels,
                         "kind": np.where(imports, "interconnector", "unit")})
    for table in ("gen", "ext_grid", "sgen"):
        rows = np.flatnonzero(lookup["element_type"] == table)
        idx = lookup["element"].to_numpy()[rows].astype(int)
        for col in tags:
            net[table].loc[idx, col] = tags[col].to_numpy()[rows]
        if table != "gen":  # pandapower keeps neither PG for the ext_grid nor VG for an sgen
            net[table].loc[idx, "p_mw"] = gen["PG"].to_numpy()[rows]
            net[table].loc[idx, "vm_pu"] = gen["VG"].to_numpy()[rows]
            net[table].loc[idx, "sn_mva"] = gen["MBASE"].to_numpy()[rows]
    injections = net.sgen.index.difference(lookup["element"][lookup["element_type"] == "sgen"].astype(int))
    if len(injections):  # negative demand in the bus table: a gen fixed at that output
        bus_no = net.bus.loc[net.sgen.loc[injections, "bus"], "name"].to_numpy()
        net.sgen.loc[injections, "name"] = "injection " + bus_no
        net.sgen.loc[injections, "plant"] = "bus " + bus_no
        net.sgen.loc[injections, ["fuel", "kind"]] = ["other", "unit"]
        net.sgen.loc[injections, "max_p_mw"] = net.sgen.loc[injections, "p_mw"]
        net.sgen.loc[injections, "min_p_mw"] = net.sgen.loc[injections, "p_mw"]
    lost = np.flatnonzero(lookup["element_type"] == "")
    if len(lost):  # from_ppc skips gens on isolated (type 4) buses; keep them, out of service
        g = gen.iloc[lost]
        pp.create_gens(net, bus_of.loc[gen_bus.iloc[lost]].to_numpy(), p_mw=g["PG"].to_numpy(),
                       vm_pu=g["VG"].to_numpy(), sn_mva=g["MBASE"].to_numpy(), max_p_mw=g["PMAX"].to_numpy(),
                       min_p_mw=g["PMIN"].to_numpy(), max_q_mvar=g["QMAX"].to_numpy(),
                       min_q_mvar=g["QMIN"].to_numpy(), in_service=np.zeros(len(lost), bool),
                       controllable=True, **{c: tags[c].to_numpy()[lost] for c in tags})


def _impedances_to_lines(net, case, bus_of: pd.Series) -> None:
    """Replace the ``impedance`` elements from_ppc makes of untapped branches between different base kV.

    Such a branch is a plain pi branch in per unit, so a line with ohmic values on its lower-voltage end's
    base reproduces it exactly (pandapower takes a line's base from its from-bus, so that end becomes the
    from-bus). ``max_i_ka`` is rate A at that voltage, so ``max_i_ka * sqrt(3) * vn_kv(from_bus)`` = rate A.
    """
    lookup = net._from_ppc_lookups["branch"]
    rows = np.flatnonzero(lookup["element_type"] == "impedance")
    if not len(rows):
        return
    br = case.branch.iloc[rows]
    f = bus_of.loc[br["F_BUS"].astype(int)].to_numpy()
    t = bus_of.loc[br["T_BUS"].astype(int)].to_numpy()
    kv_f, kv_t = net.bus.loc[f, "vn_kv"].to_numpy(), net.bus.loc[t, "vn_kv"].to_numpy()
    swap = kv_f > kv_t
    kv = np.minimum(kv_f, kv_t)
    base_ohm = kv**2 / net.sn_mva
    rate = br["RATE_A"].to_numpy(dtype=float)
    old = lookup["element"].to_numpy()[rows].astype(int)
    new = pp.create_lines_from_parameters(
        net, np.where(swap, t, f), np.where(swap, f, t), length_km=1.0,
        r_ohm_per_km=br["BR_R"].to_numpy() * base_ohm, x_ohm_per_km=br["BR_X"].to_numpy() * base_ohm,
        c_nf_per_km=br["BR_B"].to_numpy() / (2 * math.pi * net.f_hz * base_ohm) * 1e9,
        max_i_ka=np.where(rate > 0, rate, UNLIMITED_MVA) / (math.sqrt(3) * kv), type="ol",
        max_loading_percent=100.0, in_service=net.impedance.loc[old, "in_service"].to_numpy())
    net.impedance = net.impedance.drop(index=old)
    lookup.loc[rows, "element"] = new
    lookup.loc[rows, "element_type"] = "line"


def _tag_matpower_branches(net, case) -> None:
    """Names, row numbers, ratings (0 -> UNLIMITED_MVA) and from-bus region of every line and trafo."""
    br = case.branch.reset_index(drop=True)
    f, t = br["F_BUS"].astype(int), br["T_BUS"].astype(int)
    pair = f.astype(str) + "-" + t.astype(str)
    circuit = pair.groupby([np.minimum(f, t), np.maximum(f, t)]).cumcount() + 1  # either direction
    region = pd.Series(net.bus["region"].to_numpy(), index=net.bus["mp_bus"].to_numpy())
    tags = pd.DataFrame({"name": pair.where(circuit == 1, pair + "#" + circuit.astype(str)),
                         "mp_branch_row": np.arange(1, len(br) + 1), "region": region.loc[f].to_numpy()})
    for col, src in (("rate_a_mva", "RATE_A"), ("rate_b_mva", "RATE_B"), ("rate_c_mva", "RATE_C")):
        tags[col] = br[src].where(br[src] > 0, UNLIMITED_MVA)
    lookup = net._from_ppc_lookups["branch"]
    for table in ("line", "trafo"):
        rows = np.flatnonzero(lookup["element_type"] == table)
        idx = lookup["element"].to_numpy()[rows].astype(int)
        for col in tags:
            if col not in net[table]:
                net[table][col] = pd.Series(dtype=tags[col].dtype)
            net[table].loc[idx, col] = tags[col].to_numpy()[rows]
        net[table]["mp_branch_row"] = net[table]["mp_branch_row"].astype("Int64")
    lookup["element"] = lookup["element"].astype(int)


# ------------------------------------------------------------------------------------------ normaliser

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
        xy = _bus_xy(net)
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


# ------------------------------------------------------------------------------------------ coordinates

def _edges(net) -> tuple[np.ndarray, np.ndarray]:
    """Bus positions (0..n-1) at both ends of every branch and bus-bus switch, whatever its status."""
    pairs = [(net.line, "from_bus", "to_bus"), (net.trafo, "hv_bus", "lv_bus"), (net.trafo3w, "hv_bus", "mv_bus"),
             (net.trafo3w, "hv_bus", "lv_bus"), (net.impedance, "from_bus", "to_bus"),
             (net.dcline, "from_bus", "to_bus"), (net.switch[net.switch["et"] == "b"], "bus", "element")]
    pairs = [(t, x, y) for t, x, y in pairs if x in t and y in t]
    a = np.concatenate([t[x].to_numpy(dtype=np.int64) for t, x, _ in pairs] + [np.zeros(0, np.int64)])
    b = np.concatenate([t[y].to_numpy(dtype=np.int64) for t, _, y in pairs] + [np.zeros(0, np.int64)])
    i, j = net.bus.index.get_indexer(a), net.bus.index.get_indexer(b)
    ok = (i >= 0) & (j >= 0) & (i != j)
    return i[ok], j[ok]


def _bus_xy(net) -> np.ndarray:
    """Bus coordinates in km: from ``geo`` when at least half the buses have it, else a generated layout."""
    n = len(net.bus)
    i, j = _edges(net)
    xy = _geo_points(net.bus)
    found = ~np.isnan(xy[:, 0])
    if n == 0 or found.sum() < max(1, n / 2):
        return _box(_layout(n, i, j))
    lon, lat = xy[found, 0], xy[found, 1]
    if (np.abs(lon).max() <= 180 and np.abs(lat).max() <= 90 and np.ptp(lon) <= 20 and np.ptp(lat) <= 20
            and abs(lat.mean()) >= 15):  # looks like lon/lat: project to km (equirectangular)
        xy = np.c_[(xy[:, 0] - lon.min()) * 111.32 * math.cos(math.radians(lat.mean())),
                   (xy[:, 1] - lat.min()) * 110.574]
    else:
        xy = _box(xy)
    for _ in range(10):  # a bus without geo sits at the mean of its placed neighbours
        if found.all():
            break
        ends = np.r_[i, j], np.r_[j, i]
        use = found[ends[1]] & ~found[ends[0]]
        cnt = np.bincount(ends[0][use], minlength=n)
        for k in (0, 1):
            s = np.bincount(ends[0][use], weights=xy[ends[1][use], k], minlength=n)
            xy[cnt > 0, k] = s[cnt > 0] / cnt[cnt > 0]
        found = found | (cnt > 0)
    xy[~found] = np.nanmean(xy[found], axis=0)
    return xy


def _geo_points(bus: pd.DataFrame) -> np.ndarray:
    xy = np.full((len(bus), 2), np.nan)
    for k, g in enumerate(bus["geo"] if "geo" in bus else []):
        try:
            c = (json.loads(g) if isinstance(g, str) else g)["coordinates"]
            xy[k] = float(c[0]), float(c[1])
        except (TypeError, KeyError, IndexError, ValueError):
            continue
    return xy


def _box(xy: np.ndarray) -> np.ndarray:
    """Shift to the origin and scale the larger side to ``LAYOUT_BOX_KM``."""
    xy = xy - np.nanmin(xy, axis=0) if len(xy) else xy
    span = np.nanmax(xy) if len(xy) else 0.0
    return xy * (LAYOUT_BOX_KM / span) if span > 0 else xy


def _layout(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Deterministic layout: pivot MDS on hop distances per connected component, components shelf-packed."""
    adj = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adj = adj + adj.T
    n_comp, label = connected_components(adj, directed=False)
    members = sorted((np.flatnonzero(label == c) for c in range(n_comp)), key=lambda m: (-len(m), m[0]))
    parts = [_pivot_mds(adj[m][:, m]) for m in members]
    area = sum((np.ptp(p[:, 0]) + 2) * (np.ptp(p[:, 1]) + 2) for p in parts)
    width = max(max(np.ptp(p[:, 0]) + 2 for p in parts), math.sqrt(area))
    xy, x0, y0, row_h = np.zeros((n, 2)), 0.0, 0.0, 0.0
    for m, p in zip(members, parts):
        w, h = np.ptp(p[:, 0]) + 2, np.ptp(p[:, 1]) + 2
        if x0 > 0 and x0 + w > width:
            x0, y0, row_h = 0.0, y0 - row_h, 0.0
        xy[m] = p - p.min(axis=0) + [x0 + 1, y0 - h + 1]
        x0, row_h = x0 + w, max(row_h, h)
    return xy


def _pivot_mds(adj, pivots: int = 50) -> np.ndarray:
    """Brandes & Pich pivot MDS: 2-D coordinates, scaled so the median edge is 1 long."""
    n = adj.shape[0]
    if n <= 2:
        return np.c_[np.arange(n, dtype=float), np.zeros(n)]
    k = min(pivots, n)
    dist, nearest, p = np.empty((k, n)), np.full(n, np.inf), 0
    for row in range(k):
        dist[row] = shortest_path(adj, unweighted=True, indices=p)
        nearest = np.minimum(nearest, dist[row])
        p = int(np.argmax(nearest))
    d2 = dist.T**2
    c = -0.5 * (d2 - d2.mean(axis=0) - d2.mean(axis=1)[:, None] + d2.mean())
    _, vec = np.linalg.eigh(c.T @ c)  # top right-singular vectors; a k x k problem is far cheaper than svd
    xy = c @ vec[:, [-1, -2]]
    xy *= np.where(xy[np.abs(xy).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)  # fix the SVD's sign freedom
    a, b = coo_matrix(adj).row, coo_matrix(adj).col
    edge = np.median(np.hypot(*(xy[a] - xy[b]).T)) if len(a) else 1.0
    return xy / edge if edge > 0 else xy

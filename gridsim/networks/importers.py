"""MATPOWER and pandapower networks, read and handed to the normaliser (docs/architecture.md).

Three readers end in one normaliser, ``normalise_net`` (``gridsim.networks.normalise``):

- ``load_matpower(path)``: a MATPOWER ``.m`` case, parsed once with matpowercaseframes and converted by
  pandapower's ``from_ppc``. What pandapower drops (areas, rate B/C, ``genfuel``, row numbers) is taken
  from the case itself.
- ``load_pandapower_json(path)`` and ``load_pandapower_case(name)`` (a function of ``pandapower.networks``).

MATPOWER naming rules (names are unique within their table): bus ``"11"`` (the bus number), line/trafo
``"F-T"`` with MATPOWER's from/to buses and ``"F-T#2"``, ``"F-T#3"`` for further circuits between the same two
buses (either direction) in branch-table order, gen ``"gen R"`` (R = 1-based gen row), load ``"load B"``, a
negative bus demand ``"injection B"`` (a gen fixed at that output). A branch's region is that of its MATPOWER
from-bus; a bus's region is ``"area N"`` from MATPOWER bus column 7. MATPOWER's rating 0 ("unlimited") is
stored as ``UNLIMITED_MVA``. The pandapower naming rules and everything else the contract needs are the
normaliser's.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandapower as pp

from gridsim.errors import NetworkError, did_you_mean
from gridsim.limits import MAX_NETWORK_BYTES, read_limited
from gridsim.networks.normalise import FUELS, UNLIMITED_MVA, _num_text, normalise_net
from gridsim.networks.vetting import check_matpower_text, check_pandapower_json, check_pandapower_tables

MATPOWER_F_HZ = 50


# ---------------------------------------------------------------------------------------------- readers

def read_network_text(path: str | Path) -> str:
    """The text of a network file: a regular file of at most MAX_NETWORK_BYTES, UTF-8 (or Latin-1 for a
    MATPOWER case, whose comments are often in it). Raises NetworkError naming the file."""
    path = Path(path)
    raw = read_limited(path, MAX_NETWORK_BYTES, "MAX_NETWORK_BYTES", "network file",
                       lambda message: NetworkError(f"{path}: {message}"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if path.suffix.lower() == ".m" and b"\0" not in raw:
            return raw.decode("latin-1")
        raise NetworkError(f"{path}: not a text file (byte 0x{raw[exc.start]:02x} at offset {exc.start}); expected "
                           f"{'a MATPOWER case' if path.suffix.lower() == '.m' else 'pandapower JSON'}") from None


def load_matpower(path: str | Path) -> pp.pandapowerNet:
    """Read a MATPOWER ``.m`` case and normalise it; see the module docstring for the naming rules. The file is
    checked first (``vetting.check_matpower_text``): a file that is not a MATPOWER case is a NetworkError."""
    from matpowercaseframes import CaseFrames
    from pandapower.converter.pypower import from_ppc

    path = Path(path)
    text = read_network_text(path)
    check_matpower_text(text, path)
    try:
        case = CaseFrames(str(path))
        net = from_ppc(_ppc(case), f_hz=MATPOWER_F_HZ)
    except Exception as err:  # noqa: BLE001 - the checks passed, yet the converters refuse it: still the file
        raise NetworkError(f"{path}: the MATPOWER case could not be converted to a network; check that its "
                           "tables follow MATPOWER case format version 2") from err
    bus_of = pd.Series(net.bus.index, index=case.bus["BUS_I"].astype(int).to_numpy())
    _tag_matpower_buses(net, case)
    _tag_matpower_gens(net, case, bus_of, _read_genfuel(text, len(case.gen)))
    _impedances_to_lines(net, case, bus_of)
    _tag_matpower_branches(net, case)
    net.load["name"] = "load " + net.bus.loc[net.load.bus, "name"].to_numpy()
    normalise_net(net, f"matpower:{path.name}")
    rows = net.gen["mp_gen_row"].dropna().astype(int)
    net._from_ppc_lookups["gen"] = pd.DataFrame({"element": rows.index.to_numpy(), "element_type": "gen"},
                                                index=rows.to_numpy() - 1).sort_index()
    return net


def load_pandapower_json(path: str | Path) -> pp.pandapowerNet:
    """Read a pandapower ``.json`` file (``pandapower.to_json``) and normalise it. The text is checked before
    pandapower reads it (``vetting.check_pandapower_json``: the envelope and the module allow-list) and the
    tables after (``vetting.check_pandapower_tables``); any problem is a NetworkError naming the file."""
    path = Path(path)
    text = read_network_text(path)
    check_pandapower_json(text, path)
    try:
        net = pp.from_json_string(text, convert=True)
    except Exception as err:  # noqa: BLE001 - pandapower's own refusal of a file that passed the checks
        raise NetworkError(f"{path}: pandapower could not read this network (saved by an incompatible pandapower "
                           "version, or edited by hand?); expected a file written by pandapower.to_json") from err
    check_pandapower_tables(net, path)
    return normalise_net(net, f"pandapower-json:{path.name}")


#: file extension -> reader; ``build_network`` dispatches on it
READERS = {".m": load_matpower, ".json": load_pandapower_json}


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


def _read_genfuel(text: str, n_gen: int) -> list[str]:
    """``mpc.genfuel`` mapped to contract fuels (matpowercaseframes does not parse it), else "other"."""
    match = re.search(r"mpc\.genfuel\s*=\s*\{(.*?)\}", text, re.S)
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

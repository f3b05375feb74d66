"""Importers: MATPOWER and pandapower networks normalised to the data contract (docs/architecture.md).

The physics checks are differential: the normalised net must give the same DC (and, where no PQ-bus
generator is turned into a PV gen, the same AC) solution as pandapower's own ``from_mpc`` conversion.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest
from matpowercaseframes import CaseFrames
from pandapower.converter.matpower import from_mpc

from gridsim.errors import NetworkError
from gridsim.networks import build_network
from gridsim.networks.importers import load_matpower, load_pandapower_case, load_pandapower_json
from gridsim.networks.normalise import UNLIMITED_MVA, UNLIMITED_MW, normalise_net

PGLIB = Path(__file__).parent / "data" / "pglib"
CASE2000 = Path(__file__).parents[1] / "bench" / "data" / "pglib_opf_case2000_goc.m"
CASES = {"case14": "pglib_opf_case14_ieee.m", "case24": "pglib_opf_case24_ieee_rts.m",
         "case118": "pglib_opf_case118_ieee.m"}
FUELS = {"nuclear", "coal", "gas", "hydro", "pumped_storage", "solar", "wind", "import", "other"}
CONTRACT = {
    "bus": ["name", "substation", "region", "x_km", "y_km"],
    "line": ["name", "region", "rate_a_mva", "rate_b_mva", "rate_c_mva"],
    "trafo": ["name", "region", "substation", "rate_a_mva", "rate_b_mva", "rate_c_mva"],
    "gen": ["name", "plant", "fuel", "kind", "region", "max_p_mw", "min_p_mw"],
    "load": ["name", "region", "customers", "priority"],
}


def assert_contract(net: pp.pandapowerNet) -> None:
    """Every contract column is present and filled, names are unique, all generation is in gen."""
    for table, columns in CONTRACT.items():
        df = net[table]
        missing = [c for c in columns if c not in df]
        assert not missing, f"{table} lacks {missing}"
        assert not df[columns].isna().any(axis=None), f"{table} has empty contract values"
        assert df["name"].is_unique, f"{table} names repeat: {df['name'][df['name'].duplicated()].tolist()}"
        assert all(isinstance(n, str) and n for n in df["name"])
    assert net.ext_grid.empty and net.sgen.empty
    assert not net.gen["slack"].any()
    assert set(net.gen["fuel"]) <= FUELS
    assert set(net.gen["kind"]) <= {"unit", "interconnector"}
    assert (net.gen.loc[net.gen["kind"] == "interconnector", "fuel"] == "import").all()
    assert (net.gen["max_p_mw"] >= net.gen["min_p_mw"]).all()
    assert net.load["customers"].dtype == np.int64 and (net.load["customers"] >= 0).all()
    assert set(net.load["priority"]) <= {1, 2, 3}
    assert np.isfinite(net.bus[["x_km", "y_km"]].to_numpy()).all()
    regions = net["regions"]
    assert list(regions.columns) == ["x_km", "y_km", "demand_share", "customers"]
    assert set(regions.index) == set(net.bus["region"])
    assert regions["demand_share"].sum() == pytest.approx(1.0 if net.load["p_mw"].sum() > 0 else 0.0)
    assert regions["customers"].sum() == net.load.loc[net.load["in_service"], "customers"].sum()


def mark_slack(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """gridsim picks slacks itself; for plain pandapower runs use the gen that was the ext_grid."""
    net.gen.loc[net.gen["converted_from"] == "ext_grid", "slack"] = True
    return net


def flows_at_mp_from(net: pp.pandapowerNet, case: CaseFrames, raw: bool) -> np.ndarray:
    """P (MW) entering each MATPOWER branch at its MATPOWER from-bus, in branch-table order."""
    n = len(case.branch)
    if raw:
        lookup = net._from_ppc_lookups["branch"]
        rows, etype, elem = np.arange(n), lookup["element_type"].to_numpy(), lookup["element"].to_numpy(int)
        mp_bus = pd.Series(net.bus.index + 1, index=net.bus.index)
    else:
        parts = [(net.line["mp_branch_row"].to_numpy(int) - 1, "line", net.line.index.to_numpy()),
                 (net.trafo["mp_branch_row"].to_numpy(int) - 1, "trafo", net.trafo.index.to_numpy())]
        rows = np.concatenate([p[0] for p in parts])
        etype = np.concatenate([[p[1]] * len(p[0]) for p in parts])
        elem = np.concatenate([p[2] for p in parts])
        mp_bus = net.bus["mp_bus"]
    ends = {"line": ("from_bus", "p_from_mw", "p_to_mw"), "trafo": ("hv_bus", "p_hv_mw", "p_lv_mw"),
            "impedance": ("from_bus", "p_from_mw", "p_to_mw")}
    out = np.full(n, np.nan)
    f_bus = case.branch["F_BUS"].to_numpy(int)
    for row, et, e in zip(rows, etype, elem):
        first, p_first, p_second = ends[et]
        at_first = mp_bus[net[et].at[e, first]] == f_bus[row]
        out[row] = net[f"res_{et}"].at[e, p_first if at_first else p_second]
    return out


@pytest.fixture(params=sorted(CASES))
def case_path(request) -> Path:
    return PGLIB / CASES[request.param]


# ------------------------------------------------------------------------------------------- MATPOWER

def test_matpower_counts_and_totals_match_the_file(case_path):
    case, net = CaseFrames(str(case_path)), load_matpower(case_path)
    assert len(net.bus) == len(case.bus)
    assert len(net.gen) == len(case.gen)
    assert len(net.line) + len(net.trafo) == len(case.branch)
    assert net.impedance.empty
    assert net.load["p_mw"].sum() == pytest.approx(case.bus["PD"].sum())
    assert net.gen["max_p_mw"].sum() == pytest.approx(case.gen["PMAX"].sum())
    assert net.gen["min_p_mw"].sum() == pytest.approx(case.gen["PMIN"].sum())
    assert net.gen["p_mw"].sum() == pytest.approx(case.gen["PG"].sum())
    assert_contract(net)


def test_matpower_row_mappings_are_complete_and_right(case_path):
    case, net = CaseFrames(str(case_path)), load_matpower(case_path)
    assert net.bus["mp_bus"].tolist() == case.bus["BUS_I"].astype(int).tolist()
    assert sorted(net.gen["mp_gen_row"]) == list(range(1, len(case.gen) + 1))
    rows = pd.concat([net.line["mp_branch_row"], net.trafo["mp_branch_row"]])
    assert sorted(rows) == list(range(1, len(case.branch) + 1))
    gen = case.gen.reset_index(drop=True)
    by_row = net.gen.set_index("mp_gen_row")
    assert (net.bus.loc[by_row["bus"], "mp_bus"].to_numpy() == gen["GEN_BUS"].to_numpy(int)).all()
    assert by_row["max_p_mw"].sort_index().to_numpy() == pytest.approx(gen["PMAX"].to_numpy())
    assert (by_row.sort_index()["name"] == [f"gen {r}" for r in range(1, len(gen) + 1)]).all()
    br = case.branch.reset_index(drop=True)
    for table, a, b in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
        df = net[table]
        ends = set(zip(net.bus.loc[df[a], "mp_bus"], net.bus.loc[df[b], "mp_bus"]))
        ends |= {(y, x) for x, y in ends}
        expected = br.iloc[df["mp_branch_row"].to_numpy(int) - 1]
        assert set(zip(expected["F_BUS"].astype(int), expected["T_BUS"].astype(int))) <= ends


def test_matpower_branch_names_and_ratings_come_from_the_file(case_path):
    case, net = CaseFrames(str(case_path)), load_matpower(case_path)
    br = case.branch.reset_index(drop=True)
    branches = pd.concat([net.line, net.trafo]).set_index("mp_branch_row").sort_index()
    seen: dict[frozenset, int] = {}
    for row, (f, t) in enumerate(zip(br["F_BUS"].astype(int), br["T_BUS"].astype(int)), start=1):
        k = seen[frozenset((f, t))] = seen.get(frozenset((f, t)), 0) + 1
        assert branches.at[row, "name"] == (f"{f}-{t}" if k == 1 else f"{f}-{t}#{k}")
    for col, src in (("rate_a_mva", "RATE_A"), ("rate_b_mva", "RATE_B"), ("rate_c_mva", "RATE_C")):
        assert branches[col].to_numpy() == pytest.approx(br[src].where(br[src] > 0, UNLIMITED_MVA).to_numpy())
    assert pd.concat([net.line["name"], net.trafo["name"]]).is_unique


def test_parallel_circuits_are_numbered_in_branch_order():
    rts = load_matpower(PGLIB / CASES["case24"])
    assert rts.line.set_index("name").loc[["15-21", "15-21#2"], "mp_branch_row"].tolist() == [25, 26]
    assert (rts.line["rate_b_mva"] != rts.line["rate_a_mva"]).all()  # RTS-24 has distinct rate B
    ieee = load_matpower(PGLIB / CASES["case118"])
    assert ieee.line.set_index("name").loc[["42-49", "42-49#2"], "mp_branch_row"].tolist() == [66, 67]
    # scenario names resolve to the same circuit, whichever way round they are written
    from gridsim.networks.naming import resolve_name

    assert resolve_name(ieee, "line", "49-42#2").asset == "42-49#2"


def test_matpower_regions_are_areas(case_path):
    case, net = CaseFrames(str(case_path)), load_matpower(case_path)
    assert net.bus["region"].tolist() == [f"area {int(a)}" for a in case.bus["BUS_AREA"]]
    assert (net.bus["name"] == net.bus["mp_bus"].astype(str)).all()
    assert (net.bus["substation"] == net.bus["name"]).all()
    assert sorted(net["regions"].index) == sorted({f"area {int(a)}" for a in case.bus["BUS_AREA"]})
    area = dict(zip(case.bus["BUS_I"].astype(int), net.bus["region"]))
    from_bus = case.branch["F_BUS"].to_numpy(int)
    for table in ("line", "trafo"):
        df = net[table]
        assert df["region"].tolist() == [area[from_bus[r - 1]] for r in df["mp_branch_row"]]
    assert (net.gen["region"] == net.bus.loc[net.gen["bus"], "region"].to_numpy()).all()
    assert (net.gen["plant"] == "bus " + net.bus.loc[net.gen["bus"], "name"].to_numpy()).all()


def test_dc_flows_match_pandapowers_own_conversion(case_path):
    case = CaseFrames(str(case_path))
    raw, net = from_mpc(str(case_path), f_hz=50), mark_slack(load_matpower(case_path))
    pp.rundcpp(raw)
    pp.rundcpp(net)
    np.testing.assert_allclose(flows_at_mp_from(net, case, raw=False), flows_at_mp_from(raw, case, raw=True),
                               atol=1e-6)


def test_ac_solution_matches_pandapowers_own_conversion(case_path):
    """ext_grid -> slack gen, sgen -> gen at its bus' setpoint, impedance (case118 has 2) -> an exactly
    equivalent line: the AC solution is unchanged."""
    raw, net = from_mpc(str(case_path), f_hz=50), mark_slack(load_matpower(case_path))
    assert len(raw.impedance) == (2 if "118" in case_path.name else 0)
    pp.runpp(raw)
    pp.runpp(net)
    assert net.converged
    np.testing.assert_allclose(net.res_bus["vm_pu"], raw.res_bus["vm_pu"], atol=1e-6)
    np.testing.assert_allclose(net.res_bus["va_degree"], raw.res_bus["va_degree"], atol=1e-6)


TINY = """function mpc = tiny
mpc.version = '2';
mpc.baseMVA = 100;
%% bus_i type Pd Qd Gs Bs area Vm Va baseKV zone Vmax Vmin
mpc.bus = [
	10	3	0	0	0	0	1	1	0	230	1	1.1	0.9;
	20	1	90	30	0	0	1	1	0	230	1	1.1	0.9;
	30	1	-15	0	0	0	2	1	0	115	1	1.1	0.9;
	40	4	0	0	0	0	2	1	0	115	1	1.1	0.9;
];
%% bus Pg Qg Qmax Qmin Vg mBase status Pmax Pmin
mpc.gen = [
	10	60	0	300	-300	1.02	100	1	250	10;
	10	20	0	50	-50	1.0	100	1	80	0;
	20	5	0	10	-10	1.0	100	1	30	0;
	40	0	0	10	-10	1.0	100	1	40	0;
];
%% fbus tbus r x b rateA rateB rateC ratio angle status angmin angmax
mpc.branch = [
	10	20	0.01	0.1	0.02	100	110	120	0	0	1	-360	360;
	10	20	0.01	0.1	0.02	0	0	0	0	0	1	-360	360;
	20	10	0.02	0.2	0.01	50	50	50	0	0	1	-360	360;
	20	30	0.02	0.2	0.04	80	80	80	0	0	1	-360	360;
];
mpc.genfuel = {
	'coal';
	'ng';
	'wind';
	'hydrops';
};
"""


def test_tiny_case_edge_rules(tmp_path):
    """Three parallel circuits (one drawn the other way), an unlimited rating, an untapped 230/115 kV
    branch (pandapower makes it an impedance), a negative demand, a gen on a PQ bus and one on an isolated
    bus, genfuel."""
    path = tmp_path / "tiny.m"
    path.write_text(TINY)
    net = load_matpower(path)
    assert_contract(net)
    line = net.line.set_index("name")
    assert list(line.index) == ["10-20", "10-20#2", "20-10#3", "20-30"]
    assert line.loc["10-20#2", ["rate_a_mva", "rate_b_mva", "rate_c_mva"]].tolist() == [UNLIMITED_MVA] * 3
    assert line.loc["10-20", "rate_b_mva"] == 110
    # the 230/115 kV branch became a line whose from-bus is the 115 kV end and whose max_i_ka is rate A
    assert net.bus.at[line.at["20-30", "from_bus"], "name"] == "30"
    assert line.at["20-30", "max_i_ka"] * np.sqrt(3) * 115 == pytest.approx(80)
    gen = net.gen.set_index("name")
    assert gen["fuel"].tolist() == ["coal", "gas", "wind", "pumped_storage", "other"]
    assert gen.loc["gen 1", "converted_from"] == "ext_grid" and gen.loc["gen 1", "kind"] == "unit"
    assert gen.loc["gen 2", ["converted_from", "vm_pu"]].tolist() == ["sgen", 1.02]  # its bus' setpoint
    raw = from_mpc(str(path), f_hz=50)
    pp.runpp(raw)
    base_vm = raw.res_bus["vm_pu"].to_numpy()  # the AC solution of pandapower's own conversion
    assert gen.loc["gen 3", "converted_from"] == "sgen"  # on PQ bus 20: regulates to its solved voltage
    assert gen.loc["gen 3", "vm_pu"] == pytest.approx(base_vm[1]) and base_vm[1] != 1.0
    assert gen.loc["injection 30", "vm_pu"] == pytest.approx(base_vm[2])
    assert not gen.loc["gen 4", "in_service"]  # on the isolated bus 40
    assert gen.loc["injection 30", ["p_mw", "max_p_mw", "min_p_mw"]].tolist() == [15, 15, 15]
    assert pd.isna(gen.loc["injection 30", "mp_gen_row"])
    assert net.load["name"].tolist() == ["load 20"]
    assert net["regions"].loc["area 1", "demand_share"] == 1.0
    assert net["regions"].loc["area 1", "customers"] == 400 * 90
    # hand-solvable DC flow: bus 20 takes 90 MW, gets 5 MW from its own gen and 15 MW from bus 30
    mark_slack(net)
    pp.rundcpp(net)
    p_from = net.res_line.set_index(net.line["name"])["p_from_mw"]
    into_20 = p_from["10-20"] + p_from["10-20#2"] - p_from["20-10#3"]
    assert into_20 == pytest.approx(90 - 5 - 15)
    assert net.res_line.loc[net.line["name"] == "20-30", "p_from_mw"].item() == pytest.approx(15)
    # AC is what pandapower's own conversion gives (it keeps the 230/115 kV branch as an impedance)
    assert len(raw.impedance) == 1
    pp.runpp(net)
    np.testing.assert_allclose(net.res_bus["vm_pu"].iloc[:3], base_vm[:3], atol=1e-8)
    np.testing.assert_allclose(net.res_bus["va_degree"].iloc[:3], raw.res_bus["va_degree"].iloc[:3], atol=1e-8)


CASE14_TEXT = (PGLIB / CASES["case14"]).read_text()
#: words of the readers underneath, which a user should never see
INTERNAL = ("CaseFrames", "attribute", "Traceback", "KeyError", "TypeError", "ValueError", "pandas", "numpy",
            "ppc", "Expecting")
BAD_M = [  # (text, fragments of the message)
    ("function mpc = bad\nmpc.bus = [1 2;\n", ["no `mpc.baseMVA = <number>;` line", "expected a MATPOWER case"]),
    ("hello world\n", ["no `mpc.baseMVA", "mpc.branch = [...];"]),
    (CASE14_TEXT.replace("mpc.baseMVA = 100.0;", "mpc.baseMVA = lots;"), ["bad.m:26: mpc.baseMVA is 'lots'",
                                                                           "positive number"]),
    (CASE14_TEXT.replace("mpc.bus = [", "mpc.buses = ["), ["no `mpc.bus = [...];` matrix"]),
    (CASE14_TEXT.replace("mpc.branch = [", "mpc.branch = {"), ["no `mpc.branch = [...];` matrix"]),
    (CASE14_TEXT.replace("	14	 1	 14.9", "	14	 1	 x14.9"), ["mpc.bus holds 'x14.9'", "expected numbers only"]),
    (CASE14_TEXT.replace("mpc.bus = [\n", "mpc.bus = [\n 15 1 0 0 0 0 1 1 0 1 1;\n"),
     ["bad.m:31: a row of mpc.bus has 11 columns", "at least 13", "bus_i type Pd"]),
    (CASE14_TEXT.replace("	1	 170.0	 5.0", "	99	 170.0	 5.0"), ["mpc.gen names bus 99", "not in mpc.bus"]),
    (CASE14_TEXT.replace("	2	 2	 21.7", "	1	 2	 21.7"), ["bus numbers", "distinct"]),
    (CASE14_TEXT.replace("mpc.bus = [\n", "mpc.bus = [\n 15 1 0 0 0 0 1 1 0 1 1 1.1 0.9 7;\n"),
     ["a row of mpc.bus has 13 columns, the first row 14"]),
    (CASE14_TEXT.replace("mpc.branch = [", "mpc.branch = [\n];\nmpc.ignored = [", 1),
     ["mpc.branch is empty"]),
]


@pytest.mark.parametrize("text, fragments", BAD_M, ids=[f"m{i}" for i in range(len(BAD_M))])
def test_corrupt_matpower_files_say_what_was_expected_in_gridsims_words(tmp_path, text, fragments):
    bad = tmp_path / "bad.m"
    bad.write_text(text)
    with pytest.raises(NetworkError) as info:
        build_network("bad.m", tmp_path)
    message = str(info.value)
    assert message.startswith(str(bad)), message
    for fragment in fragments:
        assert fragment in message, message
    assert not any(word in message for word in INTERNAL), message


@pytest.mark.parametrize("cut", np.linspace(0.05, 0.98, 12).round(3).tolist())
def test_truncated_matpower_files_are_network_errors(tmp_path, cut):
    """The class, not only the examples: a case cut anywhere loads or is a NetworkError in gridsim's words."""
    bad = tmp_path / "cut.m"
    bad.write_text(CASE14_TEXT[:int(len(CASE14_TEXT) * cut)])
    try:
        load_matpower(bad)
    except NetworkError as err:
        assert str(bad) in str(err) and not any(word in str(err) for word in INTERNAL), str(err)


def test_network_files_that_are_no_files_are_refused(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.m")
    with pytest.raises(NetworkError, match="FIFO"):      # before any read: this would block otherwise
        build_network("pipe.m", tmp_path)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(NetworkError, match="is a directory"):
        build_network("dir.json", tmp_path)
    (tmp_path / "bin.m").write_bytes(b"\x00\xff\xfe" * 10)
    with pytest.raises(NetworkError, match="bin.m: .*expected a MATPOWER case"):
        build_network("bin.m", tmp_path)


def test_build_network_reads_matpower_and_scales_load():
    pytest.importorskip("gridsim.networks.synthetic")  # build_network needs the built-in registry
    net = build_network(CASES["case14"], base_dir=PGLIB, load_level=1.5)
    assert net.load["p_mw"].sum() == pytest.approx(1.5 * 259.0)
    assert net.load["customers"].sum() == load_matpower(PGLIB / CASES["case14"]).load["customers"].sum()


# ------------------------------------------------------------------------------------------ pandapower

def test_pandapower_case118_normalised_and_physics_kept():
    import pandapower.networks as pn

    net, raw = load_pandapower_case("case118"), pn.case118()
    assert_contract(net)
    assert len(net.gen) == len(raw.gen) + len(raw.ext_grid) + len(raw.sgen)
    assert net.bus["name"].tolist() == [str(n) for n in raw.bus["name"]]
    assert set(net.bus["region"]) == {"area 1"}
    assert net.line["name"].tolist() == [str(i) for i in net.line.index]  # unnamed -> index as text
    assert (net.gen["kind"] == "unit").all()  # its ext_grid has power limits: a unit, not an interconnector
    assert "mp_bus" not in net.bus and "mp_gen_row" not in net.gen
    pp.rundcpp(raw)
    pp.rundcpp(mark_slack(net))
    np.testing.assert_allclose(net.res_line["p_from_mw"], raw.res_line["p_from_mw"], atol=1e-6)
    np.testing.assert_allclose(net.res_trafo["p_hv_mw"], raw.res_trafo["p_hv_mw"], atol=1e-6)


def small_net() -> pp.pandapowerNet:
    net = pp.create_empty_network(name="small")
    b = [pp.create_bus(net, 110, name="HV", zone="North"), pp.create_bus(net, 20, name="MV 1"),
         pp.create_bus(net, 20, name="MV 2", zone=3), pp.create_bus(net, 20)]
    pp.create_ext_grid(net, b[0], vm_pu=1.01, name="Grid")
    pp.create_transformer(net, b[0], b[1], "25 MVA 110/20 kV")
    pp.create_line(net, b[1], b[2], 2.0, "NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_line(net, b[2], b[3], 1.5, "NA2XS2Y 1x185 RM/25 12/20 kV", name="feeder")
    pp.create_load(net, b[2], p_mw=4.0, q_mvar=1.0, name="town", scaling=0.5)
    pp.create_load(net, b[3], p_mw=1.0, q_mvar=0.2, name="town")
    pp.create_sgen(net, b[3], p_mw=0.8, sn_mva=1.0, type="PV")
    pp.create_poly_cost(net, 0, "sgen", cp1_eur_per_mw=7.0)
    return net


def test_pandapower_json_round_trip(tmp_path):
    path = tmp_path / "small.json"
    pp.to_json(small_net(), str(path))
    net = load_pandapower_json(path)
    assert_contract(net)
    assert net.bus["name"].tolist() == ["HV", "MV 1", "MV 2", "3"]
    assert net.bus["region"].tolist() == ["North", "all", "area 3", "all"]
    assert net.load["name"].tolist() == ["0", "1"]  # "town" twice: not unique, so by index
    assert net.load["p_mw"].tolist() == [2.0, 1.0]  # scaling folded in
    assert net.load["customers"].tolist() == [800, 400]
    assert net.line["name"].tolist() == ["0", "feeder"]
    grid, pv = net.gen.set_index("name").loc["Grid"], net.gen.set_index("name").loc["sgen 0"]
    assert (grid["kind"], grid["fuel"], grid["plant"]) == ("interconnector", "import", "Grid")
    assert (grid["max_p_mw"], grid["min_p_mw"], grid["vm_pu"]) == (UNLIMITED_MW, -UNLIMITED_MW, 1.01)
    assert (pv["kind"], pv["fuel"], pv["plant"], pv["max_p_mw"]) == ("unit", "solar", "bus 3", 1.0)
    assert net.poly_cost[["et", "element"]].values.tolist() == [["gen", net.gen.index[net.gen["name"] == "sgen 0"][0]]]
    assert net.trafo.at[0, "rate_a_mva"] == 25.0 and net.trafo.at[0, "substation"] == "HV"
    line0 = net.line.loc[0]
    assert line0["rate_a_mva"] == pytest.approx(line0["max_i_ka"] * np.sqrt(3) * 20)
    assert net.bus[["x_km", "y_km"]].to_numpy().max() == pytest.approx(1000.0)
    pp.runpp(mark_slack(net))
    assert net.converged


def test_normalise_is_idempotent_and_survives_json(tmp_path):
    net = load_matpower(PGLIB / CASES["case24"])
    path = tmp_path / "rts.json"
    pp.to_json(net, str(path))
    again = load_pandapower_json(path)
    for table in CONTRACT:
        pd.testing.assert_frame_equal(again[table][CONTRACT[table]], net[table][CONTRACT[table]],
                                      check_dtype=False)
    assert again.gen["mp_gen_row"].tolist() == net.gen["mp_gen_row"].tolist()
    twice = normalise_net(pp.from_json(str(path)), "again")
    pd.testing.assert_frame_equal(twice.bus[["x_km", "y_km"]], net.bus[["x_km", "y_km"]])


def test_geographic_coordinates_are_projected_to_km():
    net = load_pandapower_case("mv_oberrhein")
    assert_contract(net)
    span = net.bus[["x_km", "y_km"]].max() - net.bus[["x_km", "y_km"]].min()
    assert 5 < span.max() < 100  # a real MV grid, tens of km across, not the 1000 km layout box
    assert (net.gen["kind"] == "interconnector").sum() == 2
    assert (net.gen["fuel"] == "solar").sum() == 153


def test_partial_geodata_fills_the_gaps_from_neighbours():
    net = pp.create_empty_network()
    geo = [(0.0, 0.0), (1.0, 0.0), None, (3.0, 0.0)]  # not lon/lat-like: scaled into the 1000 km box
    buses = [pp.create_bus(net, 20, geodata=g) for g in geo]
    for a, b in zip(buses, buses[1:]):
        pp.create_line(net, a, b, 1.0, "NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_ext_grid(net, buses[0])
    pp.create_load(net, buses[3], p_mw=1.0)
    normalise_net(net, "test")
    assert net.bus["x_km"].tolist() == pytest.approx([0, 1000 / 3, 2000 / 3, 1000])
    assert net.bus["y_km"].tolist() == pytest.approx([0, 0, 0, 0])


def test_layout_is_deterministic_and_in_the_box():
    a = load_matpower(PGLIB / CASES["case118"])
    b = load_matpower(PGLIB / CASES["case118"])
    np.testing.assert_array_equal(a.bus[["x_km", "y_km"]], b.bus[["x_km", "y_km"]])
    xy = a.bus[["x_km", "y_km"]].to_numpy()
    assert xy.min() >= 0 and xy.max() == pytest.approx(1000.0)
    assert len(np.unique(xy.round(3), axis=0)) > 0.9 * len(xy)  # buses are spread out, not stacked


def test_unknown_pandapower_case_suggests_a_name():
    with pytest.raises(NetworkError, match="unknown pandapower case 'case_118'; did you mean 'case118'"):
        load_pandapower_case("case_118")
    with pytest.raises(NetworkError, match="unknown pandapower case"):
        load_pandapower_case("create_bus")  # a pandapower.networks import, not a case


def _net_json(tmp_path, tables=None) -> dict:
    """A small pandapower network as pandapower.to_json writes it (decoded), optionally with tables replaced."""
    import json

    net = pp.create_empty_network()
    b1, b2 = pp.create_bus(net, 110), pp.create_bus(net, 110)
    pp.create_ext_grid(net, b1)
    pp.create_line(net, b1, b2, 10, "149-AL1/24-ST1A 110.0")
    pp.create_load(net, b2, 10)
    data = json.loads(pp.to_json(net))
    for table, value in (tables or {}).items():
        data["_object"][table] = value
    return data


def _edited_table(tmp_path, table: str, old: str, new: str) -> dict:
    """The network document with ``old`` replaced by ``new`` in one table (its data and its dtypes)."""
    import json

    document = _net_json(tmp_path)
    entry = document["_object"][table]
    assert old in entry["_object"]
    entry["_object"] = entry["_object"].replace(old, new)
    entry["dtype"] = json.loads(json.dumps(entry["dtype"]).replace(old, new))
    return document


BAD_JSON = [  # (file text or a function of tmp_path giving the decoded document, fragments of the message)
    ('{"hello": "world", "bus": [1, 2, 3]}', ["expected a pandapower network saved with pandapower.to_json",
                                              "found an object with the keys 'hello', 'bus'"]),
    ("[1, 2]", ["expected a pandapower network", "found a JSON list"]),
    ("{not json", ["bad.json:1: not valid JSON (column 2)", "expected a pandapower network"]),
    ("", ["not valid JSON"]),
    ('{"_module": "pandapower.auxiliary", "_class": "pandapowerNet", "_object": {"bus": 5}}',
     ["has no `bus` table, which a pandapower network needs"]),
    (lambda tmp: _edited_table(tmp, "load", '"bus"', '"bus_x"'), ["the `load` table lacks the column(s) bus"]),
    (lambda tmp: _edited_table(tmp, "load", "[[null,1,", "[[null,7,"),
     ["load 0 is connected to bus 7, which is not in the bus table"]),
]


@pytest.mark.parametrize("content, fragments", BAD_JSON, ids=[f"json{i}" for i in range(len(BAD_JSON))])
def test_json_that_is_not_a_pandapower_network_says_what_was_expected(tmp_path, content, fragments):
    import json

    bad = tmp_path / "bad.json"
    bad.write_text(content if isinstance(content, str) else json.dumps(content(tmp_path)))
    with pytest.raises(NetworkError) as info:
        build_network("bad.json", tmp_path)
    message = str(info.value)
    assert message.startswith(str(bad)), message
    for fragment in fragments:
        assert fragment in message, message
    assert not any(word in message for word in INTERNAL if word != "pandas"), message


def _with_object(document: dict, obj: dict, nested: bool) -> dict:
    """The network document with ``obj`` added: as a top-level entry, or inside the JSON string of a table."""
    import json

    if not nested:
        document["_object"]["extra"] = obj
        return document
    table = document["_object"]["load"]
    inner = json.loads(table["_object"])
    inner["data"][0][-1] = obj             # a cell of the load table
    table["_object"] = json.dumps(inner)
    return document


@pytest.mark.parametrize("nested", [False, True], ids=["entry", "inside-a-table"])
@pytest.mark.parametrize("module, cls", [("os", "system"), ("subprocess", "Popen"), ("gridsim_probe_module", "X"),
                                         ("pandapower.auxiliary", "function")])
def test_pandapower_json_naming_other_modules_is_refused_before_pandapower_reads_it(tmp_path, monkeypatch,
                                                                                      module, cls, nested):
    import json
    import sys

    marker = tmp_path / "imported"
    (tmp_path / "gridsim_probe_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass X: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    obj = {"_module": module, "_class": cls, "_object": "echo hacked"}
    bad = tmp_path / "evil.json"
    bad.write_text(json.dumps(_with_object(_net_json(tmp_path), obj, nested)))
    with pytest.raises(NetworkError) as info:
        build_network(str(bad))
    assert str(bad) in str(info.value) and "not handed to pandapower" in str(info.value)
    assert (f"'{module}'" in str(info.value)) or cls == "function"
    assert not marker.exists() and "gridsim_probe_module" not in sys.modules


def test_allow_list_keeps_every_network_pandapower_writes(tmp_path):
    import pandapower.networks as pn

    for name, net in (("oberrhein", pn.mv_oberrhein()), ("multi", pn.example_multivoltage()),
                      ("dnipro", build_network("dnipro-like"))):
        pp.to_json(net, str(tmp_path / f"{name}.json"))
        assert len(build_network(f"{name}.json", tmp_path).bus) == len(net.bus)


def test_network_root_confines_network_files(tmp_path):
    root = tmp_path / "nets"
    root.mkdir()
    (tmp_path / "outside.m").write_text(CASE14_TEXT)
    (root / "inside.m").write_text(CASE14_TEXT)
    (root / "link.m").symlink_to(tmp_path / "outside.m")
    assert len(build_network("inside.m", root, network_root=root).bus) == 14
    assert len(build_network("../outside.m", root).bus) == 14          # without a root: a local tool's rules
    for spec in ("../outside.m", str(tmp_path / "outside.m"), "link.m", "sub/../../outside.m"):
        with pytest.raises(NetworkError, match="is outside the network root .*--network-root"):
            build_network(spec, root, network_root=root)
    assert len(build_network("dnipro-like", root, network_root=root).bus) > 0    # built-ins are no files
    with pytest.raises(NetworkError, match="network root .* is not a folder"):
        build_network("inside.m", root, network_root=tmp_path / "outside.m")


@pytest.mark.slow
def test_case2000_import_time_and_dc_physics(capsys):
    start = time.perf_counter()
    net = load_matpower(CASE2000)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\ncase2000 import: {seconds:.2f} s ({len(net.bus)} buses, {len(net.line) + len(net.trafo)} branches)")
    assert_contract(net)
    case = CaseFrames(str(CASE2000))
    assert len(net.gen) == len(case.gen) and len(net.line) + len(net.trafo) == len(case.branch)
    raw = from_mpc(str(CASE2000), f_hz=50)
    pp.rundcpp(raw)
    pp.rundcpp(mark_slack(net))
    np.testing.assert_allclose(flows_at_mp_from(net, case, raw=False), flows_at_mp_from(raw, case, raw=True),
                               atol=1e-6)


def test_network_files_are_bounded(tmp_path, monkeypatch):
    import json

    import gridsim.networks.importers as importers

    document = _edited_table(tmp_path, "load", "[[null,1,", '[["' + "L" * 5000 + '",1,')
    (tmp_path / "long.json").write_text(json.dumps(document))
    with pytest.raises(NetworkError, match=r"long\.json: load 0 has a name of 5,000 characters.*MAX_NAME_CHARS"):
        build_network("long.json", tmp_path)
    (tmp_path / "big.m").write_text(CASE14_TEXT)
    monkeypatch.setattr(importers, "MAX_NETWORK_BYTES", 1000)
    with pytest.raises(NetworkError, match=r"big\.m: the file is [\d,]+ bytes; a network file may hold at most "
                                           r"[\d,]+ bytes \(MAX_NETWORK_BYTES"):
        build_network("big.m", tmp_path)

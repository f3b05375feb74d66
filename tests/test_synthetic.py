"""The built-in synthetic grid ``dnipro-like``: contract, realism figures, base case and N-1 security."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest
from pandapower.pypower.idx_brch import F_BUS, T_BUS
from pandapower.pypower.makePTDF import makePTDF
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridsim.networks.synthetic import build_dnipro_like
from gridsim.networks.synthetic_plan import DATA_FILE

ROOT = Path(__file__).parent.parent
FUELS = {"nuclear", "coal", "gas", "hydro", "pumped_storage", "solar", "wind", "import", "other"}
CONTRACT = {
    "bus": ["name", "substation", "region", "x_km", "y_km"],
    "line": ["name", "region", "rate_a_mva", "rate_b_mva", "rate_c_mva"],
    "trafo": ["name", "region", "substation", "rate_a_mva", "rate_b_mva", "rate_c_mva"],
    "gen": ["name", "plant", "fuel", "kind", "region", "max_p_mw", "min_p_mw", "min_q_mvar", "max_q_mvar",
            "vm_pu"],
    "load": ["name", "region", "customers", "priority"],
}


@pytest.fixture
def net():
    return build_dnipro_like()


@pytest.fixture
def solved():
    net = build_dnipro_like()
    pp.runpp(net, numba=False)
    return net


def plants(net) -> pd.DataFrame:
    units = net.gen[net.gen["kind"] == "unit"]
    return units.groupby("plant", sort=False).agg(fuel=("fuel", "first"), units=("name", "size"),
                                                  mw=("max_p_mw", "sum"), bus=("bus", "first"))


def hv_contingencies(net) -> list[tuple[str, int]]:
    """Every single branch of the 330/750 kV grid: its lines and the 750/330 kV autotransformers."""
    vn = net.bus["vn_kv"]
    lines = net.line.index[vn.loc[net.line["from_bus"]].to_numpy() >= 330.0]
    banks = net.trafo.index[net.trafo["vn_hv_kv"] >= 750.0]
    return [("line", int(i)) for i in lines] + [("trafo", int(i)) for i in banks]


def load_buses_supplied(net) -> bool:
    """Every in-service load sits in a connected component with an in-service generator."""
    n = len(net.bus)
    line = net.line[net.line["in_service"]]
    trafo = net.trafo[net.trafo["in_service"]]
    f = np.concatenate([line["from_bus"], trafo["hv_bus"]])
    t = np.concatenate([line["to_bus"], trafo["lv_bus"]])
    _, comp = connected_components(coo_matrix((np.ones(len(f)), (f, t)), shape=(n, n)), directed=False)
    fed = set(comp[net.gen.loc[net.gen["in_service"], "bus"]])
    return set(comp[net.load.loc[net.load["in_service"], "bus"]]) <= fed


def max_loading(net) -> float:
    return float(max(net.res_line["loading_percent"].max(), net.res_trafo["loading_percent"].max()))


# -- the build ------------------------------------------------------------------------------------------------
def test_build_is_deterministic_and_fresh():
    a, b = build_dnipro_like(), build_dnipro_like()
    for table in ("bus", "line", "trafo", "gen", "load", "shunt", "regions"):
        pd.testing.assert_frame_equal(a[table], b[table])
    a.load.loc[0, "p_mw"] = 1e6
    a["regions"].iloc[0, 0] = -1.0
    c = build_dnipro_like()
    pd.testing.assert_frame_equal(b.load, c.load)
    pd.testing.assert_frame_equal(b["regions"], c["regions"])


def test_contract_columns_present_and_filled(net):
    for table, columns in CONTRACT.items():
        for col in columns:
            assert col in net[table].columns, f"{table}.{col} missing"
            assert net[table][col].notna().all(), f"{table}.{col} has nulls"
    assert set(net.gen["fuel"]) <= FUELS
    assert set(net.gen["kind"]) == {"unit", "interconnector"}
    assert len(net.ext_grid) == 0 and len(net.sgen) == 0


def test_names_are_unique(net):
    for table in ("bus", "line", "trafo", "gen", "load"):
        assert net[table]["name"].is_unique, table
    subs = net.bus.groupby("substation")
    assert (subs["region"].nunique() == 1).all()             # a substation lies in one region
    assert (subs["x_km"].nunique() == 1).all() and (subs["y_km"].nunique() == 1).all()
    assert (subs["vn_kv"].nunique() == subs.size()).all()    # one busbar per voltage level
    assert (net.gen.groupby("plant")["region"].nunique() == 1).all()
    assert not set(net.bus["substation"]) & set(net["regions"].index)   # names say what they are


def test_names_are_fictional(net):
    real = {"Kyiv", "Kharkiv", "Odesa", "Dnipro", "Lviv", "Zaporizhzhia", "Donetsk", "Mykolaiv", "Kherson",
            "Poltava", "Chernihiv", "Cherkasy", "Sumy", "Zhytomyr", "Rivne", "Lutsk", "Ternopil", "Vinnytsia",
            "Khmelnytskyi", "Chernivtsi", "Uzhhorod", "Luhansk", "Kropyvnytskyi", "Ivano-Frankivsk",
            "Kakhovka", "Kremenchuk", "Kaniv", "Burshtyn", "Enerhodar", "Netishyn", "Varash", "Yuzhnoukrainsk"}
    names = set(net.bus["substation"]) | set(net["regions"].index) | set(net.gen["plant"])
    assert not {word for name in names for word in name.split()} & real


def test_regions(net):
    regions = net["regions"]
    assert len(regions) >= 10
    assert list(regions.columns) == ["x_km", "y_km", "demand_share", "customers"]
    assert regions["demand_share"].sum() == pytest.approx(1.0)
    assert set(net.bus["region"]) == set(regions.index)
    demand = net.load.groupby("region")["p_mw"].sum()
    assert (demand / demand.sum()).reindex(regions.index).to_numpy() == pytest.approx(
        regions["demand_share"].to_numpy(), abs=1e-6)
    customers = net.load.groupby("region")["customers"].sum().reindex(regions.index)
    assert (customers == regions["customers"]).all()


def test_voltage_levels_and_size(net):
    assert 200 <= len(net.bus) <= 500
    assert set(net.bus["vn_kv"]) == {750.0, 330.0, 110.0}
    pairs = set(zip(net.trafo["vn_hv_kv"], net.bus.loc[net.trafo["lv_bus"], "vn_kv"]))
    assert pairs == {(750.0, 330.0), (330.0, 110.0)}
    vn = net.bus["vn_kv"]
    assert (vn.loc[net.line["from_bus"]].to_numpy() == vn.loc[net.line["to_bus"]].to_numpy()).all()


def test_coordinates_in_a_country_sized_box(net):
    assert net.bus["x_km"].between(0, 1300).all() and net.bus["y_km"].between(0, 800).all()
    span = net.bus[["x_km", "y_km"]].max() - net.bus[["x_km", "y_km"]].min()
    assert span["x_km"] > 1000 and span["y_km"] > 600


# -- generation and demand -------------------------------------------------------------------------------------
def test_nuclear_sites(net):
    nuclear = plants(net)[lambda p: p["fuel"] == "nuclear"]
    assert 3 <= len(nuclear) <= 4
    assert nuclear["units"].between(2, 6).all()
    unit_mw = net.gen.loc[net.gen["fuel"] == "nuclear", "max_p_mw"]
    assert unit_mw.between(900, 1100).all()


def test_hydro_cascade_runs_north_to_south(net):
    hydro = plants(net)[lambda p: p["fuel"] == "hydro"]
    assert len(hydro) >= 5
    y = net.bus.loc[hydro["bus"], "y_km"].to_numpy()
    assert (np.diff(y) < 0).all(), "cascade plants, in river order, must run north to south"
    assert hydro.loc["Dnipro-like HPP", "mw"] == pytest.approx(1500, rel=0.1)
    assert hydro["mw"].idxmax() == "Dnipro-like HPP"
    assert net.gen.loc[net.gen["plant"] == "Dnipro-like HPP", "name"].str.fullmatch(r"Dnipro-like HPP G\d+").all()


def test_rest_of_the_mix(net):
    fuels = set(plants(net)["fuel"])
    assert {"coal", "gas", "pumped_storage", "solar", "wind"} <= fuels
    assert (plants(net)["fuel"].isin(["coal", "gas"])).sum() >= 3
    ic = net.gen[net.gen["kind"] == "interconnector"]
    assert len(ic) >= 2
    assert (ic["fuel"] == "import").all() and (ic["plant"] == ic["name"]).all()
    assert ic["max_p_mw"].between(500, 1000).all()
    assert set(net.gen.loc[net.gen["fuel"] == "import", "kind"]) == {"interconnector"}


def test_units(net):
    gen = net.gen
    assert (gen["min_p_mw"] == 0).all()
    assert ((gen["min_q_mvar"] < 0) & (gen["max_q_mvar"] > 0)).all()
    assert gen["vm_pu"].between(1.0, 1.06).all()
    assert (gen.groupby("bus")["vm_pu"].nunique() == 1).all()
    assert gen["slack"].sum() == 1
    assert gen.loc[gen["slack"], "max_p_mw"].iloc[0] == gen["max_p_mw"].max()


def test_peak_demand_and_capacity(net):
    demand = net.load["p_mw"].sum()
    capacity = net.gen["max_p_mw"].sum()
    assert 15_000 <= demand <= 20_000
    assert 1.2 <= capacity / demand <= 1.6


def test_dispatch_is_one_common_utilisation(net):
    u = net.gen["p_mw"] / net.gen["max_p_mw"]
    assert u.to_numpy() == pytest.approx(u.iloc[0])
    assert u.iloc[0] == pytest.approx(1.02 * net.load["p_mw"].sum() / net.gen["max_p_mw"].sum())


def test_loads(net):
    load = net.load
    assert (net.bus.loc[load["bus"], "vn_kv"] == 110.0).all()
    assert set(load["priority"]) == {1, 2, 3}
    assert (load.groupby("bus")["priority"].apply(sorted).map(tuple) == (1, 2, 3)).all()
    assert pd.api.types.is_integer_dtype(load["customers"]) and (load["customers"] >= 0).all()
    assert (load["p_mw"] > 0).all() and (load["q_mvar"] > 0).all()
    assert (load["region"] == net.bus.loc[load["bus"], "region"].to_numpy()).all()


def test_load_level_scales_demand_and_dispatch(net):
    low = build_dnipro_like(0.7)
    assert low.load["p_mw"].to_numpy() == pytest.approx(0.7 * net.load["p_mw"].to_numpy())
    assert low.load["q_mvar"].to_numpy() == pytest.approx(0.7 * net.load["q_mvar"].to_numpy())
    assert (low.load["customers"] == net.load["customers"]).all()
    assert low.gen["p_mw"].sum() == pytest.approx(0.7 * net.gen["p_mw"].sum())


def test_ratings_fit_the_voltage(net):
    vn = net.bus.loc[net.line["from_bus"], "vn_kv"].to_numpy()
    mva = np.sqrt(3) * vn * net.line["max_i_ka"].to_numpy()
    assert net.line["rate_a_mva"].to_numpy() == pytest.approx(mva, rel=1e-3)
    bounds = {750.0: (2500, 4000), 330.0: (800, 1200), 110.0: (100, 200)}
    for kv, (lo, hi) in bounds.items():
        assert ((mva[vn == kv] >= lo) & (mva[vn == kv] <= hi)).all(), kv
    assert (net.trafo["rate_a_mva"] == net.trafo["sn_mva"]).all()
    for table in (net.line, net.trafo):
        assert table["rate_b_mva"].to_numpy() == pytest.approx(1.1 * table["rate_a_mva"].to_numpy(), rel=1e-3)
        assert table["rate_c_mva"].to_numpy() == pytest.approx(1.2 * table["rate_a_mva"].to_numpy(), rel=1e-3)
    straight = np.hypot(*(net.bus.loc[net.line["from_bus"], ["x_km", "y_km"]].to_numpy()
                          - net.bus.loc[net.line["to_bus"], ["x_km", "y_km"]].to_numpy()).T)
    assert (net.line["length_km"].to_numpy() >= straight).all()


def test_structure_in_the_range_of_real_grids(net):
    """Birchfield et al. (2017): mean bus degree 2.2-3.2 and 1.1-1.6 branches per bus."""
    branches = len(net.line) + len(net.trafo)
    assert 2.2 <= 2 * branches / len(net.bus) <= 3.2
    assert 1.1 <= branches / len(net.bus) <= 1.6


def test_data_file_is_the_geography():
    spec = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert DATA_FILE.is_relative_to(ROOT / "gridsim" / "data")
    assert {r["name"] for r in spec["regions"]} == set(build_dnipro_like()["regions"].index)


# -- power flow -----------------------------------------------------------------------------------------------
def test_base_case_ac(solved):
    assert solved.converged
    assert max_loading(solved) <= 100.0
    assert solved.res_bus["vm_pu"].between(0.93, 1.07).all()
    q = solved.res_gen["q_mvar"]
    assert (q >= solved.gen["min_q_mvar"] - 1.0).all() and (q <= solved.gen["max_q_mvar"] + 1.0).all()
    losses = solved.res_gen["p_mw"].sum() - solved.res_load["p_mw"].sum()
    assert 0.01 < losses / solved.res_load["p_mw"].sum() < 0.04


def test_n1_dc_screen(net):
    """Every single 330/750 kV branch outage keeps all load supplied, and DC flows computed with pandapower's
    own PTDF (an independent reference for the plan's sizing) stay within ratings."""
    cases = hv_contingencies(net)
    for table, i in cases:
        net[table].at[i, "in_service"] = False
        assert load_buses_supplied(net), f"{net[table].at[i, 'name']} cuts load off"
        net[table].at[i, "in_service"] = True
    pp.rundcpp(net)
    ppc, lookup = net._ppc, net._pd2ppc_lookups["branch"]
    assert lookup["line"] == (0, len(net.line)) and lookup["trafo"][0] == len(net.line)
    flow = np.concatenate([net.res_line["p_from_mw"], net.res_trafo["p_hv_mw"]])
    rating = np.concatenate([net.line["rate_a_mva"], net.trafo["rate_a_mva"]])
    rows = np.array([lookup[table][0] + i for table, i in cases])   # ppc branch rows of the outaged branches
    ptdf = makePTDF(ppc["baseMVA"], ppc["bus"], ppc["branch"])
    f, t = ppc["branch"][rows, F_BUS].real.astype(int), ppc["branch"][rows, T_BUS].real.astype(int)
    moved = ptdf[:, f] - ptdf[:, t]                                   # flow change per MW sent from f to t
    lodf = moved / (1.0 - moved[rows, np.arange(len(rows))])
    lodf[rows, np.arange(len(rows))] = -1.0
    post = np.abs(flow[:, None] + lodf * flow[rows]) / rating[:, None] * 100.0
    assert post.max() <= 100.0


def test_n1_ac(net):
    """The requirement: >= 95 % of single 330/750 kV branch outages (lines and 750/330 kV autotransformers)
    leave no demand unserved: load stays connected and the AC flow with the same dispatch converges with no
    branch above 100 %. (The grid is planned for all of them; ~4 s.)"""
    pp.runpp(net, numba=False)
    secure = []
    for table, i in hv_contingencies(net):
        net[table].at[i, "in_service"] = False
        try:
            pp.runpp(net, numba=False, init="results")
            secure.append(load_buses_supplied(net) and max_loading(net) <= 100.0)
        except pp.LoadflowNotConverged:
            secure.append(False)
        net[table].at[i, "in_service"] = True
    assert len(secure) > 100
    assert np.mean(secure) >= 0.95

"""The DC model and the optimal load-shedding LP: against pandapower's DC power flow, hand-solved grids and
the published N-k results of Sundar, Coffrin, Nagarajan & Bent (2018) on the IEEE RTS-24."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pandapower as pp
import pandapower.networks as pn
import pytest
from matpowercaseframes import CaseFrames
from pandapower.converter.matpower import from_mpc
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

from gridsim.solvers.dcmodel import build_dc_model
from gridsim.solvers.optimal import optimal_shed

DATA = Path(__file__).parent / "data"
RTS24 = DATA / "pglib" / "pglib_opf_case24_ieee_rts.m"
NK = pd.read_csv(DATA / "nk_rts24.csv")

# pandapower result table, column and sign of the from-side flow of each branch kind
RESULT_COLUMN = {"line": ("res_line", "p_from_mw", 1), "trafo": ("res_trafo", "p_hv_mw", 1),
                 "impedance": ("res_impedance", "p_from_mw", 1), "trafo3w_hv": ("res_trafo3w", "p_hv_mw", 1),
                 "trafo3w_mv": ("res_trafo3w", "p_mv_mw", -1), "trafo3w_lv": ("res_trafo3w", "p_lv_mw", -1)}


# ---------------------------------------------------------------------------------------------- helpers

def rts24() -> pp.pandapowerNet:
    return from_mpc(str(RTS24), f_hz=50)


def branches_out(net, rows) -> None:
    """Take MATPOWER branch rows (1-based) out of service, through from_mpc's lookup."""
    lookup = net._from_ppc_lookups["branch"]
    for row in rows:
        element, index = lookup.at[row - 1, "element_type"], int(lookup.at[row - 1, "element"])
        net[element].at[index, "in_service"] = False


def dc_power_flow(model, injection_mw: np.ndarray) -> np.ndarray:
    """Branch flows for given bus injections, solved on the model's own susceptance matrix."""
    b = model.susceptance_matrix()
    _, labels = connected_components(abs(b) > 0, directed=False)
    _, first = np.unique(labels, return_index=True)
    free = np.setdiff1d(np.arange(model.n_bus), first)
    theta = np.zeros(model.n_bus)
    rhs = injection_mw - model.shift_injection_mw()
    theta[free] = spsolve(b[free][:, free].tocsc(), rhs[free])
    return model.flows_mw(theta)


def triangle(limit_13: float = 100.0, loads=((300.0, 2),)) -> pp.pandapowerNet:
    """Buses 1-2-3 at 110 kV joined by three identical lines; a 1000 MW unit at 1, loads at 3.
    Line 1-3 is limited to ``limit_13`` MW, the others to 1000 MW."""
    net = pp.create_empty_network()
    b1, b2, b3 = (pp.create_bus(net, vn_kv=110.0, name=str(i)) for i in (1, 2, 3))
    for a, b in ((b1, b2), (b2, b3), (b1, b3)):
        pp.create_line_from_parameters(net, a, b, length_km=10.0, r_ohm_per_km=0.01, x_ohm_per_km=0.4,
                                       c_nf_per_km=0.0, max_i_ka=10.0, name=f"{a + 1}-{b + 1}")
    net.line["rate_a_mva"] = [1000.0, 1000.0, limit_13]
    pp.create_gen(net, b1, p_mw=0.0, max_p_mw=1000.0, min_p_mw=0.0, name="G1")
    for p, priority in loads:
        pp.create_load(net, b3, p_mw=p, name=f"L{priority}")
    net.load["priority"] = [priority for _, priority in loads]
    return net


# ------------------------------------------------------------------------------------------ the model

def _multivoltage_with_shifters():
    net = pn.example_multivoltage()  # trafo3w, bus-bus switches, open line switches, an impedance
    net.xward["in_service"] = False   # xward internal sources are not in res_bus
    net.trafo.loc[0, "shift_degree"] = 30.0
    net.trafo.loc[1, "tap_pos"] = 3
    net.trafo3w.loc[0, "shift_mv_degree"] = 10.0
    return net


@pytest.mark.parametrize("make", [pn.case118, _multivoltage_with_shifters, rts24],
                         ids=["case118", "multivoltage-trafo3w-shifters", "rts24-taps"])
def test_model_flows_match_rundcpp(make):
    net = make()
    pp.rundcpp(net)
    model = build_dc_model(net)
    injection = np.zeros(model.n_bus)
    np.add.at(injection, model.bus_lookup[net.bus.index.to_numpy()], -net.res_bus["p_mw"].fillna(0.0).to_numpy())
    flows = pd.Series(dc_power_flow(model, injection), index=model.branches)
    kinds = flows.index.unique(0)
    assert {"line", "trafo"} <= set(kinds)
    for kind in kinds:
        table, column, sign = RESULT_COLUMN[kind]
        ours = flows.loc[kind]
        theirs = sign * net[table][column].loc[ours.index]
        np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=0, atol=1e-6, err_msg=kind)


def test_model_leaves_net_untouched():
    net = pn.example_multivoltage()
    before = copy.deepcopy(net)
    build_dc_model(net)
    assert set(net.keys()) == set(before.keys())
    for key in ("bus", "line", "trafo", "trafo3w", "switch", "load", "gen"):
        pd.testing.assert_frame_equal(net[key], before[key])
    assert net._options == before._options


def test_rts24_model_follows_the_published_assumptions():
    """b = 1 / (x * tap) per MATPOWER row, and pandapower's own ratings (max_i_ka, sn_mva) equal rateA."""
    net = rts24()
    branch = CaseFrames(str(RTS24)).branch
    model = build_dc_model(net, rating="nominal")
    lookup = net._from_ppc_lookups["branch"]
    position = pd.Series(np.arange(model.n_branch), index=model.branches)
    rows = position.loc[list(zip(lookup["element_type"], lookup["element"].astype(int)))].to_numpy()
    tap = branch["TAP"].replace(0.0, 1.0).to_numpy()
    np.testing.assert_allclose(model.b_pu[rows], 1.0 / (branch["BR_X"].to_numpy() * tap), rtol=1e-9)
    np.testing.assert_allclose(model.rating_mw[rows], branch["RATE_A"].to_numpy(), rtol=1e-9)


def test_rating_choice_and_emergency_factor():
    net = triangle(limit_13=100.0)
    net.line["rate_b_mva"] = [np.nan, 0.0, 150.0]  # NaN -> nominal, 0 -> unlimited
    nominal = 10.0 * np.sqrt(3) * 110.0
    assert build_dc_model(net).rating_mw.tolist() == [1000.0, 1000.0, 100.0]
    np.testing.assert_allclose(build_dc_model(net, rating="rate_b", emergency_factor=1.2).rating_mw,
                               [1.2 * nominal, np.inf, 180.0])
    np.testing.assert_allclose(build_dc_model(net, rating="nominal").rating_mw, [nominal] * 3)
    np.testing.assert_allclose(build_dc_model(net, rating="rate_c").rating_mw, [nominal] * 3)  # no column
    with pytest.raises(ValueError, match="rating must be one of"):
        build_dc_model(net, rating="rate_x")


# ------------------------------------------------------------------------------------- the published bar

@pytest.mark.parametrize("row", list(NK.itertuples(index=False)), ids=[f"k={k}" for k in NK["k"]])
def test_published_rts24_worst_case_attacks(row):
    """Sundar, Coffrin, Nagarajan & Bent (2018): the DC load shed after their worst-case k line attacks."""
    net = rts24()
    branches_out(net, [int(r) for r in str(row.branches_out).split()])
    result = optimal_shed(net)
    assert result.status == "optimal"
    assert abs(result.total_shed_mw - row.published_total_shed_mw) <= 1.0


def test_rts24_without_outage_sheds_nothing():
    net = rts24()
    result = optimal_shed(net)
    assert result.status == "optimal"
    assert result.total_shed_mw == pytest.approx(0.0, abs=1e-6)
    assert result.dispatch_mw.sum() == pytest.approx(net.load["p_mw"].sum(), abs=1e-6)
    # every branch within its rateA and generation within 0..Pmax (ext_grid and sgen included)
    model = build_dc_model(net)
    assert (result.flow_mw.abs().to_numpy() <= model.rating_mw + 1e-6).all()
    assert set(result.dispatch_mw.index.unique(0)) == {"gen", "sgen", "ext_grid"}


# ---------------------------------------------------------------------------------- hand-solved grids

def test_triangle_binding_limit_hand_solved():
    """Equal reactances: 2/3 of what bus 1 sends to bus 3 goes direct, 1/3 via bus 2. With 1-3 limited to
    L = 100 MW, at most 1.5 * L = 150 MW reaches the 300 MW load: 150 MW shed."""
    result = optimal_shed(triangle(limit_13=100.0))
    assert result.status == "optimal"
    assert result.total_shed_mw == pytest.approx(150.0, abs=1e-6)
    assert result.dispatch_mw.loc[("gen", 0)] == pytest.approx(150.0, abs=1e-6)
    flows = result.flow_mw.loc["line"]
    np.testing.assert_allclose(flows.to_numpy(), [50.0, 50.0, 100.0], atol=1e-6)  # 1-2, 2-3, 1-3


def test_triangle_priority_weights_shed_interruptible_first():
    net = triangle(limit_13=100.0, loads=((100.0, 1), (200.0, 3)))
    result = optimal_shed(net, weights={1: 100, 2: 10, 3: 1})
    np.testing.assert_allclose(result.shed_mw.to_numpy(), [0.0, 150.0], atol=1e-6)
    assert result.objective == pytest.approx(150.0, abs=1e-6)
    per_load = optimal_shed(net, weights=pd.Series({0: 1.0, 1: 50.0}))  # now the critical one is cheap
    np.testing.assert_allclose(per_load.shed_mw.to_numpy(), [100.0, 50.0], atol=1e-6)
    with pytest.raises(ValueError, match="no weight for load priorities"):
        optimal_shed(net, weights={1: 100})


def test_demand_and_capacity_overrides():
    net = triangle(limit_13=1000.0)
    result = optimal_shed(net, capacity_mw=pd.Series({0: 120.0}), demand_mw=pd.Series({0: 200.0}))
    assert result.total_shed_mw == pytest.approx(80.0, abs=1e-6)
    assert result.demand_mw.iloc[0] == 200.0


@pytest.mark.parametrize("outage_rows", [(), (7,), (1, 5), (18, 21, 22), (23, 29, 30, 31)])
@pytest.mark.parametrize("capacity_share", [1.0, 0.6])
def test_shed_between_capacity_deficit_and_demand(outage_rows, capacity_share):
    """Limits can only add to the capacity deficit, never beyond the demand; without limits shed == deficit
    (these outages keep the grid in one piece)."""
    net = rts24()
    branches_out(net, outage_rows)
    model = build_dc_model(net)
    assert connected_components(abs(model.susceptance_matrix()) > 0, directed=False)[0] == 1
    capacity = pd.Series(model.gen_max_p_mw * capacity_share, index=model.gens)
    demand = net.load["p_mw"].sum()
    deficit = max(0.0, demand - capacity.sum())
    limited = optimal_shed(net, capacity_mw=capacity, model=model)
    assert deficit - 1e-6 <= limited.total_shed_mw <= demand + 1e-6
    unlimited = optimal_shed(net, capacity_mw=capacity, emergency_factor=1e6)
    assert unlimited.total_shed_mw == pytest.approx(deficit, abs=1e-6)


def test_islands_solved_per_bus_subset():
    """Cut the RTS-24 into its 138 kV and 230 kV halves: each half solved alone, and together in one call."""
    net = rts24()
    branches_out(net, [7, 14, 15, 16, 17])  # the five 230/138 kV transformers
    low = net.bus.index[net.bus["vn_kv"] == 138.0].to_numpy()
    high = net.bus.index[net.bus["vn_kv"] == 230.0].to_numpy()
    model = build_dc_model(net)
    parts = [optimal_shed(net, buses, model=model) for buses in (low, high)]
    whole = optimal_shed(net, model=model)
    assert all(p.status == "optimal" for p in parts)
    low_loads = net.load.index[net.load["bus"].isin(low)]
    assert list(parts[0].shed_mw.index) == list(low_loads)
    assert sum(p.total_shed_mw for p in parts) == pytest.approx(whole.total_shed_mw, abs=1e-6)
    # 138 kV: 1,332 MW of demand, 684 MW of units at buses 1, 2 and 7; 230 kV: enough for its 1,518 MW
    assert parts[0].total_shed_mw == pytest.approx(1332.0 - 684.0, abs=1e-6)
    assert parts[1].total_shed_mw == pytest.approx(0.0, abs=1e-6)


def test_dead_island_sheds_everything_and_empty_island_is_trivial():
    net = triangle(limit_13=1000.0)
    net.line.loc[[1, 2], "in_service"] = False  # bus 3 alone
    dead = optimal_shed(net, [2])
    assert dead.status == "optimal" and dead.total_shed_mw == pytest.approx(300.0)
    alive = optimal_shed(net, [0, 1])
    assert alive.status == "optimal" and len(alive.shed_mw) == 0 and alive.dispatch_mw.sum() == 0.0
    net.gen["in_service"] = False
    empty = optimal_shed(net, [0, 1])
    assert empty.status == "optimal" and empty.message == "empty island"


def test_infeasible_is_a_status_not_an_exception():
    """Two parallel transformers, one shifting 10 degrees: their circulating flow exceeds any tiny limit."""
    net = pp.create_empty_network()
    hv, lv = pp.create_bus(net, vn_kv=110.0), pp.create_bus(net, vn_kv=20.0)
    for shift in (0.0, 10.0):
        pp.create_transformer_from_parameters(net, hv, lv, sn_mva=40.0, vn_hv_kv=110.0, vn_lv_kv=20.0,
                                              vkr_percent=0.3, vk_percent=12.0, pfe_kw=0.0, i0_percent=0.0,
                                              shift_degree=shift)
    pp.create_gen(net, hv, p_mw=0.0, max_p_mw=50.0)
    pp.create_load(net, lv, p_mw=10.0)
    assert optimal_shed(net).status == "optimal"
    net.trafo["rate_a_mva"] = 1.0
    result = optimal_shed(net)
    assert result.status == "infeasible"
    assert np.isnan(result.total_shed_mw)


def test_model_reuse_must_match_the_rating():
    net = triangle()
    model = build_dc_model(net, rating="rate_b")
    with pytest.raises(ValueError, match="rating='rate_b'"):
        optimal_shed(net, model=model)
    assert optimal_shed(net, model=model, rating="rate_b").status == "optimal"


def test_same_inputs_same_split():
    """Equal weights leave the split of the shed open; it must not change from one solve to the next."""
    net = rts24()
    branches_out(net, [15, 17, 18, 23, 27])
    first, second = optimal_shed(net), optimal_shed(net)
    pd.testing.assert_series_equal(first.shed_mw, second.shed_mw)
    pd.testing.assert_series_equal(first.dispatch_mw, second.dispatch_mw)

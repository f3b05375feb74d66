"""Issue "Numbers a grid engineer would sign": AC-consistent local shedding, a realistic dispatch, and the
eight wrong results it listed, each reproduced here. Every result goes through check_invariants, which also
checks that no unit runs above its available capacity and that generation == served + losses per island
from the reported tables (a reported state is a solved state)."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

import grids
from gridsim.metrics import check_invariants
from gridsim.scenario import Scenario, load_scenario
from gridsim.simulate import simulate

HERE = Path(__file__).parent
REPRO = HERE / "data" / "repro"

CASE1_OUTAGES = [{"line": "Yavir NPP - Hlynyn 330 kV"}, {"line": "Berezhna NPP - Velykohrad 750 kV"},
                 {"line": "Yavir NPP - Berezhna NPP 750 kV"}, {"line": "Berezhnohrad - Kalynivsk 330 kV"},
                 {"line": "Hlynyn - Sosnianka 330 kV"}, {"plant": "Berezhna NPP"}]


def builtin(outages, **fields) -> Scenario:
    return Scenario.model_validate({"name": "t", "network": "dnipro-like", "outages": outages, **fields})


@pytest.fixture(scope="module")
def case1():
    result = simulate(builtin(CASE1_OUTAGES, solver="ac", response="optimal", load_level=1.0))
    check_invariants(result)
    return result


def _reference_min_shed(outages, loads_of) -> float:
    """Independent reference: bisection on a set of loads alone (``loads_of(work, vm)``: a mask over the working
    copy's loads, given the unshed AC voltages of the main island; those loads scaled alike, nothing else
    changed), each point a plain pandapower runpp; least shed giving a converged state with every bus of the
    main island at or above 0.9 p.u."""
    from gridsim.balance import balance
    from gridsim.outages import apply_outages
    from gridsim.simulate import prepare_network
    from gridsim.solvers.powerflow import AC_LOSS_ALLOWANCE, _prepare
    from gridsim.topology import find_islands

    sc = builtin(outages, solver="ac")
    damaged, _ = apply_outages(prepare_network(sc), sc.outages)
    islands = find_islands(damaged)
    bal = balance(damaged, islands, "proportional", AC_LOSS_ALLOWANCE)
    islands = islands.with_slack(bal.slack)
    work = _prepare(damaged, islands, bal)
    main = islands.islands[0].buses
    p0, q0 = work.load["p_mw"].to_numpy().copy(), work.load["q_mvar"].to_numpy().copy()

    def run(f: float, mask) -> pd.Series | None:
        scale = np.where(mask, 1.0 - f, 1.0)
        work.load["p_mw"], work.load["q_mvar"] = p0 * scale, q0 * scale
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(work, numba=False, init="dc", max_iteration=30)
        except Exception:  # noqa: BLE001
            return None
        return work.res_bus.loc[main, "vm_pu"]

    mask = loads_of(work, run(0.0, np.zeros(len(p0), dtype=bool)))

    def ok(f: float) -> bool:
        vm = run(f, mask)
        return vm is not None and bool(vm.min() >= 0.9)

    lo, hi = 0.0, 1.0
    assert not ok(0.0) and ok(1.0)
    for _ in range(10):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi * float(p0[mask].sum())


def _reference_min_shed_berezhna() -> float:
    """The Berezhna region's load alone (case 1)."""
    return _reference_min_shed(CASE1_OUTAGES, lambda work, vm: (work.load["region"] == "Berezhna").to_numpy())


# -- 1. AC trouble is shed where it is, not country-wide ------------------------------------------------

def test_case1_sheds_locally_in_berezhna(case1):
    s = case1.summary
    network = case1.regions["unserved_network_mw"]
    assert network.sum() > 100.0                                   # a real voltage-collapse limit
    assert network.get("Berezhna", 0.0) >= 0.8 * network.sum()     # at least 80 % of it in Berezhna
    assert s["status"] == "converged"                              # an AC state, in band
    assert case1.buses.loc[case1.buses["energised"], "vm_pu"].min() >= 0.9 - 1e-6
    # the note quotes voltages from the AC attempt, never 1.000 p.u. from a DC fallback
    note = next(n for n in s["notes"] if "shed" in n)
    assert "p.u." in note and "1.000 p.u. at 0 buses" not in note


def test_case1_within_20_percent_of_reference_minimum(case1):
    ref = _reference_min_shed_berezhna()
    ours = case1.summary["unserved_by_cause_mw"]["network"]
    print(f"case 1: ours {ours:.1f} MW, reference (Berezhna load alone) {ref:.1f} MW")
    assert ours <= 1.2 * ref, (ours, ref)
    assert ours >= 0.5 * ref, (ours, ref)      # not suspiciously little either


def test_low_voltage_in_a_converged_state_is_shed_at_the_low_buses():
    """Losing the Yavir NPP substation leaves AC converged with four 110 kV buses of Berezhna at 0.87-0.90 p.u.
    The load-scaling sensitivity (step 1 of gridsim.solvers.voltage) put those buses at 0 and shed 8,356 MW in
    13 regions; the loads at the low buses themselves are enough. Reference: bisection on the loads at the buses
    below the band alone (plain runpp)."""
    result = simulate(builtin([{"substation": "Yavir NPP"}], solver="ac", response="optimal", load_level=1.0))
    check_invariants(result)
    network = result.regions["unserved_network_mw"]

    def at_low_buses(work, vm):
        return work.load["bus"].isin(vm.index[vm < 0.9]).to_numpy()

    ref = _reference_min_shed([{"substation": "Yavir NPP"}], at_low_buses)
    ours = float(network.sum())
    print(f"Yavir NPP substation: ours {ours:.1f} MW, reference (loads at the low buses) {ref:.1f} MW")
    assert 0.5 * ref <= ours <= 1.2 * ref, (ours, ref)
    assert network.get("Berezhna", 0.0) >= 0.99 * ours                # all of it where the voltages were low
    assert result.summary["status"] == "converged"
    assert result.buses.loc[result.buses["energised"], "vm_pu"].min() >= 0.9 - 1e-6
    note = next(n for n in result.summary["notes"] if "shed" in n)
    assert "at the buses below the band" in note and "0.872 p.u." in note


# -- 2 and 3. every reported state solved; no unit above capacity ----------------------------------------

def test_reported_state_is_solved_after_the_last_shedding_round(case1):
    isl = case1.islands
    main = isl.loc[0]
    served = case1.loads.loc[case1.loads["island"] == 0, "served_mw"].sum()
    assert main["generation_mw"] == pytest.approx(served + main["losses_mw"], abs=0.1)


def test_slack_never_above_its_capacity_with_the_four_npps_out():
    npps = [{"select": {"kind": "plant", "fuel": "nuclear"}}]
    for response in ("optimal", "none"):
        r = simulate(builtin(npps, solver="ac", response=response))
        check_invariants(r)            # includes: no unit above its available capacity
        g = r.generators
        assert (g["p_mw"] <= g["available_mw"] + 0.1).all()


# -- 4. cascade: one rule for every step ------------------------------------------------------------------

def test_cascade_counts_only_what_trips_caused():
    net = grids.triangle_limited(limit_ac_mw=100.0, limit_bc_mw=1000.0)
    net.load.loc[:, "p_mw"] = 201.0          # 1 MW deficit (G is 200 MW)
    sc = Scenario.model_validate({"name": "t", "network": "x", "solver": "dc", "response": "cascade"})
    r = simulate(sc, net=net)
    check_invariants(r)
    steps = r.summary["cascade_steps"]
    assert len(steps) >= 2 and steps[1]["n_tripped"] >= 1       # A-C trips at step 1 ...
    by_cause = r.summary["unserved_by_cause_mw"]
    assert by_cause["deficit"] == pytest.approx(1.0, abs=1e-6)  # ... but islands and supply are unchanged
    assert by_cause["cascade"] == pytest.approx(0.0, abs=1e-6)


# -- 5. loads selected as outages are out ---------------------------------------------------------------

def test_select_kind_load_takes_the_loads_out(run, two_areas):
    net = two_areas()
    region = net.load["region"].iloc[0]
    demand = float(net.load.loc[net.load["region"] == region, "p_mw"].sum())
    r = run(net, [{"select": {"kind": "load", "region": region}}], solver="dc")
    assert r.summary["unserved_by_cause_mw"]["isolated"] == pytest.approx(demand)
    assert r.regions.at[region, "served_mw"] == pytest.approx(0.0)


# -- 6. unlimited external grids do not crowd out static generators ------------------------------------

def test_static_generators_are_dispatched_before_an_unlimited_external_grid():
    from gridsim.networks import build_network

    net = build_network("pandapower:mv_oberrhein")
    sgen = net.gen[net.gen["converted_from"] == "sgen"]
    sc = Scenario.model_validate({"name": "t", "network": "pandapower:mv_oberrhein", "solver": "dc",
                                  "response": "none"})
    r = simulate(sc, net=net)
    check_invariants(r)
    out = r.generators.loc[sgen["name"], "p_mw"].sum()
    assert out == pytest.approx(float(sgen["max_p_mw"].sum()), rel=1e-6)    # all of it, not 0.004 MW
    assert out > 10.0


# -- 7. elements not modelled are listed with their MW ---------------------------------------------------

def test_storage_and_impedances_are_listed_as_not_modelled(run):
    net = grids.three_bus()
    pp.create_storage(net, bus=0, p_mw=0.0, max_e_mwh=40.0, max_p_mw=20.0, name="battery")
    pp.create_impedance(net, 0, 1, rft_pu=0.01, xft_pu=0.05, sn_mva=100.0, name="tie")
    r = run(net, [], solver="dc")
    notes = " ".join(r.summary["notes"])
    assert "1 storage unit(s), 20.0 MW" in notes
    assert "impedance" in notes


# -- 8. limits violated are named, never hidden behind "converged" ---------------------------------------

@pytest.mark.parametrize("name", ["heavy-case24-10029", "heavy-case73-20009"])
def test_heavy_cases_name_every_violation(name):
    r = simulate(load_scenario(REPRO / f"{name}.yaml"))
    check_invariants(r)
    over = r.branches[r.branches["overloaded"]]
    isl = r.islands
    for branch, row in over.iterrows():
        bus_island = r.buses.loc[row["from_bus"], "island"]
        assert isl.at[bus_island, "status"] != "converged", branch
        assert branch in isl.at[bus_island, "message"]
    live = isl[isl["status"] == "converged"].index
    vm = r.buses.loc[r.buses["island"].isin(live), "vm_pu"]
    assert vm.between(0.9 - 1e-6, 1.1 + 1e-6).all()


def test_over_voltage_gets_a_reactive_response_on_case24():
    r = simulate(load_scenario(REPRO / "heavy-case24-10029.yaml"))
    notes = " ".join(r.summary["notes"])
    assert "opened lightly loaded line 6-10" in notes          # the open-ended cable's charging
    assert r.summary["status"] == "converged"
    assert not r.branches["overloaded"].any()


# -- dispatch ------------------------------------------------------------------------------------------

def test_winter_peak_dispatch_is_merit_order_with_solar_dark():
    r = simulate(builtin([], solver="dc", response="none"))
    g = r.generators
    assert g.loc[g["fuel"] == "solar", "p_mw"].sum() == pytest.approx(0.0, abs=1e-6)
    assert g.loc[g["fuel"] == "solar", "available_mw"].sum() == pytest.approx(0.0)
    nuclear = g[g["fuel"] == "nuclear"]
    assert nuclear["p_mw"].sum() == pytest.approx(nuclear["available_mw"].sum())   # base load, full
    assert g.loc[g["fuel"] == "import", "p_mw"].sum() == pytest.approx(0.0, abs=1e-6)      # imports last
    assert r.islands["reserve_mw"].iloc[0] > 0


def test_availability_from_the_scenario_overrides_the_network():
    r = simulate(builtin([], solver="dc", response="none", availability={"solar": 0.5, "wind": 0.0}))
    g = r.generators
    assert g.loc[g["fuel"] == "wind", "available_mw"].sum() == pytest.approx(0.0)
    assert g.loc[g["fuel"] == "solar", "available_mw"].sum() == pytest.approx(0.5 * 1300.0)


def test_matpower_networks_keep_full_capacity():
    from gridsim.simulate import prepare_network

    sc = Scenario.model_validate({"name": "t", "network": str(HERE / "data/pglib/pglib_opf_case24_ieee_rts.m")})
    net = prepare_network(sc)
    assert (net.gen["max_p_mw"] == net.gen["p_nameplate_mw"]).all()


def test_reactor_at_a_bus_whose_lines_are_all_out_is_switched_off():
    from gridsim.outages import apply_outages
    from gridsim.simulate import prepare_network

    sc = builtin(CASE1_OUTAGES)
    base = prepare_network(sc)
    damaged, applied = apply_outages(base, sc.outages)
    switched = applied.table[applied.table["action"] == "switched off"]
    assert "Berezhna NPP 750 kV reactor" in set(switched["element"])
    assert not damaged.shunt.loc[damaged.shunt["name"] == "Berezhna NPP 750 kV reactor", "in_service"].any()
    assert base.shunt["in_service"].all()


def test_lp_cost_breaks_ties_without_changing_the_shed():
    from gridsim.solvers.optimal import optimal_shed

    net = grids.triangle_limited()
    pp.create_gen(net, 1, p_mw=0.0, max_p_mw=200.0, name="G2")
    net.gen.loc[net.gen.index[-1], ["fuel", "plant", "kind", "region"]] = ["gas", "Plant B", "unit", "North"]
    cheap_a = optimal_shed(net, cost={0: 10.0, 1: 70.0})
    cheap_b = optimal_shed(net, cost={0: 70.0, 1: 10.0})
    assert cheap_a.total_shed_mw == pytest.approx(cheap_b.total_shed_mw, abs=1e-6)
    assert cheap_a.dispatch_mw[("gen", 0)] > cheap_b.dispatch_mw[("gen", 0)]


def test_three_winding_transformer_overload_triggers_the_response():
    """A 3-winding transformer has a rating (its windings' sn_mva): overloading it must be relieved or named,
    never passed over as before (issue item 7)."""
    net = pp.create_empty_network()
    hv = grids._bus(net, "HV", "R", 0, 0, vn=110.0)
    mv = grids._bus(net, "MV", "R", 10, 0, vn=20.0)
    lv = grids._bus(net, "LV", "R", 0, 10, vn=10.0)
    pp.create_transformer3w_from_parameters(net, hv, mv, lv, vn_hv_kv=110, vn_mv_kv=20, vn_lv_kv=10,
                                            sn_hv_mva=40, sn_mv_mva=30, sn_lv_mva=20, vk_hv_percent=10,
                                            vk_mv_percent=10, vk_lv_percent=10, vkr_hv_percent=0.3,
                                            vkr_mv_percent=0.3, vkr_lv_percent=0.3, pfe_kw=20, i0_percent=0.1,
                                            name="T3")
    grids._gen(net, hv, "G", "Plant", 200.0)
    grids._load(net, mv, "L_MV", 35.0)
    grids._load(net, lv, "L_LV", 10.0)
    net = grids._finish(net, {"R": (0, 0)})
    for solver in ("dc", "ac"):
        none = simulate(Scenario.model_validate({"name": "t", "network": "x", "solver": solver,
                                                 "response": "none"}), net=net)
        opt = simulate(Scenario.model_validate({"name": "t", "network": "x", "solver": solver,
                                                "response": "optimal"}), net=net)
        check_invariants(opt)
        assert none.unserved_mw == pytest.approx(0.0)
        assert opt.summary["unserved_by_cause_mw"]["network"] > 4.0, solver     # 45 MW through 40 MVA
        assert opt.islands.loc[0, "status"] == "converged" or "T3" in opt.islands.loc[0, "message"]
        # listed with the branches, overloaded without a response, within its rating with one
        assert none.branches.at["T3", "kind"] == "trafo3w" and none.branches.at["T3", "overloaded"]
        assert not opt.branches.at["T3", "overloaded"] or "T3" in opt.islands.loc[0, "message"]
        assert any(b["name"] == "T3" for b in none.summary["overloaded_branches"])


def test_report_draws_a_net_with_three_winding_transformers(tmp_path):
    from gridsim.report import write_report

    net = pp.networks.example_multivoltage()
    from gridsim.networks.normalise import normalise_net
    net = normalise_net(net, "example_multivoltage")
    r = simulate(Scenario.model_validate({"name": "t", "network": "x", "solver": "ac"}), net=net)
    check_invariants(r)
    assert (r.branches["kind"] == "trafo3w").any()
    assert "map.png" in write_report(r, tmp_path)


def test_reactors_follow_the_line_charging_still_connected():
    """A reactor whose bus lost some of its lines is reduced to the share of line charging still connected
    (switched banks), and the undamaged network keeps its reactors whole."""
    from gridsim.outages import _charging_by_bus, apply_outages
    from gridsim.simulate import prepare_network

    sc = builtin([{"line": "Berezhna NPP - Velykohrad 750 kV"}])
    base = prepare_network(sc)
    damaged, applied = apply_outages(base, sc.outages)
    reduced = applied.table[applied.table["action"].str.startswith("reduced to")]
    assert len(reduced) >= 1
    for name in reduced["element"]:
        bus = int(base.shunt.loc[base.shunt["name"] == name, "bus"].iloc[0])
        share = _charging_by_bus(damaged).get(bus, 0.0) / _charging_by_bus(base)[bus]
        q0 = float(base.shunt.loc[base.shunt["name"] == name, "q_mvar"].iloc[0])
        q1 = float(damaged.shunt.loc[damaged.shunt["name"] == name, "q_mvar"].iloc[0])
        assert 0 < share < 1 and q1 == pytest.approx(q0 * share)
    untouched, none = apply_outages(base, [])
    assert len(none.table) == 0 and (untouched.shunt["q_mvar"] == base.shunt["q_mvar"]).all()

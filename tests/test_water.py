"""Issue "Water": energy-limited hydro, travel times, spill, pumped storage and lost dams, checked by hand on a
3-bus triangle with two hydro plants on one river (Up above Down) and a gas unit, and on the built-in grid."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import grids
from gridsim.errors import NetworkError, ScenarioError
from gridsim.metrics import check_invariants
from gridsim.networks import build_network
from gridsim.scenario import Scenario
from gridsim.simulate import simulate
from gridsim.timeline import simulate_timeline
from gridsim.water.lp import travel_split
from gridsim.water.river import M3S_HOUR_HM3, river_table

HM3_PER_MWH = M3S_HOUR_HM3          # at 1 MW per m3/s, one MWh is 0.0036 hm3


def river_grid(load_mw=50.0, up_mw=100.0, down_mw=100.0, gas_mw=0.0, rows=None):
    """Triangle A-B-C: hydro plant Up (one unit) at A, Down at B, gas at C (if any), load L at C."""
    import pandapower as pp

    net = pp.create_empty_network()
    a = grids._bus(net, "A", "north", 0, 0)
    b = grids._bus(net, "B", "north", 50, 0)
    c = grids._bus(net, "C", "north", 25, 40)
    for x, y, name in ((a, b, "A-B"), (b, c, "B-C"), (a, c, "A-C")):
        grids._line(net, x, y, name)
    grids._gen(net, a, "Up G1", "Up", up_mw, fuel="hydro")
    grids._gen(net, b, "Down G1", "Down", down_mw, fuel="hydro")
    if gas_mw:
        grids._gen(net, c, "Gas G1", "Gas", gas_mw)
    grids._load(net, c, "L", load_mw)
    net = grids._finish(net, {"north": (25, 20)})
    base = {"downstream": "", "travel_h": 0.0, "storage_min_hm3": 0.0, "storage_max_hm3": 1.0,
            "storage_init_hm3": 0.0, "inflow_m3s": 0.0, "mw_per_m3s": 1.0, "pump_mw": 0.0, "efficiency": 0.75}
    net["river"] = pd.DataFrame([{**base, **r} for r in (rows or [])])
    return net


def scenario(outages=(), horizon=3, step=1.0, profile="flat", **fields) -> Scenario:
    return Scenario.model_validate({"name": "w", "network": "x", "solver": "dc", "response": "optimal",
                                    "shedding": "priority", "outages": list(outages),
                                    "timeline": {"horizon_h": horizon, "step_h": step, "profile": profile},
                                    **fields})


def hydro(result, plant: str) -> pd.DataFrame:
    return result.hydro[result.hydro["plant"] == plant].set_index("time_h")


def profile_csv(tmp_path, factors: list[float]) -> str:
    path = tmp_path / "profile.csv"
    path.write_text("hour,factor\n" + "".join(f"{h},{f}\n" for h, f in enumerate(factors)))
    return str(path)


def check_balance(result, net) -> None:
    """storage(t) = storage(t-1) + (inflow - discharge - spill) + eff * pump / k, in hm3, every plant and step."""
    river = river_table(net)
    step_h = result.summary["timeline"]["step_h"]
    for plant, g in result.hydro.groupby("plant"):
        row = river.set_index("plant").loc[plant]
        before = np.concatenate([[row["storage_init_hm3"]], g["storage_hm3"].to_numpy()[:-1]])
        pumped = row["efficiency"] * g["pump_mw"] / row["mw_per_m3s"]
        flow = g["inflow_m3s"] - g["discharge_m3s"] - g["spill_m3s"] + pumped
        change = flow.to_numpy() * step_h * M3S_HOUR_HM3
        assert np.allclose(g["storage_hm3"].to_numpy(), before + change, atol=1e-6), plant


def run(sc, net):
    return simulate_timeline(sc, net=net)


# -- energy limits ---------------------------------------------------------------------------------------------

def test_100_mwh_of_water_and_no_inflow_cannot_deliver_150_mwh():
    net = river_grid(load_mw=50.0, rows=[{"plant": "Up", "storage_init_hm3": 100 * HM3_PER_MWH},
                                         {"plant": "Down"}])
    r = run(scenario(horizon=3), net)
    assert r.summary["energy_demand_mwh"] == pytest.approx(150.0)
    assert r.summary["energy_not_served_mwh"] == pytest.approx(50.0, abs=1e-6)   # 100 MWh of water, no more
    assert hydro(r, "Up")["p_mw"].sum() == pytest.approx(100.0, abs=1e-6)
    assert hydro(r, "Up")["storage_hm3"].iloc[-1] == pytest.approx(0.0, abs=1e-9)
    assert r.summary["water"]["energy_not_served_mwh"] == pytest.approx(r.summary["energy_not_served_mwh"])
    check_invariants(r)
    check_balance(r, net)
    # a snapshot treats hydro as today: the 100 MW unit serves the 50 MW load whatever its water
    assert simulate(scenario().model_copy(update={"timeline": None}), net=net).unserved_mw == pytest.approx(0.0)


def test_water_goes_to_the_peak_hours(tmp_path):
    """60 MWh of water, a 40 MW gas unit and a load of 40 MW except 100 MW at hour 2: the water waits for
    the peak (no shedding at all), where a myopic hour-by-hour use would have spent it early."""
    net = river_grid(load_mw=100.0, gas_mw=40.0, rows=[{"plant": "Up", "storage_init_hm3": 60 * HM3_PER_MWH},
                                                        {"plant": "Down"}])
    r = run(scenario(horizon=4, profile=profile_csv(tmp_path, [0.4, 0.4, 1.0, 0.4])), net)
    assert r.summary["energy_not_served_mwh"] == pytest.approx(0.0, abs=1e-6)
    assert list(hydro(r, "Up")["p_mw"].round(6)) == [0.0, 0.0, 60.0, 0.0]
    check_invariants(r)


# -- travel times -------------------------------------------------------------------------------------------------

def test_release_at_hour_3_with_5_h_travel_arrives_at_hour_8(tmp_path):
    """Demand only at hour 3 (Up serves it from storage) and at hour 8; Down has no water of its own, so at
    hour 8 it runs on exactly what Up released at hour 3 (the same water serves both peaks)."""
    net = river_grid(load_mw=30.0, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 5.0, "storage_init_hm3": 30 * HM3_PER_MWH},
        {"plant": "Down", "storage_max_hm3": 0.0}])
    factors = [0.0] * 12
    factors[3] = 1.0
    factors[8] = 1.0
    r = run(scenario(horizon=12, profile=profile_csv(tmp_path, factors)), net)
    up, down = hydro(r, "Up"), hydro(r, "Down")
    released = up["discharge_m3s"] + up["spill_m3s"]
    assert released.loc[3] == pytest.approx(30.0, abs=1e-6)
    assert released.drop(3.0).abs().max() == pytest.approx(0.0, abs=1e-6)
    assert down["inflow_m3s"].loc[8] == pytest.approx(30.0, abs=1e-6)
    assert down["inflow_m3s"].drop(8.0).abs().max() == pytest.approx(0.0, abs=1e-6)
    assert down["p_mw"].loc[8] == pytest.approx(30.0, abs=1e-6)
    assert r.summary["energy_not_served_mwh"] == pytest.approx(0.0, abs=1e-6)   # the same water serves twice
    check_balance(r, net)


def test_a_travel_time_between_steps_splits_the_arrival():
    assert travel_split(5.0, 1.0) == (5, 0.0)
    assert travel_split(5.5, 1.0) == (5, 0.5)
    assert travel_split(5.0, 2.0) == (2, 0.5)


def test_steady_river_before_hour_0_keeps_arriving():
    """Up passes its natural inflow on before hour 0; with a 2 h travel time Down sees it at hours 0 and 1."""
    net = river_grid(load_mw=0.001, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 2.0, "inflow_m3s": 10.0, "storage_init_hm3": 1.0},
        {"plant": "Down", "storage_init_hm3": 0.5}])
    r = run(scenario(horizon=4), net)
    assert list(hydro(r, "Down")["inflow_m3s"].iloc[:2].round(9)) == [10.0, 10.0]
    check_balance(r, net)


# -- turbines out, dams lost ---------------------------------------------------------------------------------------

def test_turbines_out_spill_the_water_to_the_plant_below():
    """Up's unit is out and its reservoir held at its level: its inflow of 20 m3/s spills and reaches Down 1 h
    later, where it runs the turbines (Down has no reservoir)."""
    net = river_grid(load_mw=200.0, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 1.0, "inflow_m3s": 20.0, "storage_init_hm3": 1.0,
         "storage_min_hm3": 1.0},
        {"plant": "Down", "storage_max_hm3": 0.0}])
    r = run(scenario([{"plant": "Up"}], horizon=4), net)
    up, down = hydro(r, "Up"), hydro(r, "Down")
    assert up["p_mw"].abs().max() == pytest.approx(0.0, abs=1e-9)
    assert list(up["spill_m3s"].round(6)) == [20.0] * 4
    assert list(down["p_mw"].round(6)) == [20.0] * 4      # hour 0 from the steady river, then the spill
    check_balance(r, net)
    check_invariants(r)


def test_a_lost_dam_sends_its_water_down_at_once_and_the_plant_below_takes_what_it_can():
    """Up holds 1 hm3 and breaks at hour 0; 1 h later the pulse (1 hm3 in one hour: 277.8 m3/s) reaches
    Down, whose turbines take 100 m3/s (100 MW at 1 MW per m3/s, the load wants 200 MW) and whose
    reservoir has 0.2 hm3 (55.6 m3/s for an hour) of room: the rest, 122.2 m3/s, spills."""
    net = river_grid(load_mw=200.0, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 1.0, "storage_init_hm3": 1.0},
        {"plant": "Down", "storage_init_hm3": 0.3, "storage_min_hm3": 0.3, "storage_max_hm3": 0.5}])
    r = run(scenario([{"dam": "Up"}], horizon=3), net)
    up, down = hydro(r, "Up"), hydro(r, "Down")
    pulse = 1.0 / M3S_HOUR_HM3
    assert up["spill_m3s"].loc[0] == pytest.approx(pulse)
    assert up["p_mw"].abs().max() == pytest.approx(0.0, abs=1e-9)       # no head: the units give nothing
    assert list(up["storage_hm3"].round(9)) == [0.0] * 3
    assert down["inflow_m3s"].loc[1] == pytest.approx(pulse)
    assert down["discharge_m3s"].loc[1] == pytest.approx(100.0)
    assert down["storage_hm3"].loc[1] == pytest.approx(0.5)
    assert down["spill_m3s"].loc[1] == pytest.approx(pulse - 100.0 - 0.2 / M3S_HOUR_HM3)
    assert r.outages["asset"].str.startswith("dam: Up").any()
    check_balance(r, net)
    check_invariants(r)


def test_a_repaired_dam_refills_from_inflow():
    net = river_grid(load_mw=0.001, rows=[
        {"plant": "Up", "inflow_m3s": 50.0, "storage_init_hm3": 0.6, "storage_min_hm3": 0.5},
        {"plant": "Down"}])
    r = run(scenario([{"dam": "Up", "repair_h": 2}], horizon=6), net)
    up = hydro(r, "Up")
    assert list(up["storage_hm3"].iloc[:2]) == [0.0, 0.0]
    # refilling, the reservoir gives nothing until it is back above its minimum (0.5 hm3, after hour 4); then it
    # serves the 0.001 MW load and keeps the rest (water is worth keeping)
    assert list(up["p_mw"].round(9)) == [0.0, 0.0, 0.0, 0.0, 0.001, 0.001]
    assert up["storage_hm3"].iloc[-1] == pytest.approx(4 * 50.0 * M3S_HOUR_HM3 - 0.002 * M3S_HOUR_HM3, abs=1e-9)
    check_balance(r, net)


def test_dam_names_are_checked():
    net = river_grid(rows=[{"plant": "Up"}, {"plant": "Down"}])
    with pytest.raises(ScenarioError, match="did you mean 'Up'"):
        simulate(scenario([{"dam": "Upp"}]).model_copy(update={"timeline": None}), net=net)
    with pytest.raises(ScenarioError, match="no dams"):
        simulate(scenario([{"dam": "Nothing"}]).model_copy(update={"timeline": None}), net=grids.three_bus())


def test_bad_river_data_is_a_clear_network_error():
    net = river_grid(rows=[{"plant": "Up", "downstream": "Nowhere"}, {"plant": "Down"}])
    with pytest.raises(NetworkError, match="downstream plant 'Nowhere'"):
        river_table(net)
    net = river_grid(rows=[{"plant": "Up", "storage_init_hm3": 2.0}, {"plant": "Down"}])
    with pytest.raises(NetworkError, match="storage_init_hm3 <= storage_max_hm3"):
        river_table(net)
    net = river_grid(rows=[{"plant": "Up", "downstream": "Down"}, {"plant": "Down", "downstream": "Up"}])
    with pytest.raises(NetworkError, match="loop"):
        river_table(net)


# -- pumped storage ----------------------------------------------------------------------------------------------

def test_pumped_storage_pumps_off_peak_and_gives_back_the_round_trip(tmp_path):
    """Down is a pumped-storage plant (100 MW pump, 75 %): with 80 MW of gas and a load of 40 MW off peak
    and 100 MW at hour 2, it pumps 40 MW for 2 h (80 MWh) and gives back 60 MWh: 20 MW short at the peak
    becomes none... within the 75 %: 60 MWh covers the 20 MW gap for 1 h."""
    net = river_grid(load_mw=100.0, up_mw=0.001, down_mw=100.0, gas_mw=80.0, rows=[
        {"plant": "Up"}, {"plant": "Down", "pump_mw": 100.0, "efficiency": 0.75}])
    r = run(scenario(horizon=4, profile=profile_csv(tmp_path, [0.4, 0.4, 1.0, 0.4])), net)
    down = hydro(r, "Down")
    assert r.summary["energy_not_served_mwh"] == pytest.approx(0.0, abs=1e-6)
    assert down["p_mw"].loc[2] == pytest.approx(20.0, abs=1e-6)
    assert (down["pump_mw"].sum() * 0.75) >= 20.0 - 1e-6
    assert down["pump_mw"].loc[2] == pytest.approx(0.0)
    check_balance(r, net)
    check_invariants(r)


# -- the timeline equals the plan; snapshots unchanged ---------------------------------------------------------

def test_timeline_energy_not_served_equals_the_plan_with_network_limits(tmp_path):
    """A weak line A-C (the hydro plants behind it): both step engines give the plan's energy not served."""
    net = river_grid(load_mw=150.0, gas_mw=60.0, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 2.0, "inflow_m3s": 30.0, "storage_init_hm3": 0.3},
        {"plant": "Down", "inflow_m3s": 5.0, "storage_init_hm3": 0.1}])
    net.line["max_i_ka"] = 0.3
    net = grids._finish(net, {"north": (25, 20)})
    sc = scenario([{"line": "B-C", "at_h": 3, "repair_h": 4}], horizon=10,
                  profile=profile_csv(tmp_path, [0.6, 0.7, 0.9, 1.0, 0.8, 0.7, 1.0, 0.9, 0.6, 0.5]))
    for fast in (True, False):
        r = simulate_timeline(sc, net=net, fast=fast)
        assert r.summary["energy_not_served_mwh"] > 1.0
        assert r.summary["energy_not_served_mwh"] == pytest.approx(r.summary["water"]["energy_not_served_mwh"],
                                                                   abs=1e-5)
        t = r.timeline
        assert np.allclose(t["served_mw"] + t["unserved_mw"], t["demand_mw"], atol=1e-6)
        assert (t["unserved_mw"] >= -1e-9).all()
        check_invariants(r)


def test_builtin_grid_timeline_equals_its_water_plan():
    sc = Scenario.model_validate({
        "name": "b", "network": "dnipro-like", "solver": "dc", "response": "optimal", "shedding": "priority",
        "timeline": {"horizon_h": 24, "start": "2026-01-15T00:00"},
        "outages": [{"dam": "Dnipro-like HPP"}, {"plant": "Chornozem TPP"}, {"plant": "Sazhotyn TPP"},
                    {"plant": "Dubrava TPP"}, {"plant": "Lukomir HPP", "at_h": 10}]})
    r = simulate_timeline(sc)
    assert r.summary["energy_not_served_mwh"] > 100.0
    assert r.summary["energy_not_served_mwh"] == pytest.approx(r.summary["water"]["energy_not_served_mwh"],
                                                               rel=1e-7, abs=1e-4)
    assert set(r.hydro["plant"]) == set(build_network("dnipro-like")["river"]["plant"])
    check_balance(r, build_network("dnipro-like"))
    check_invariants(r)


def test_a_snapshot_ignores_the_river():
    """Scenarios without a timeline keep their numbers: the river table changes nothing in a snapshot."""
    sc = Scenario.model_validate({"name": "s", "network": "dnipro-like", "solver": "dc",
                                  "outages": [{"plant": "Dnipro-like HPP"}, {"plant": "Chornozem TPP"},
                                              {"plant": "Sazhotyn TPP"}, {"plant": "Zorya NPP"}]})
    with_river = build_network("dnipro-like")
    without = build_network("dnipro-like")
    del without["river"]
    a, b = simulate(sc, net=with_river), simulate(sc, net=without)
    assert a.unserved_mw > 0
    assert a.unserved_mw == pytest.approx(b.unserved_mw, abs=1e-9)


def test_unlimited_water_gives_the_timeline_without_a_river(tmp_path):
    """With more water than the turbines can use, the plan changes nothing: same energy not served as the
    same timeline on the network without its river table (every hour at full turbine capacity)."""
    rows = [{"plant": "Up", "downstream": "Down", "travel_h": 1.0, "storage_max_hm3": 1e4, "storage_init_hm3": 5e3},
            {"plant": "Down", "storage_max_hm3": 1e4, "storage_init_hm3": 5e3}]
    net = river_grid(load_mw=150.0, gas_mw=20.0, rows=rows)
    net.line["max_i_ka"] = 0.3
    net = grids._finish(net, {"north": (25, 20)})
    sc = scenario([{"plant": "Down", "at_h": 2, "repair_h": 3}], horizon=8,
                  profile=profile_csv(tmp_path, [0.5, 0.8, 1.0, 0.9, 0.7, 1.0, 0.6, 0.5]))
    plain = copy.deepcopy(net)
    del plain["river"]
    with_water, without = simulate_timeline(sc, net=net), simulate_timeline(sc, net=plain)
    assert without.summary["energy_not_served_mwh"] > 1.0
    assert with_water.summary["energy_not_served_mwh"] == pytest.approx(without.summary["energy_not_served_mwh"],
                                                                        abs=1e-6)
    assert "water" not in without.summary and not len(without.hydro)


def test_a_pandapower_json_network_declares_its_river(tmp_path):
    """net["river"] travels in pandapower JSON; an hourly inflow list is read hour by hour."""
    import pandapower as pp

    from gridsim.networks import build_network

    net = river_grid(load_mw=10.0, rows=[{"plant": "Up", "inflow_m3s": [0.0, 5.0, 10.0], "storage_max_hm3": 0.0},
                                         {"plant": "Down"}])
    pp.to_json(net, str(tmp_path / "river.json"))
    loaded = build_network(str(tmp_path / "river.json"))
    r = simulate_timeline(scenario(horizon=4), net=loaded)
    assert list(hydro(r, "Up")["inflow_m3s"]) == [0.0, 5.0, 10.0, 10.0]
    assert list(hydro(r, "Up")["p_mw"].round(9)) == [0.0, 5.0, 10.0, 10.0]    # run of river: no storage
    assert r.summary["energy_not_served_mwh"] == pytest.approx(10.0 + 5.0)


def _plan_and_myopic(sc, net):
    from gridsim.simulate import prepare_network
    from gridsim.timeline import _Runner
    from gridsim.water.myopic import myopic_unserved
    from gridsim.water.plan import plan_inputs, solve_barring_pumps

    runner = _Runner(sc, prepare_network(sc, net), True)
    states = [(a, f) for _, _, a, f in runner.states(list(sc.outages))]
    blocks, _, inputs, scale = plan_inputs(runner, states, runner.matches[tuple(o.label for o in sc.outages)])
    plan, _ = solve_barring_pumps(blocks, inputs, scale)
    myopic, _ = myopic_unserved(blocks, inputs, scale)
    return plan.unserved_mw.sum() * sc.timeline.step_h, myopic.sum() * sc.timeline.step_h


def test_the_plan_never_serves_less_than_a_myopic_hour_by_hour_use(tmp_path):
    """Scarce water on a river with travel times, a line out for 3 h and tight ratings: the plan (foresight)
    leaves no more unserved than deciding one step at a time, and the timeline equals the plan."""
    profile = profile_csv(tmp_path, [0.5, 0.9, 1.0, 0.6, 0.4, 1.0, 0.9, 0.5, 0.7, 1.0])
    net = river_grid(load_mw=150.0, gas_mw=60.0, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 2.0, "inflow_m3s": 10.0, "storage_init_hm3": 0.2},
        {"plant": "Down", "inflow_m3s": 5.0, "storage_init_hm3": 0.05}])
    net.line["max_i_ka"] = 0.3
    net = grids._finish(net, {"north": (25, 20)})
    sc = scenario([{"line": "A-C", "at_h": 4, "repair_h": 3}], horizon=10, profile=profile)
    plan, myopic = _plan_and_myopic(sc, net)
    assert plan > 1.0
    assert plan <= myopic + 1e-6
    assert plan == pytest.approx(simulate_timeline(sc, net=net).summary["energy_not_served_mwh"], abs=1e-5)


def test_myopic_spends_the_water_before_the_peak_the_plan_keeps_it(tmp_path):
    """60 MWh of water, 40 MW of imports (dearer than water is worth): 40 MW at hours 0-1, 100 MW at hour 2.
    One step at a time the water replaces imports at once (40 MWh at hour 0, the last 20 at hour 1), and the
    peak lacks 60 MW. The plan leaves the night to the imports and spends all 60 MWh at the peak."""
    net = river_grid(load_mw=100.0, rows=[{"plant": "Up", "storage_init_hm3": 60 * HM3_PER_MWH}, {"plant": "Down"}])
    net.gen.loc[net.gen["name"] == "Down G1", ["fuel", "plant", "max_p_mw"]] = ["import", "Imports", 40.0]
    net["river"] = net["river"][net["river"]["plant"] == "Up"]
    sc = scenario(horizon=3, profile=profile_csv(tmp_path, [0.4, 0.4, 1.0]))
    plan, myopic = _plan_and_myopic(sc, net)
    assert plan == pytest.approx(0.0, abs=1e-6)
    assert myopic == pytest.approx(60.0, abs=1e-6)


def test_with_water_to_spare_the_plan_and_the_myopic_use_agree(tmp_path):
    rows = [{"plant": "Up", "downstream": "Down", "travel_h": 1.0, "storage_max_hm3": 1e4, "storage_init_hm3": 5e3},
            {"plant": "Down", "storage_max_hm3": 1e4, "storage_init_hm3": 5e3}]
    net = river_grid(load_mw=260.0, gas_mw=20.0, rows=rows)
    sc = scenario([{"plant": "Down", "at_h": 2, "repair_h": 3}], horizon=6,
                  profile=profile_csv(tmp_path, [0.5, 0.8, 1.0, 0.9, 0.7, 1.0]))
    plan, myopic = _plan_and_myopic(sc, net)
    assert plan > 1.0
    assert plan == pytest.approx(myopic, abs=1e-6)


def test_gridsim_run_writes_hydro_csv_whose_water_balance_closes(tmp_path):
    """Through the CLI on a pandapower JSON network with a river: hydro.csv (balance to 1e-6 hm3 every step)
    and the river figure in the report."""
    import pandapower as pp

    from gridsim.cli import main

    net = river_grid(load_mw=120.0, gas_mw=30.0, rows=[
        {"plant": "Up", "downstream": "Down", "travel_h": 1.5, "inflow_m3s": [20.0, 40.0], "storage_init_hm3": 0.3},
        {"plant": "Down", "inflow_m3s": 5.0, "storage_init_hm3": 0.1, "pump_mw": 30.0}])
    pp.to_json(net, str(tmp_path / "river.json"))
    (tmp_path / "s.yaml").write_text(
        "name: river run\nnetwork: river.json\nsolver: dc\nshedding: priority\n"
        "timeline: {horizon_h: 12, step_h: 0.5, profile: winter-weekday}\n"
        "outages:\n  - dam: Up\n    at_h: 3\n    repair_h: 4\n")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.yaml"), "-o", str(out), "-q"]) == 0
    table = pd.read_csv(out / "hydro.csv")
    assert list(table.columns) == ["plant", "time_h", "p_mw", "discharge_m3s", "inflow_m3s", "spill_m3s",
                                   "storage_hm3", "pump_mw"]
    assert len(table) == 2 * 24
    result = type("R", (), {"hydro": table, "summary": {"timeline": {"step_h": 0.5}}})
    check_balance(result, net)
    assert (out / "river.png").exists() and "The river" in (out / "report.html").read_text()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_the_highs_backend_passes_the_same_lp_as_a_highs_model_object():
    """HighsLP hands HiGHS its arrays directly; the LP must be the one a HighsLp object holds (same optimum and
    the same vertex bit for bit, same iterations), also after rows are added (a warm re-solve)."""
    highspy = pytest.importorskip("highspy")
    import scipy.sparse as sp

    from gridsim.water.backend import HighsLP

    rng = np.random.default_rng(5)
    n_row, n_col = 30, 120
    a = sp.random(n_row, n_col, density=0.15, random_state=rng, format="csr")
    x0 = rng.random(n_col)
    rhs = a @ x0
    c = rng.random(n_col) - 0.3
    args = (c, a, rhs - rng.random(n_row), rhs + rng.random(n_row), np.zeros(n_col), np.full(n_col, 2.0))
    ours = HighsLP(*args)
    ref = HighsLP.__new__(HighsLP)
    ref.h, ref.inf, ref.highspy = highspy.Highs(), highspy.kHighsInf, highspy
    ref.h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    csc = a.tocsc()
    lp.num_col_, lp.num_row_ = n_col, n_row
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = c, args[4], args[5]
    lp.row_lower_, lp.row_upper_ = args[2], args[3]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = csc.indptr, csc.indices, csc.data
    ref.h.passModel(lp)
    extra = sp.random(4, n_col, density=0.3, random_state=rng, format="csr")
    for round_ in range(2):
        got, want = ours.solve(), ref.solve()
        assert got[0] == want[0] == "optimal"
        assert np.array_equal(got[1], want[1])
        assert ours.h.getInfo().simplex_iteration_count == ref.h.getInfo().simplex_iteration_count
        if round_ == 0:
            lim = extra @ got[1] - 0.05
            ours.add_rows(extra, np.full(4, -np.inf), lim)
            ref.add_rows(extra, np.full(4, -np.inf), lim)

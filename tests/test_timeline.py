"""Issue "Time": strike waves, repairs, restarts, daily demand, and energy not served, checked by hand on the
3-bus triangle (G1 100 MW at A, G2 50 MW at B, load L 120 MW at C)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import grids
from gridsim.metrics import check_invariants
from gridsim.scenario import Scenario, loads_scenario
from gridsim.simulate import simulate
from gridsim.timeline import outage_at, simulate_timeline


def tl_scenario(outages, horizon=12, step=1.0, profile="flat", **fields) -> Scenario:
    data = {"name": "t", "network": "x", "solver": "dc", "response": "optimal", "outages": outages,
            "timeline": {"horizon_h": horizon, "step_h": step, "profile": profile}, **fields}
    return Scenario.model_validate(data)


def per_step(result) -> pd.Series:
    return result.timeline.groupby("step")["unserved_mw"].sum()


def test_outage_at_hour_2_repaired_at_hour_5_gives_unserved_times_3_hours():
    r = simulate_timeline(tl_scenario([{"unit": "G2", "at_h": 2, "repair_h": 3}]), net=grids.three_bus())
    u = per_step(r)
    assert list(u.round(9)) == [0, 0, 20, 20, 20] + [0] * 7          # 120 MW load, 100 MW left: 20 MW
    assert r.summary["energy_not_served_mwh"] == pytest.approx(20.0 * 3)
    assert r.summary["peak_unserved_mw"] == pytest.approx(20.0) and r.summary["peak_at_h"] == 2.0
    assert r.summary["energy_not_served_by_cause_mwh"]["deficit"] == pytest.approx(60.0)
    check_invariants(r)                                   # the peak snapshot is a full, consistent Result


def test_quarter_hour_steps_give_the_same_energy():
    r = simulate_timeline(tl_scenario([{"unit": "G2", "at_h": 2, "repair_h": 3}], step=0.25),
                          net=grids.three_bus())
    assert r.summary["energy_not_served_mwh"] == pytest.approx(60.0)
    assert r.summary["timeline"]["steps"] == 48


def test_profile_csv_that_doubles_one_hour_doubles_that_hours_demand(tmp_path):
    csv = tmp_path / "profile.csv"
    csv.write_text("hour,factor\n0,1.0\n3,2.0\n4,1.0\n")
    sc = tl_scenario([], horizon=6, profile="profile.csv")
    sc._base_dir = tmp_path
    r = simulate_timeline(sc, net=grids.three_bus())
    demand = r.timeline.groupby("step")["demand_mw"].sum()
    assert demand[3] == pytest.approx(2 * demand[2]) and demand[4] == pytest.approx(demand[2])
    assert per_step(r)[3] == pytest.approx(240.0 - 150.0)         # 150 MW of capacity in all


def test_nuclear_unit_cut_off_by_its_substation_restarts_48_hours_after_the_repair():
    net = grids.three_bus()
    net.gen.loc[net.gen["name"] == "G2", "fuel"] = "nuclear"
    r = simulate_timeline(tl_scenario([{"substation": "B", "at_h": 0, "repair_h": 10}], horizon=72),
                          net=net)
    u = per_step(r)
    assert (u.loc[:57] - 20.0).abs().max() < 1e-6           # G2 away: substation out, then restarting
    assert u.loc[58:].abs().max() < 1e-9
    assert r.summary["energy_not_served_mwh"] == pytest.approx(20.0 * 58)
    step = r.timeline[r.timeline["step"] == 20]
    assert step["unserved_mw"].sum() == pytest.approx(20.0)


def test_unit_hit_itself_comes_back_at_its_repair_without_restart():
    net = grids.three_bus()
    net.gen.loc[net.gen["name"] == "G2", "fuel"] = "nuclear"
    r = simulate_timeline(tl_scenario([{"unit": "G2", "at_h": 0, "repair_h": 10}], horizon=24), net=net)
    assert r.summary["energy_not_served_mwh"] == pytest.approx(20.0 * 10)


def test_restore_steps_bring_capacity_back_in_parts():
    o = tl_scenario([{"plant": "Plant A", "at_h": 1, "derate": 0.5,
                      "restore": [{"after_h": 2, "derate": 0.8}, {"after_h": 4}]}]).outages[0]
    assert outage_at(o, 0.5) is None
    assert outage_at(o, 1.0).derate == 0.5 and outage_at(o, 2.9).derate == 0.5
    assert outage_at(o, 3.0).derate == 0.8
    assert outage_at(o, 5.0) is None
    r = simulate_timeline(tl_scenario([o.yaml_form()], horizon=8), net=grids.three_bus())
    # G1 at 50 % -> 50 + 50 = 100 MW for 120: 20 MW for 2 h; at 80 % -> 130 MW: nothing unserved
    assert list(per_step(r).round(9)) == [0, 20, 20, 0, 0, 0, 0, 0]


def test_energy_balance_and_files(tmp_path):
    r = simulate_timeline(tl_scenario([{"unit": "G2", "at_h": 2, "repair_h": 3}, {"line": "A-C", "at_h": 4}]),
                          net=grids.three_bus())
    r.to_dir(tmp_path)
    table = pd.read_csv(tmp_path / "timeline.csv")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (table["unserved_mw"].sum() * 1.0) == pytest.approx(summary["energy_not_served_mwh"])
    by_region = table.groupby("region")["unserved_mw"].sum()
    for region, mwh in summary["energy_not_served_by_region_mwh"].items():
        assert by_region[region] == pytest.approx(mwh)
    causes = [c for c in summary["energy_not_served_by_cause_mwh"]]
    assert sum(table[f"unserved_{c}_mw"].sum() for c in causes) == pytest.approx(summary["energy_not_served_mwh"])
    assert (table["served_mw"] + table["unserved_mw"] - table["demand_mw"]).abs().max() < 1e-6


def test_each_step_equals_the_snapshot_of_its_state():
    outages = [{"unit": "G2", "at_h": 2, "repair_h": 3}, {"line": "A-C", "at_h": 4, "repair_h": 4}]
    r = simulate_timeline(tl_scenario(outages, horizon=10), net=grids.three_bus())
    u = per_step(r)
    for t in range(10):
        sc = tl_scenario(outages)
        active = [o for o in (outage_at(x, t) for x in sc.outages) if o is not None]
        snap = simulate(sc.model_copy(update={"outages": active, "timeline": None}), net=grids.three_bus())
        assert u[t] == pytest.approx(snap.summary["unserved_mw"], abs=1e-9), t


def test_state_cache_changes_nothing_but_the_work():
    outages = [{"unit": "G2", "at_h": 2, "repair_h": 30}]
    fast = simulate_timeline(tl_scenario(outages, horizon=48), net=grids.three_bus())
    slow = simulate_timeline(tl_scenario(outages, horizon=48), net=grids.three_bus(), cache=False)
    pd.testing.assert_frame_equal(fast.timeline, slow.timeline)
    assert fast.summary["solved_steps"] < slow.summary["solved_steps"] == 48


def test_baseline_is_reported_apart(tmp_path):
    (tmp_path / "earlier.yaml").write_text("name: earlier\nnetwork: x\noutages:\n  - line: A-B\n")
    sc = tl_scenario([{"unit": "G2", "at_h": 2, "repair_h": 3}], baseline="earlier.yaml")
    sc._base_dir = tmp_path
    r = simulate_timeline(sc, net=grids.three_bus())
    s = r.summary
    assert "baseline" in s and s["baseline"]["energy_not_served_mwh"] == pytest.approx(0.0)
    assert s["added_by_this_scenario"]["energy_not_served_mwh"] == pytest.approx(s["energy_not_served_mwh"])
    assert len(r.baseline_timeline) == len(r.timeline)


def test_builtin_profiles_follow_the_sun_and_the_evening_peak():
    from datetime import datetime

    from gridsim.profiles import SHAPES, demand_profile, solar_fraction

    assert solar_fraction(datetime(2026, 1, 15, 2)) == 0.0
    assert solar_fraction(datetime(2026, 6, 15, 13)) > solar_fraction(datetime(2026, 1, 15, 12)) > 0.1
    p = demand_profile("auto", ".", datetime(2026, 1, 15), 24, 1.0)
    assert p.total.argmax() == 18 and p.total.max() == 1.0
    assert max(SHAPES["summer-weekday"]) < max(SHAPES["winter-weekday"])


@pytest.mark.parametrize("text, expected", [
    ("timeline: {horizon_h: 10, step_h: 3}", "whole number of steps"),
    ("timeline: {horizon_h: 8760, step_h: 0.25}", "at most 10,000 steps"),
    ("timeline: {horizon_h: 10, start: yesterday}", "expected a date and time"),
    ("timeline: {horizon_h: 10, horizon: 3}", "horizon"),
])
def test_bad_timelines_are_clear_errors(text, expected):
    from gridsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=expected):
        loads_scenario(f"name: t\n{text}\n")


def test_unknown_profile_is_a_clear_error():
    from gridsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="no built-in profile or file named 'winter-weekdya'"):
        simulate_timeline(tl_scenario([], profile="winter-weekdya"), net=grids.three_bus())


def test_report_shows_the_timeline(tmp_path):
    from gridsim.report import write_report
    from gridsim.report.timeline_plots import plot_heatmap, plot_restoration, plot_timeline

    r = simulate_timeline(tl_scenario([{"unit": "G2", "at_h": 2, "repair_h": 3}]), net=grids.three_bus())
    written = write_report(r, tmp_path)
    assert {"timeline.png", "heatmap.png", "restoration.png", "timeline.csv"} <= set(written)
    html = (tmp_path / "report.html").read_text()
    assert "Over time" in html and "60 MWh" in html and "Map at the peak (hour 2)" in html
    snapshot = simulate(tl_scenario([]).model_copy(update={"timeline": None}), net=grids.three_bus())
    assert plot_timeline(snapshot) is None and plot_heatmap(snapshot) is None and plot_restoration(snapshot) is None
    # a later snapshot run into the same folder removes the time outputs it no longer makes
    write_report(snapshot, tmp_path)
    assert not (tmp_path / "timeline.csv").exists() and not (tmp_path / "timeline.png").exists()


def test_cli_runs_a_timeline_and_prints_energy_not_served(tmp_path, capsys):
    from gridsim.cli import main

    net_file = tmp_path / "s.yaml"
    case14 = grids.__file__.replace("grids.py", "data/pglib/pglib_opf_case14_ieee.m")
    net_file.write_text(f"name: t\nnetwork: {case14}\nsolver: dc\ntimeline: {{horizon_h: 6}}\n"
                        "outages:\n  - generator: 1\n    at_h: 2\n    repair_h: 2\n")
    assert main(["run", str(net_file), "-o", str(tmp_path / "out"), "--no-report"]) == 0
    printed = capsys.readouterr().out
    assert "energy not served" in printed and "MWh over 6 h" in printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    t = pd.read_csv(tmp_path / "out" / "timeline.csv")
    assert t["unserved_mw"].sum() == pytest.approx(summary["energy_not_served_mwh"])


def test_profile_and_baseline_files_stay_inside_the_network_root(tmp_path):
    from gridsim.errors import ScenarioError

    inside, outside = tmp_path / "root", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (outside / "p.csv").write_text("hour,factor\n0,1\n")
    (outside / "b.yaml").write_text("name: b\noutages: []\n")
    sc = tl_scenario([], profile="../elsewhere/p.csv")
    sc._base_dir, sc._network_root = inside, inside
    with pytest.raises(ScenarioError, match="outside the network root"):
        simulate_timeline(sc, net=grids.three_bus())
    sc = tl_scenario([], baseline="../elsewhere/b.yaml")
    sc._base_dir, sc._network_root = inside, inside
    with pytest.raises(ScenarioError, match="outside the network root"):
        simulate_timeline(sc, net=grids.three_bus())


def test_a_profile_that_is_a_device_is_refused():
    from gridsim.errors import ScenarioError

    sc = tl_scenario([], profile="/dev/zero")
    with pytest.raises(ScenarioError, match="not a regular file"):
        simulate_timeline(sc, net=grids.three_bus())


def test_profile_csv_gives_wind_hour_by_hour(tmp_path):
    """A wind column in the profile sets wind availability per hour: a wind farm that is the only spare
    capacity serves the deficit only in the windy hours."""
    net = grids.three_bus()
    net.gen.loc[net.gen["name"] == "G2", "fuel"] = "wind"          # G2: 50 MW wind
    (tmp_path / "p.csv").write_text("hour,factor,wind\n0,1.0,0.0\n2,1.0,1.0\n4,1.0,0.2\n")
    sc = tl_scenario([], horizon=6, profile="p.csv")
    sc._base_dir = tmp_path
    u = per_step(simulate_timeline(sc, net=net))
    # G1 100 MW + wind 50 x availability for 120 MW of load
    assert list(u.round(6)) == [20.0, 20.0, 0.0, 0.0, 10.0, 10.0]
    fixed = tl_scenario([], horizon=6, profile="p.csv", availability={"wind": 1.0})
    fixed._base_dir = tmp_path
    assert per_step(simulate_timeline(fixed, net=net)).sum() == pytest.approx(0.0)   # the scenario fixes it


def test_profile_csv_bad_rows_are_clear_errors(tmp_path):
    from gridsim.errors import ScenarioError

    for text, match in (("hour,factor\n0,abc\n", "factor must be a number"),
                        ("hour,wind\n0,1.5\n", "wind must be between 0 and 1"),
                        ("when,factor\n0,1\n", "expected columns hour")):
        (tmp_path / "p.csv").write_text(text)
        sc = tl_scenario([], horizon=2, profile="p.csv")
        sc._base_dir = tmp_path
        with pytest.raises(ScenarioError, match=match):
            simulate_timeline(sc, net=grids.three_bus())

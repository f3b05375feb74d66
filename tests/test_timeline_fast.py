"""The timeline's steps through the batch engine's DC model (gridsim.timeline_fast) equal the steps through
``simulate()``: every row (step x region, every column) to 1e-6 MW, on the shipped scenarios and on random
multi-asset timelines (strikes, repairs, derates with restore steps, restarts, the sun, regional demand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import grids
from gridsim.networks import build_network
from gridsim.scenario import Scenario, load_scenario
from gridsim.simulate import prepare_network
from gridsim.timeline import TIMELINE_COLUMNS, _Runner, simulate_timeline
from gridsim.timeline_fast import StepValues, fast_steps_for

SCENARIOS = __import__("pathlib").Path(__file__).resolve().parent.parent / "scenarios"


def assert_same_timeline(sc, net=None):
    """Fast and simulate()-based timelines of ``sc``: same rows, same numbers; returns the fast Result."""
    base = prepare_network(sc, net)
    fast = simulate_timeline(sc, net=base)
    slow = simulate_timeline(sc, net=base, fast=False)
    assert fast.summary["solved_steps"] > 0
    for a, b in ((fast.timeline, slow.timeline), (fast.baseline_timeline, slow.baseline_timeline)):
        assert list(a.columns) == list(b.columns) and len(a) == len(b)
        if not len(a):
            continue
        assert (a["region"].to_numpy() == b["region"].to_numpy()).all()
        num = [c for c in TIMELINE_COLUMNS if c != "region"]
        np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=0, atol=1e-6)
    assert fast.summary["energy_not_served_mwh"] == pytest.approx(slow.summary["energy_not_served_mwh"], abs=1e-6)
    assert fast.summary["peak_at_h"] == slow.summary["peak_at_h"]
    return fast


def test_the_fast_steps_are_used_where_they_apply():
    sc = load_scenario(SCENARIOS / "dnipro-hydro-strike.yaml")
    runner = _Runner(sc, prepare_network(sc), cache=True)
    assert runner.fast_steps is not None
    step = runner._solve(20, [], set())
    assert isinstance(step, StepValues)
    assert not isinstance(_Runner(sc, runner.base, cache=True, fast=False)._solve(20, [], set()), StepValues)


@pytest.mark.parametrize("name", ["winter-salvo-repairs.yaml",     # restarts (the nuclear plant's substation)
                                  pytest.param("dnipro-hydro-strike.yaml", marks=pytest.mark.slow)])  # baseline
def test_shipped_timelines_equal_the_simulate_timelines(name):
    sc = load_scenario(SCENARIOS / name)
    if getattr(sc, "restoration", None) is not None:
        sc = sc.model_copy(update={"restoration": None})       # the plain timeline of the listed repairs
    assert_same_timeline(sc)


def _random_outages(net, rng) -> list[dict]:
    """Heavy random damage: big plants (nuclear, thermal, hydro), 330/750 kV lines and their substations."""
    gen = net.gen[net.gen["fuel"].isin(["nuclear", "coal", "hydro", "gas"])]
    plants = sorted(set(gen["plant"]))
    hv = net.line[net.bus.loc[net.line["from_bus"], "vn_kv"].to_numpy() >= 330]
    lines = sorted(hv["name"])
    subs = sorted(set(net.bus.loc[net.bus["vn_kv"] >= 330, "substation"].dropna()) - {""})
    out = []
    for _ in range(int(rng.integers(7, 12))):
        kind = rng.choice(["plant", "substation", "line", "line", "line", "derate"])
        at = float(rng.choice([0, 0, 3, 7]))
        item: dict = {"at_h": at, "repair_h": float(rng.integers(2, 14))}
        if kind == "plant":
            item["plant"] = str(rng.choice(plants))
        elif kind == "substation":
            item["substation"] = str(rng.choice(subs))
        elif kind == "line":
            item["line"] = str(rng.choice(lines))
        else:
            item = {"plant": str(rng.choice(plants)), "at_h": at, "derate": 0.3,
                    "restore": [{"after_h": 4, "derate": 0.7}, {"after_h": 9}]}
        out.append(item)
    return out


@pytest.mark.parametrize("seed", [7, *(pytest.param(s, marks=pytest.mark.slow) for s in (4, 9))])
# 7 and 9 shed for the network (the LP); 4 splits the grid
def test_random_multi_asset_timelines_on_the_builtin_grid(seed):
    net = build_network("dnipro-like")
    rng = np.random.default_rng(seed)
    sc = Scenario.model_validate({
        "name": f"random {seed}", "network": "dnipro-like", "solver": "dc", "shedding": "priority",
        "response": "optimal", "load_level": float(rng.choice([1.0, 1.15])), "outages": _random_outages(net, rng),
        "timeline": {"horizon_h": 24, "step_h": 2, "start": "2026-01-20T06:00", "profile": "auto"}})
    r = assert_same_timeline(sc, net)
    assert r.summary["energy_not_served_mwh"] > 0


def test_regional_demand_wind_and_restarts_on_two_areas(tmp_path):
    """Per-load demand factors (a profile by region), wind hour by hour, a derate with a restore step, a
    baseline of earlier damage, responses optimal and none."""
    net = grids.two_areas()
    net.gen.loc[net.gen["name"] == "GE", "fuel"] = "wind"
    (tmp_path / "p.csv").write_text("hour,region,factor,wind\n0,,1.0,0.2\n0,East,1.3,\n3,West,0.7,0.9\n"
                                    "5,East,0.8,\n6,,1.1,0.5\n")
    (tmp_path / "base.yaml").write_text("name: earlier damage\noutages:\n  - line: E1-E2\n")
    for response in ("optimal", "none"):
        sc = Scenario.model_validate({
            "name": "r", "network": "x", "solver": "dc", "response": response, "shedding": "priority",
            "timeline": {"horizon_h": 10, "profile": "p.csv"}, "baseline": "base.yaml",
            "outages": [{"line": "Tie", "at_h": 1, "repair_h": 4}, {"substation": "E1", "at_h": 2, "repair_h": 2},
                        {"unit": "GW", "at_h": 6, "derate": 0.4, "restore": [{"after_h": 2}]}]})
        sc._base_dir = tmp_path
        r = assert_same_timeline(sc, net)
        assert r.summary["energy_not_served_mwh"] > 0 and len(r.baseline_timeline)


def test_ac_and_cascade_fall_back_to_simulate():
    net = grids.three_bus()
    for update in ({"solver": "ac"}, {"response": "cascade"}):
        sc = Scenario.model_validate({"name": "t", "network": "x", "solver": "dc", "outages": [],
                                      "timeline": {"horizon_h": 3, "profile": "flat"}}).model_copy(update=update)
        assert fast_steps_for(sc, prepare_network(sc, net)) is None


def test_a_network_the_engine_does_not_model_falls_back():
    import pandapower as pp

    net = grids.three_bus()
    pp.create_sgen(net, bus=2, p_mw=5.0, name="roof pv")
    sc = Scenario.model_validate({"name": "t", "network": "x", "solver": "dc", "outages": [
        {"unit": "G2", "at_h": 1, "repair_h": 1}], "timeline": {"horizon_h": 3, "profile": "flat"}})
    assert fast_steps_for(sc, prepare_network(sc, net)) is None
    r = simulate_timeline(sc, net=net)
    assert isinstance(r.timeline, pd.DataFrame) and len(r.timeline)


def test_capacity_from_arrays_equals_apply_availability_bit_for_bit():
    """FastSteps.capacity builds each unit's capacity from arrays; it must be apply_availability's max_p_mw
    exactly (the step LPs see these numbers), with a table, without one, with NaN and unknown fuels."""
    from gridsim.dispatch import apply_availability

    sc = load_scenario(SCENARIOS / "dnipro-hydro-strike.yaml")
    base = prepare_network(sc)
    base.gen.loc[base.gen.index[:3], "p_nameplate_mw"] = np.nan          # filled from max_p_mw
    fs = fast_steps_for(sc, base)
    for availability in ({}, {"solar": 0.37}, {"solar": 0.0, "wind": 0.61, "hydro": 0.5}, {"wind": float("nan")},
                         {"no such fuel": 0.2}):
        want = apply_availability(base, availability).gen["max_p_mw"].astype(float).reindex(fs.ev.model.gen_index)
        assert np.array_equal(fs.capacity(availability), want.to_numpy(), equal_nan=True), availability


def test_the_stacked_table_equals_the_frames_of_each_step():
    from gridsim.timeline_fast import VALUE_COLUMNS, steps_table

    rng = np.random.default_rng(3)
    steps = [(k, k * 0.5, StepValues(["a", "b", "c"][: 1 + k % 3], rng.random((1 + k % 3, len(VALUE_COLUMNS))) * 9))
             for k in range(7)]
    want = pd.concat([v.rows(k, t) for k, t, v in steps], ignore_index=True)
    pd.testing.assert_frame_equal(steps_table(steps), want, check_exact=True)

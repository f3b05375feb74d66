"""Issue "Restoration": which repair first, with the crews there are. Checked against brute force over every
repair order on the 3-bus triangle (G1 100 MW at A, G2 50 MW at B, load 120 MW at C), with the schedules and
their timelines computed here independently of gridsim.restoration."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest

import grids
from gridsim.metrics import check_invariants
from gridsim.scenario import Scenario
from gridsim.timeline import simulate_timeline

OUTAGES = [{"line": "A-C", "repair_h": 2}, {"unit": "G2", "repair_h": 4}, {"line": "B-C", "repair_h": 1},
           {"line": "A-B", "at_h": 1, "repair_h": 3}]


def scenario(crews=1, method="auto", outages=OUTAGES, objective="ens", horizon=10) -> Scenario:
    return Scenario.model_validate({
        "name": "r", "network": "x", "solver": "dc", "timeline": {"horizon_h": horizon, "profile": "flat"},
        "restoration": {"crews": crews, "method": method, "objective": objective}, "outages": outages})


def brute_force(sc: Scenario) -> float:
    """Every order; crews take the next repair as soon as one is free (never before the strike); each
    schedule simulated as a plain timeline with those repair times."""
    best = float("inf")
    net = grids.three_bus()            # never modified by a run; built once (pandapower's tables are slow to make)
    items = [dict(o) for o in OUTAGES]
    for order in itertools.permutations(range(len(items))):
        free = [0.0] * sc.restoration.crews
        fixed = [dict(o) for o in items]
        for a in order:
            c = min(range(len(free)), key=lambda i: (free[i], i))
            start = max(free[c], items[a].get("at_h", 0.0))
            free[c] = start + items[a]["repair_h"]
            fixed[a]["repair_h"] = free[c] - items[a].get("at_h", 0.0)
        plain = sc.model_copy(update={"restoration": None, "outages": Scenario.model_validate(
            {"name": "x", "outages": fixed}).outages})
        best = min(best, simulate_timeline(plain, net=net).summary["energy_not_served_mwh"])
    return best


@pytest.mark.parametrize("crews", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_exact_method_equals_brute_force_and_heuristics_never_beat_it(crews):
    from gridsim.restoration import restore

    sc = scenario(crews)
    reference = brute_force(sc)
    exact = restore(sc, net=grids.three_bus())
    assert exact["method"] == "exact"
    assert exact["chosen"][0] == pytest.approx(reference)
    for method in ("greedy", "local"):
        out = restore(scenario(crews, method), net=grids.three_bus())
        assert out["chosen"][0] >= reference - 1e-9
    assert exact["reference"][0] <= exact["chosen"][0] + 1e-9        # no waiting is never worse here


def test_as_many_crews_as_repairs_is_the_plain_timeline():
    from gridsim.restoration import restore

    out = restore(scenario(crews=len(OUTAGES)), net=grids.three_bus())
    plain = scenario().model_copy(update={"restoration": None})
    ens = simulate_timeline(plain, net=grids.three_bus()).summary["energy_not_served_mwh"]
    assert out["chosen"][0] == pytest.approx(ens)
    assert out["chosen"][0] == pytest.approx(out["reference"][0])
    assert all(out["chosen"][1].start_h[a] == Scenario.model_validate(
        {"name": "x", "outages": OUTAGES}).outages[a].at_h for a in out["chosen"][1].order)


def test_list_schedule_by_hand():
    from gridsim.restoration import list_schedule

    outs = Scenario.model_validate({"name": "x", "outages": OUTAGES}).outages
    s = list_schedule(outs, (3, 0, 1, 2), crews=2)
    # A-B struck at 1: crew 1 waits for it (1-4); A-C to crew 2 (0-2); G2 to crew 2 (2-6); B-C to crew 1 (4-5)
    assert (s.start_h[3], s.end_h[3], s.crew[3]) == (1.0, 4.0, 0)
    assert (s.start_h[0], s.end_h[0], s.crew[0]) == (0.0, 2.0, 1)
    assert (s.start_h[1], s.end_h[1]) == (2.0, 6.0)
    assert (s.start_h[2], s.end_h[2]) == (4.0, 5.0)


def test_run_writes_the_schedule_and_its_timeline(tmp_path, capsys):
    from gridsim.report import write_report
    from gridsim.restoration import simulate_restoration

    r = simulate_restoration(scenario(crews=1), net=grids.three_bus())
    check_invariants(r)
    rs = r.summary["restoration"]
    assert r.summary["energy_not_served_mwh"] == pytest.approx(rs["chosen"])      # the chosen schedule's
    assert rs["chosen"] <= rs["greedy"] + 1e-9 and rs["chosen"] <= rs["listed_order"] + 1e-9
    sched = r.restoration
    assert list(sched.columns)[:5] == ["asset", "crew", "strike_h", "start_h", "end_h"]
    assert (sched["start_h"] >= sched["strike_h"]).all()
    one_crew = sched.sort_values("start_h")
    assert (one_crew["start_h"].to_numpy()[1:] >= one_crew["end_h"].to_numpy()[:-1] - 1e-9).all()
    written = write_report(r, tmp_path)
    assert {"restoration.csv", "restoration_orders.csv", "repairs.png", "orders.png"} <= set(written)
    html = (tmp_path / "report.html").read_text()
    assert "Repair order" in html and "lower bound (MILP)" in html


def test_objectives_weighted_and_customer_hours():
    from gridsim.restoration import restore

    for objective in ("weighted", "customer_hours"):
        out = restore(scenario(crews=1, objective=objective), net=grids.three_bus())
        assert out["chosen"][0] > 0 and out["chosen"][0] <= out["listed"][0] + 1e-9


def test_cli_restore_compares_crews(tmp_path, capsys):
    import yaml

    from gridsim.cli import main

    path = tmp_path / "r.yaml"
    case14 = grids.__file__.replace("grids.py", "data/pglib/pglib_opf_case14_ieee.m")
    path.write_text(yaml.safe_dump({
        "name": "r14", "network": case14, "solver": "dc", "timeline": {"horizon_h": 8, "profile": "flat"},
        "restoration": {"crews": 1}, "outages": [{"generator": 1, "repair_h": 3}, {"branch": 1, "repair_h": 2},
                                                  {"bus": 3, "repair_h": 2}]}))
    assert main(["restore", str(path), "--crews", "1,2,3", "-o", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "restore.csv")
    assert list(table["crews"]) == [1, 2, 3]
    assert (table["chosen"] <= table["greedy"] + 1e-9).all()
    assert (table["bound"] <= table["chosen"] + 1e-6).all() and (table["bound_status"] == "optimal").all()
    assert (tmp_path / "out" / "crews.png").exists()
    printed = capsys.readouterr().out
    assert "by number of crews" in printed and "bound" in printed
    assert main(["run", str(path), "-o", str(tmp_path / "run"), "--no-report"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["restoration"]["chosen"] == pytest.approx(summary["energy_not_served_mwh"])
    assert "lower bound (MILP)" in capsys.readouterr().out
    assert main(["restore", str(path), "--crews", "x"]) == 2


def test_restoration_needs_a_timeline():
    from gridsim.errors import ScenarioError
    from gridsim.scenario import loads_scenario

    with pytest.raises(ScenarioError, match="over a timeline"):
        loads_scenario("name: t\nrestoration: {crews: 2}\noutages:\n  - line: x\n    repair_h: 2\n")


# -- the MILP bound (gridsim.restoration_milp) ---------------------------------------------------------------
# It relaxes every schedule (crews as a volume of crew-hours per strike time, no restarts, the least shed its
# objective allows), so bound <= any schedule, list or not <= best list schedule (exact) <= greedy. It equals
# the best list schedule where the relaxation is tight (one crew, or as many crews as repairs, strikes at once,
# no restarts); with 2 crews it can be strictly lower: it lets two crews share the work of one repair.
THREE = [{"line": "E2-V", "repair_h": 2}, {"unit": "GE", "repair_h": 2}, {"line": "W1-W2", "repair_h": 2}]


def two_areas_no_restart():
    net = grids.two_areas()
    net.gen["restart_h"] = 0.0
    return net


@pytest.mark.parametrize("crews,objective", [(1, "ens"), (2, "ens"), (2, "weighted"), (3, "weighted")])
def test_milp_bound_never_above_any_order(crews, objective):
    from gridsim.restoration import Restorer, restore

    sc = scenario(crews, "exact", objective=objective)
    out = restore(sc, net=grids.three_bus())
    b = out["bound"]
    assert b.status == "optimal" and b.bound is not None
    r = Restorer(sc, net=grids.three_bus())
    every = [r.evaluate(order)[0] for order in itertools.permutations(r.repairs)]
    assert b.bound <= min(every) + 1e-6
    assert b.bound <= out["chosen"][0] + 1e-6 <= out["greedy"][0] + 2e-6
    assert out["chosen"][0] == pytest.approx(min(every))


@pytest.mark.parametrize("crews,tight", [(1, True), (2, False), (3, True)])
def test_milp_optimum_equals_the_best_order_where_the_relaxation_is_tight(crews, tight):
    from gridsim.restoration import restore

    sc = scenario(crews, "exact", outages=THREE, horizon=8).model_copy(update={"shedding": "proportional"})
    out = restore(sc, net=two_areas_no_restart())
    b, best = out["bound"], out["chosen"][0]
    assert b.status == "optimal"
    assert b.objective == pytest.approx(b.bound, abs=1e-6)
    if tight:
        assert b.bound == pytest.approx(best, abs=1e-6)
    else:   # the three 2 h repairs: list schedules end them at 2, 2, 4; crew-hours allow 2, 2, 3
        assert b.bound < best - 1.0
        assert sorted(h for h in b.back_h.values()) == [2.0, 2.0, 3.0]


def test_milp_order_seeds_the_search_and_the_summary_reports_the_gap():
    from gridsim.restoration import milp_order, restore, simulate_restoration

    sc = scenario(2, "local", outages=THREE, horizon=8)
    out = restore(sc, net=two_areas_no_restart())
    order = milp_order(out["restorer"], out["bound"])
    assert sorted(order) == sorted(out["restorer"].repairs)
    assert out["bound"].back_h[order[0]] <= out["bound"].back_h[order[-1]]
    r = simulate_restoration(sc, net=two_areas_no_restart())
    rs = r.summary["restoration"]
    assert rs["bound_status"] == "optimal" and rs["bound"] <= rs["chosen"] + 1e-6
    assert rs["gap_to_bound"] == pytest.approx((rs["chosen"] - rs["bound"]) / rs["chosen"])
    comp = r.restoration_compare
    assert {"objective_value", "bound", "gap_to_bound"} <= set(comp.columns)
    chosen_rows = comp[comp["order"] == "chosen"]
    assert chosen_rows["objective_value"].iloc[0] == pytest.approx(rs["chosen"])


def test_milp_is_not_built_where_no_linear_bound_or_model_applies():
    from gridsim.restoration import restore

    out = restore(scenario(1, "greedy", objective="customer_hours"), net=grids.three_bus())
    assert out["bound"].bound is None and out["bound"].status.startswith("not built: objective customer_hours")
    ac = scenario(1, "greedy").model_copy(update={"solver": "ac"})
    assert restore(ac, net=grids.three_bus())["bound"].status.startswith("not built")
    assert restore(scenario(1, "greedy"), net=grids.three_bus(), bound=False)["bound"].bound is None


def test_crew_numbers_share_the_state_cache_and_give_the_same_answers():
    from gridsim.restoration import compare_crews, restore

    sc = scenario(1, "exact")
    table = compare_crews(sc, [1, 2, 4], net=grids.three_bus())
    for _, row in table.iterrows():
        alone = restore(sc, net=grids.three_bus(), crews=int(row["crews"]))
        assert row["chosen"] == pytest.approx(alone["chosen"][0])
        assert row["greedy"] == pytest.approx(alone["greedy"][0])
        assert row["bound"] == pytest.approx(alone["bound"].bound)
    assert table["evaluations"].iloc[-1] < len(list(itertools.permutations(range(len(OUTAGES)))))   # shared memo

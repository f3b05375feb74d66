"""Responses to overloads: optimal load shedding (hand-solved and published references) and cascades."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import grids
from gridsim import load_scenario, simulate
from gridsim.metrics import check_invariants
from gridsim.scenario import loads_scenario

DATA = Path(__file__).parent / "data"


def test_triangle_optimal_shed_is_hand_value(run):
    r = run(grids.triangle_limited(), solver="dc", response="optimal")
    assert r.summary["unserved_by_cause_mw"]["network"] == pytest.approx(60.0, abs=1e-6)
    assert r.unserved_mw == pytest.approx(60.0, abs=1e-6)
    assert r.branches.at["A-C", "loading_percent"] == pytest.approx(100.0, abs=1e-3)
    assert not r.branches["overloaded"].any()
    assert r.loads.at["L", "cause"] == "network"


def test_triangle_none_response_only_reports_the_overload(run):
    r = run(grids.triangle_limited(), solver="dc", response="none")
    assert r.unserved_mw == 0.0
    assert r.branches.at["A-C", "loading_percent"] == pytest.approx(100 / 60 * 100, rel=1e-6)
    assert [b["name"] for b in r.summary["overloaded_branches"]] == ["A-C"]
    # the status is the power flow's; what the state violates is named in the island's message
    assert r.islands.loc[0, "status"] == "converged"
    assert "no action taken (response none)" in r.islands.loc[0, "message"] and "A-C" in r.islands.loc[0, "message"]


def test_triangle_rating_choice_and_emergency_factor(run):
    # rate_b = 1.1 x rate_a in the test grids: 66 MW on A-C -> 99 MW served
    r = run(grids.triangle_limited(), solver="dc", response="optimal", rating="rate_b")
    assert r.unserved_mw == pytest.approx(150 - 1.5 * 66.0, abs=1e-6)
    r = run(grids.triangle_limited(), solver="dc", response="optimal", emergency_factor=1.5)
    assert r.unserved_mw == pytest.approx(150 - 1.5 * 90.0, abs=1e-6)


def test_triangle_optimal_ac_respects_ratings(run):
    r = run(grids.triangle_limited(), solver="ac", response="optimal")
    assert r.status == "converged"
    assert r.branches["loading_percent"].max() <= 100.0 + 1e-3
    # AC needs a little more shedding than DC (reactive flow and losses), never less
    assert 60.0 - 1e-6 <= r.unserved_mw <= 80.0


def test_triangle_cascade_steps_by_hand(run):
    r = run(grids.triangle_limited(limit_bc_mw=120.0), solver="dc", response="cascade")
    steps = r.cascade_steps
    assert list(steps["tripped"]) == ["", "A-C", "B-C"]
    assert list(steps["unserved_mw"]) == pytest.approx([0.0, 0.0, 150.0])
    assert r.summary["unserved_by_cause_mw"]["cascade"] == pytest.approx(150.0)
    assert r.branches.loc[["A-C", "B-C"], "tripped"].all()
    assert len(r.summary["cascade_steps"]) == 3


def test_cascade_without_overload_changes_nothing(run):
    r = run(grids.triangle_limited(limit_ac_mw=500.0), solver="dc", response="cascade")
    assert list(r.cascade_steps["step"]) == [0]
    assert r.unserved_mw == 0.0


def test_optimal_is_between_capacity_bound_and_forced_shed(run):
    """The optimal shed is never below the isolated + deficit shed of the `none` response, equals it when
    `none` reports no overload, and never exceeds it plus what the overloads force: scaling the `none`
    operating point (served load and pro-rata dispatch) down by the worst overload ratio removes every
    overload in DC, so that much shedding is always enough."""
    cases = [(grids.two_areas, [{"line": "Tie"}]), (grids.two_areas, [{"unit": "GE"}]),
             (grids.triangle_limited, []), (grids.three_bus, [{"unit": "G2"}]),
             (lambda: grids.triangle_limited(limit_ac_mw=30.0, limit_bc_mw=40.0), [])]
    for build, outages in cases:
        none = run(build(), outages, solver="dc", response="none")
        opt = run(build(), outages, solver="dc", response="optimal")
        assert opt.unserved_mw >= none.unserved_mw - 1e-6
        worst = max([b["loading_percent"] for b in none.summary["overloaded_branches"]], default=100.0)
        forced = none.served_mw * (1.0 - 100.0 / worst)
        assert opt.unserved_mw <= none.unserved_mw + forced + 1e-6
        if not none.summary["overloaded_branches"]:
            assert opt.unserved_mw == pytest.approx(none.unserved_mw, abs=1e-6)


def _published_rows():
    with open(DATA / "nk_rts24.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _published_rows(), ids=lambda r: f"k={r['k']}")
def test_rts24_published_worst_attacks(row, tmp_path):
    """Sundar, Coffrin, Nagarajan & Bent (2018): total shed after their worst k-line attacks on RTS-24."""
    case = (DATA / "pglib" / "pglib_opf_case24_ieee_rts.m").as_posix()
    outages = "\n".join(f"  - branch: {b}" for b in row["branches_out"].split())
    text = f"name: rts24 k={row['k']}\nnetwork: {case}\nsolver: dc\nresponse: optimal\noutages:\n{outages}\n"
    result = simulate(loads_scenario(text))
    check_invariants(result)
    assert result.unserved_mw == pytest.approx(float(row["published_total_shed_mw"]), abs=1.0)
    assert not result.branches["overloaded"].any()

"""The whole pipeline on the built-in synthetic grid: no outage, no unserved demand; N-1 secure."""

from __future__ import annotations

import pytest

from gridsim import build_network, simulate
from gridsim.metrics import check_invariants


@pytest.fixture(scope="module")
def grid():
    return build_network("dnipro-like")


@pytest.mark.parametrize("solver", ["ac", "dc"])
@pytest.mark.parametrize("response", ["none", "optimal", "cascade"])
def test_no_outage_no_unserved(grid, make_scenario, solver, response):
    r = simulate(make_scenario([], network="dnipro-like", solver=solver, response=response), net=grid)
    check_invariants(r)
    assert r.unserved_mw == 0.0
    assert r.status == "converged"
    assert not r.branches["overloaded"].any()
    assert r.summary["n_islands"] == 1


@pytest.mark.parametrize("load_level", [0.5, 0.8])
def test_no_outage_no_unserved_at_lower_load(make_scenario, load_level):
    r = simulate(make_scenario([], network="dnipro-like", load_level=load_level))
    check_invariants(r)
    assert r.unserved_mw == 0.0
    assert r.demand_mw == pytest.approx(load_level * build_network("dnipro-like").load["p_mw"].sum())


def test_single_transmission_branch_outages_mostly_serve_everyone(grid, make_scenario):
    """>= 95 % of single 330/750 kV line outages leave nothing unserved, even with network limits."""
    vn = grid.bus.loc[grid.line["from_bus"], "vn_kv"].to_numpy()
    names = grid.line["name"][vn >= 330].tolist()
    secure = 0
    for name in names:
        r = simulate(make_scenario([{"line": name}], network="dnipro-like", solver="dc", response="optimal"),
                     net=grid)
        check_invariants(r)
        secure += r.unserved_mw < 1e-6
    assert secure / len(names) >= 0.95, f"{secure} of {len(names)}"


def test_operator_action_is_worth_something_in_the_winter_salvo():
    """Same damage: none (overloads ignored) <= optimal (shed to stay within ratings) <= cascade."""
    from pathlib import Path

    from gridsim import load_scenario

    root = Path(__file__).parent.parent / "scenarios"
    opt = simulate(load_scenario(root / "winter-salvo.yaml"))
    cas = simulate(load_scenario(root / "winter-salvo-cascade.yaml"))
    none = simulate(load_scenario(root / "winter-salvo.yaml").model_copy(update={"response": "none"}))
    for r in (opt, cas, none):
        check_invariants(r)
    causes = none.summary["unserved_by_cause_mw"]
    iso = causes["isolated"] + causes["deficit"]
    assert none.unserved_mw == pytest.approx(iso)              # nothing but isolation and deficit without relief
    assert none.summary["overloaded_branches"]                 # ... but branches are left overloaded
    assert not opt.summary["overloaded_branches"]
    assert iso <= opt.unserved_mw < cas.unserved_mw
    assert cas.summary["unserved_by_cause_mw"]["cascade"] > 0
    assert len(cas.cascade_steps) >= 3 and (cas.cascade_steps["unserved_mw"].diff().dropna() >= -1e-6).all()

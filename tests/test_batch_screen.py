"""The single-branch screen (gridsim.batch.screen) against the one-case path of FastDCEvaluator: flows, islands,
balance and overloads of every single branch, bridges included (those with an island short of capacity too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highspy")

from gridsim.batch.cases import CaseSpec  # noqa: E402
from gridsim.batch.fast import FastDCEvaluator  # noqa: E402
from gridsim.batch.model import CaseMasks  # noqa: E402
from gridsim.batch.state import case_state  # noqa: E402

DATA = Path(__file__).parent / "data" / "pglib"
CASE24 = str(DATA / "pglib_opf_case24_ieee_rts.m")
CASE118 = str(DATA / "pglib_opf_case118_ieee.m")
_NONE = np.zeros(0, dtype=np.int64)


def evaluator(network: str, shedding: str, response: str = "none", **fields) -> FastDCEvaluator:
    from gridsim.networks import build_network
    from gridsim.scenario import Scenario

    net = build_network(network)
    if network.endswith(".m"):
        net.load["priority"] = [1 + i % 3 for i in range(len(net.load))]
    sc = Scenario.model_validate({"name": "screen", "network": network, "solver": "dc", "response": response,
                                  "shedding": shedding, "outages": [], **fields})
    return FastDCEvaluator(sc, net)


def one_case(ev: FastDCEvaluator, k: int):
    """(record, flows, energised branches) of branch ``k`` out through the one-case path."""
    masks = CaseMasks(np.array([k]), _NONE, _NONE, None, _NONE)
    st = case_state(ev.model, masks, ev.method)          # a graph search, not the bridges
    flows = ev.flow.outage_flows(ev.flow.flows(st.injection(ev.model)), masks.branch_out)
    return ev.evaluate_masks(masks), flows, st.branch_energised(ev.model)


@pytest.mark.parametrize(("network", "shedding", "load_level"), [
    (CASE24, "priority", 1.0), (CASE118, "proportional", 1.0), (CASE118, "priority", 1.0),
    ("dnipro-like", "priority", 1.0), (CASE24, "proportional", 1.6)])
def test_screen_equals_the_one_case_path_on_every_single_branch(network, shedding, load_level):
    ev = evaluator(network, shedding, load_level=load_level)
    branches = np.arange(ev.model.n_branch)
    cols = ev.screen(branches)
    assert cols.split.any() and not cols.per_case.any()
    for k in branches:
        rec, flows, live = one_case(ev, int(k))
        assert cols.n_islands[k] == rec["n_islands"], k
        assert cols.isolated[k] == pytest.approx(rec["unserved_isolated_mw"], abs=1e-6), k
        assert cols.deficit[k] == pytest.approx(rec["unserved_deficit_mw"], abs=1e-6), k
        assert cols.critical[k] == pytest.approx(rec["critical_unserved_mw"], abs=1e-6), k
        assert cols.n_over[k] == rec["n_overloaded"], k
        assert bool(cols.dead[k]) == (rec["status"] == "dead"), k
        np.testing.assert_allclose(cols.flows[live, k], flows[live], atol=1e-6, err_msg=str(k))


def test_screen_balances_a_bridge_that_leaves_an_island_short():
    """case118's branch 123 cuts off a part whose units cannot carry its load: the balance sheds (deficit)."""
    ev = evaluator(CASE118, "proportional")
    cols = ev.screen(np.arange(ev.model.n_branch))
    short = np.flatnonzero(cols.split & (cols.deficit > ev.base.deficit.sum() + 1e-6))
    assert len(short) >= 1
    lost = np.flatnonzero(cols.split & (cols.isolated > ev.base.isolated.sum() + 1e-6))
    assert len(lost) >= 1          # and some bridges leave a part with no unit at all


def test_evaluate_many_takes_only_the_overloaded_cases_to_the_lp():
    ev = evaluator(CASE118, "proportional", response="optimal", load_level=1.0)
    cases = [CaseSpec(f"b{r}", ({"branch": r},)) for r in range(1, 187)]
    ev.evaluate_many(cases)
    cols = ev.screen(np.array([ev.single_branch(c) for c in cases]))
    assert ev.lp.warm.n_cases == int((cols.n_over > 0).sum()) > 0


def test_single_branch_resolves_plain_items_only():
    ev = evaluator(CASE24, "proportional")
    assert ev.single_branch(CaseSpec("a", ({"branch": 1},))) == int(
        ev.model.branch_masks(({"branch": 1},)).branch_out[0])
    for items in (({"branch": True},), ({"branch": 1}, {"branch": 2}), ({"unit": "gen 1"},),
                  ({"branch": 1, "derate": 0.5},), ({"branch": [1]},)):
        assert ev.single_branch(CaseSpec("x", items)) is None, items

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


def test_branch_pairs_and_triples_in_blocks_equal_simulate():
    """Cases of 2-3 branches (random, some splitting the grid, some overloading) through the blocks of
    evaluate_many: the numbers of simulate(), case by case."""
    import random

    from gridsim.batch.cases import SimulateEvaluator

    ev = evaluator(CASE118, "priority", response="optimal")
    rows = list(range(1, len(ev.model.base.line) + len(ev.model.base.trafo) + 1))
    rng = random.Random(4)
    cases = [CaseSpec(f"k{k}-{i}", tuple({"branch": b} for b in rng.sample(rows, k)))
             for k in (2, 3) for i in range(8)]
    bridge_rows = [r for r in rows if ev.bridges.is_bridge[ev.single_branch(CaseSpec("b", ({"branch": r},)))]]
    cases += [CaseSpec(f"cut-{a}-{b}", ({"branch": a}, {"branch": b})) for a, b in zip(bridge_rows, rows[:5])]
    got = ev.evaluate_many(cases)
    ref = SimulateEvaluator(ev.scenario, ev.model.base)
    for case, rec in zip(cases, got):
        want = ref.evaluate(case)
        for col in ("unserved_mw", "unserved_network_mw", "unserved_isolated_mw", "critical_unserved_mw"):
            assert rec[col] == pytest.approx(want[col], abs=1e-6), (case.outages, col)
        assert (rec["n_islands"], rec["n_overloaded"], rec["status"]) == \
            (want["n_islands"], want["n_overloaded"], want["status"]), case.outages
    assert any(r["n_islands"] > 1 for r in got)
    assert ev.lp.warm.n_cases >= 3                 # overloaded pairs went on to the LP


def test_multi_outage_flows_equal_the_compensation_one_case_at_a_time():
    ev = evaluator(CASE118, "proportional")
    rng = np.random.default_rng(1)
    m = ev.model.n_branch
    for k in (2, 3, 4):
        sets = np.array([np.sort(rng.choice(m, k, replace=False)) for _ in range(60)])
        flows, split = ev.flow.multi_outage_flows(ev.base_flow, sets)
        for j in np.flatnonzero(~split):
            np.testing.assert_allclose(flows[:, j], ev.flow.outage_flows(ev.base_flow, sets[j]), atol=1e-8)
        for j in range(len(sets)):           # every set that splits the grid is flagged
            on = np.ones(m, dtype=bool)
            on[sets[j]] = False
            st = case_state(ev.model, CaseMasks(sets[j], _NONE, _NONE, None, _NONE), ev.method)
            if st.n_islands > ev.base.n_islands or len(st.energised) > len(ev.base.energised):
                assert split[j], sets[j]

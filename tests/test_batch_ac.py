"""FastACEvaluator (``solver: ac, response: optimal``) against the reference SimulateEvaluator, case by case; and
its AC model against pandapower's own power flow.

Tolerance: 1e-3 MW on unserved MW (in total, by cause, critical) and equal islands, overloaded branches and
status. Where the AC check takes no action the fast path's numbers are the balance's, exactly simulate()'s
(the difference is float noise). Where the local voltage relief acts, it is the same function
(``gridsim.solvers.voltage.relieve_voltage``) on the same AC equations; its first run starts from the same DC
start, and only where that converges (away from the nose point) do the later runs start warm, with the DC start
again wherever a warm start does not converge: its searches see the same convergence, and its shed agrees to
the solver tolerance (measured: 0.0 MW on all 386 single lines of the built-in grid, < 1e-7 MW on case24). The
bound 1e-3 MW leaves room for a Newton iterate that converges in one solver and not the other near the nose
point; a larger difference is a bug."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lightsim2grid")
pytest.importorskip("highspy")

from gridsim.batch.cases import CaseSpec, SimulateEvaluator  # noqa: E402
from gridsim.batch.fast_ac import FastACEvaluator  # noqa: E402
from test_batch_fast import CASE24, random_cases, single_cases  # noqa: E402

AC_TOL_MW = 1e-3
FLOATS = ("unserved_mw", "unserved_isolated_mw", "unserved_deficit_mw", "unserved_network_mw",
          "critical_unserved_mw")
EXACT = ("n_islands", "n_overloaded", "status")


def ac_scenario(network: str, shedding: str = "proportional", **fields):
    from gridsim.scenario import Scenario

    return Scenario.model_validate({"name": "ac batch", "network": network, "solver": "ac", "response": "optimal",
                                    "shedding": shedding, "outages": [], **fields})


@functools.lru_cache(maxsize=None)
def evaluators(network: str, shedding: str = "proportional"):
    from gridsim.networks import build_network

    net = build_network(network)
    if network.endswith(".m"):
        net.load["priority"] = [1 + i % 3 for i in range(len(net.load))]
    fast = FastACEvaluator(ac_scenario(network, shedding), net)
    return fast, SimulateEvaluator(fast.scenario, net)


def differential(network: str, cases, shedding: str = "proportional"):
    fast, ref = evaluators(network, shedding)
    before = dict(fast.paths)
    recs = fast.evaluate_many(cases)
    bad = []
    for case, f in zip(cases, recs):
        r = ref.evaluate(case)
        assert r["status"] != "failed", r["message"]
        diff = {c: (r[c], f[c]) for c in FLOATS if not abs(r[c] - f[c]) <= AC_TOL_MW}
        diff.update({c: (r[c], f[c]) for c in EXACT if r[c] != f[c]})
        if diff:
            bad.append(f"{case.outages}: (simulate, fast) {diff}")
    assert not bad, f"{len(bad)} of {len(cases)} cases differ:\n" + "\n".join(bad[:10])
    paths = {k: fast.paths[k] - before[k] for k in fast.paths}
    return recs, paths


def test_case24_every_single_branch_and_substation_equals_simulate():
    fast, _ = evaluators(CASE24)
    recs, paths = differential(CASE24, single_cases(fast.model.base, ("branch", "substation")))
    # the engine itself answered most cases, by every path; the voltage relief and the LP shed for the network
    assert paths["exact"] > 30 and paths["relief"] > 3 and paths["lp"] > 0
    assert paths["simulate"] < 0.15 * len(recs)
    assert any(r["n_islands"] > 1 for r in recs) and any(r["unserved_network_mw"] > 1.0 for r in recs)


@pytest.mark.parametrize("shedding", ["proportional", "priority"])
def test_case24_multi_asset_cases_equal_simulate(shedding):
    fast, _ = evaluators(CASE24, shedding)
    cases = random_cases(fast.model.base, 8, seed=5, kmax=4)
    recs, paths = differential(CASE24, cases, shedding)
    assert paths["exact"] + paths["relief"] + paths["lp"] >= 4
    assert any(r["unserved_mw"] > 1.0 for r in recs)


@pytest.mark.slow
def test_case24_every_single_asset_of_every_kind_equals_simulate():
    fast, _ = evaluators(CASE24, "priority")
    differential(CASE24, single_cases(fast.model.base), "priority")


def test_builtin_grid_sample_equals_simulate():
    """A sample of the built-in grid's single lines: many need the local voltage relief (110 kV spurs)."""
    fast, _ = evaluators("dnipro-like")
    names = list(fast.model.base.line["name"])
    picked = random.Random(8).sample(names, 16)
    recs, paths = differential("dnipro-like", [CaseSpec(f"line:{n}", ({"line": n},)) for n in picked])
    assert paths["relief"] >= 2 and paths["simulate"] <= 2


def test_on_a_damaged_state_the_lp_path_equals_simulate():
    """Ranking on top of a damaged scenario (the shipped 750 kV strike, AC): most cases need the shedding LP with
    AC tightening, which the undamaged grid's singles rarely reach (4 of 386)."""
    from gridsim.batch import rank
    from gridsim.scenario import load_scenario
    from gridsim.simulate import prepare_network

    scenario = load_scenario(Path(__file__).parent.parent / "scenarios" / "substation-750kv-strike.yaml")
    net = prepare_network(scenario)
    fast, ref = FastACEvaluator(scenario, net), SimulateEvaluator(scenario, net)
    items = rank.outage_items(net, "line", rank.asset_names(net, "line"))
    cases = random.Random(3).sample(list(rank.single_cases("line", items).values()), 8)
    for case, got in zip(cases, fast.evaluate_many(cases)):
        want = ref.evaluate(case)
        assert {c: got[c] for c in EXACT} == {c: want[c] for c in EXACT}, case
        for c in FLOATS:
            assert got[c] == pytest.approx(want[c], abs=AC_TOL_MW), (case, c)
    assert fast.paths["lp"] >= 5 and fast.paths["simulate"] == 0


def test_ac_model_matches_pandapower_runpp():
    """Voltages, branch currents and the slack's output of a case with a line out, against pandapower's own
    Newton power flow on the same working copy (to the solver tolerance)."""
    import pandapower as pp

    from gridsim.balance import balance
    from gridsim.outages import apply_outages
    from gridsim.scenario import Outage
    from gridsim.solvers.powerflow import AC_LOSS_ALLOWANCE, _prepare
    from gridsim.topology import find_islands

    fast, _ = evaluators(CASE24)
    pm = fast.model
    damaged, _ = apply_outages(pm.base, [Outage(branch=7)])
    islands = find_islands(damaged)
    bal = balance(damaged, islands, "proportional", AC_LOSS_ALLOWANCE)
    work = _prepare(damaged, islands.with_slack(bal.slack), bal)
    pp.runpp(work, numba=False, init="dc", calculate_voltage_angles=True)

    from gridsim.batch.cases import outage_models
    from gridsim.batch.fast_ac_case import ACCase

    case = ACCase(fast, pm.masks(outage_models(CaseSpec("b7", ({"branch": 7},)))))
    v, ok = case.solve_all(case.st.served, case.st.dispatch)
    assert ok.all()
    vm = np.abs(v[pm.bus_lookup[work.bus.index.to_numpy()]])
    assert np.max(np.abs(vm - work.res_bus["vm_pu"].to_numpy())) < 1e-7
    i_f, i_t, _ = fast.ac.branch_currents(v)
    lines = np.flatnonzero(pm.branch_table == "line")
    got = np.maximum(i_f, i_t)[lines]
    want = work.res_line["i_ka"].reindex(pm.dc.branch_index[lines]).to_numpy()
    on = case.st.branch_on[lines]
    assert np.max(np.abs(got[on] - want[on])) < 1e-7
    slack = int(case.slack[0])
    p = case._slack_p(0, v, case.st.served, case.st.dispatch)
    assert p == pytest.approx(float(work.res_gen.at[pm.gen_index[slack], "p_mw"]), abs=1e-5)


def test_reactors_follow_the_line_charging_case_by_case():
    """A 750 kV line out reduces the reactor at its ends to the charging still connected, as apply_outages."""
    from gridsim.batch.cases import outage_models
    from gridsim.batch.fast_ac_case import ACCase
    from gridsim.outages import apply_outages
    from gridsim.scenario import Outage

    fast, _ = evaluators("dnipro-like")
    pm = fast.model
    line = pm.base.line
    hv = line[pm.base.bus.loc[line["from_bus"], "vn_kv"].to_numpy() >= 700]["name"].iloc[0]
    case = ACCase(fast, pm.masks(outage_models(CaseSpec("x", ({"line": hv},)))))
    damaged, _ = apply_outages(pm.base, [Outage(line=hv)])
    want = np.where(damaged.shunt["in_service"].astype(bool), damaged.shunt["q_mvar"].astype(float), 0.0)
    assert np.allclose(case.shunt_q, want)
    assert not np.allclose(case.shunt_q, fast.ac.shunt_q0)      # some reactor did change


def test_cases_it_cannot_answer_go_through_simulate_and_say_so():
    fast, ref = evaluators(CASE24)
    cases = single_cases(fast.model.base, ("branch",))
    before = fast.paths["simulate"]
    recs = fast.evaluate_many(cases)
    through = [r for r in recs if r["message"].startswith("evaluated by simulate()")]
    assert len(through) == fast.paths["simulate"] - before > 0


def test_refuses_what_it_does_not_model():
    from gridsim.scenario import Scenario

    with pytest.raises(ValueError, match="solver ac with response optimal"):
        FastACEvaluator(Scenario.model_validate({"name": "x", "network": CASE24, "solver": "dc"}))
    with pytest.raises(ValueError, match="solver ac with response optimal"):
        FastACEvaluator(ac_scenario(CASE24, response="none"))


def test_run_cases_picks_the_fast_ac_evaluator_and_a_failed_case_is_a_row():
    from gridsim.batch import run_cases
    from gridsim.batch.run import choose_evaluator

    scenario = ac_scenario(CASE24)
    assert choose_evaluator("auto", scenario) == "fast-ac" and choose_evaluator("fast", scenario) == "fast-ac"
    cases = [CaseSpec("a", ({"branch": 1},)), CaseSpec("b", ({"branch": 11},)), CaseSpec("bad", ({"line": "no"},))]
    df = run_cases(scenario, cases, workers=1)
    ref = SimulateEvaluator(scenario)
    for cid in ("a", "b"):
        want = ref.evaluate(next(c for c in cases if c.case_id == cid))
        assert df.at[cid, "unserved_mw"] == pytest.approx(want["unserved_mw"], abs=AC_TOL_MW)
        assert df.at[cid, "status"] == want["status"]
    assert df.at["bad", "status"] == "failed" and "no" in df.at["bad", "message"]


def test_without_lightsim2grid_auto_uses_simulate(monkeypatch):
    import importlib.util

    from gridsim.batch.run import choose_evaluator

    scenario = ac_scenario(CASE24)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lightsim2grid" else real(name, *a))
    assert choose_evaluator("auto", scenario) == "simulate"
    with pytest.raises(ValueError, match="needs lightsim2grid"):
        FastACEvaluator(scenario)


def test_merit_order_equals_merit_dispatch():
    from gridsim.dispatch import merit_dispatch
    from gridsim.solvers.voltage import MeritOrder

    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 40):
        cap = rng.uniform(-5, 100, n)
        cost = rng.choice([1.0, 2.5, 2.5, 7.0, 30.0], n)
        order = MeritOrder(cap, cost)
        for target in (0.0, -3.0, 1.0, 0.5 * float(np.clip(cap, 0, None).sum()), 1e6):
            assert np.array_equal(order(target), merit_dispatch(cap, cost, target))


def test_relief_warm_starts_and_repeated_runs_give_the_dc_starts_answer(monkeypatch):
    """The relief's runs after a converged first run start warm and a repeated state is not solved again: fewer
    Newton solves, and the same record as every run from the DC start."""
    from gridsim.batch import acrelief

    fast, _ = evaluators("dnipro-like")
    case = CaseSpec("relief", ({"line": "Berezhnohrad - Dolynivtsi 110 kV"},))

    def solves_and_record():
        before, relief = fast.newton.runs, fast.paths["relief"]
        rec = fast.evaluate(case)
        assert fast.paths["relief"] == relief + 1 and "AC runs" in rec["message"]
        return fast.newton.runs - before, rec

    warm, rec = solves_and_record()
    monkeypatch.setattr(acrelief.IslandRun, "_start", lambda self, served: None)
    monkeypatch.setattr(acrelief.IslandRun, "v_of", lambda self, served: None)
    monkeypatch.setattr(acrelief.IslandRun, "run", lambda self, served: self._solve(np.array(served))[0])
    cold, ref = solves_and_record()
    assert warm < cold
    assert rec["unserved_mw"] > 1.0
    for c in FLOATS:
        assert rec[c] == pytest.approx(ref[c], abs=1e-9)


def test_newton_results_are_not_overwritten_by_later_solves():
    """lightsim2grid's get_V is a view of the solver's buffer: a kept solution must not change when the solver
    runs again (the relief's warm starts and the re-check read earlier solutions)."""
    from gridsim.batch.cases import outage_models
    from gridsim.batch.fast_ac_case import ACCase

    fast, _ = evaluators(CASE24)
    pm = fast.model
    first = ACCase(fast, pm.masks(outage_models(CaseSpec("b7", ({"branch": 7},)))))
    v1, ok1 = first.solve_all(first.st.served, first.st.dispatch)
    kept = v1.copy()
    second = ACCase(fast, pm.masks(outage_models(CaseSpec("b11", ({"branch": 11},)))))
    v2, ok2 = second.solve_all(second.st.served * 0.9, second.st.dispatch * 0.9)
    assert ok1.all() and ok2.all() and not np.allclose(v1, v2)
    assert np.array_equal(v1, kept) and np.array_equal(first.last_v[0], kept)


def test_solved_at_is_the_solvers_own_convergence_test():
    """Newton.solved_at (the re-check's shortcut) says yes exactly where the solver would not iterate."""
    from gridsim.batch.cases import outage_models
    from gridsim.batch.fast_ac_case import ACCase

    fast, _ = evaluators(CASE24)
    pm = fast.model
    case = ACCase(fast, pm.masks(outage_models(CaseSpec("b7", ({"branch": 7},)))))
    v, ok = case.solve_all(case.st.served, case.st.dispatch)
    assert ok.all()
    gens, ref, buses, pv, pq, vm, regulated, loads, load_bus, gen_bus, q_per_p = case.island(0)
    n = pm.n_bus
    p_load = case.st.served[loads]
    p = np.bincount(gen_bus, weights=case.st.dispatch[gens], minlength=n) - \
        np.bincount(load_bus, weights=p_load, minlength=n)
    q = -np.bincount(load_bus, weights=p_load * q_per_p, minlength=n)
    sbus = (p + 1j * q) / fast.ac.base_mva
    newton = fast.newton
    for start, expect in ((v, True), (fast.base_v, False), (np.ones(n, dtype=complex), False)):
        v0 = np.where(regulated, vm, np.abs(start)) * np.exp(1j * np.angle(start))
        got = newton.solved_at(case.ybus, v0, sbus, pv, pq)
        out, conv = newton(case.ybus, v0, sbus, ref, pv, pq)
        assert conv and got == expect and (newton.solver.get_nb_iter() == 0) == expect
        if expect:
            assert np.array_equal(out, v0)

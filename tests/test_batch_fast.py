"""FastDCEvaluator against the reference SimulateEvaluator (one ``simulate()`` per case): the same unserved MW in
total and by cause (1e-6 MW), critical unserved, islands, overloaded branches and status, case by case; and its
parts against what they stand for (merit dispatch, DC flows after outages)."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highspy")

from gridsim.batch.cases import CaseSpec, SimulateEvaluator  # noqa: E402
from gridsim.batch.fast import FastDCEvaluator  # noqa: E402

ROOT = Path(__file__).parent.parent
CASE24 = str(Path(__file__).parent / "data" / "pglib" / "pglib_opf_case24_ieee_rts.m")
CASE118 = str(Path(__file__).parent / "data" / "pglib" / "pglib_opf_case118_ieee.m")
FLOAT_COLUMNS = ("unserved_mw", "unserved_isolated_mw", "unserved_deficit_mw", "unserved_network_mw",
                 "unserved_cascade_mw", "critical_unserved_mw")
EXACT_COLUMNS = ("n_islands", "n_overloaded", "status")


# ---------------------------------------------------------------------------------------------------- helpers

def scenario(network: str, shedding: str = "proportional", response: str = "optimal", outages=(), **fields):
    from gridsim.scenario import Scenario

    return Scenario.model_validate({"name": "batch", "network": network, "solver": "dc", "response": response,
                                    "shedding": shedding, "outages": list(outages), **fields})


@functools.lru_cache(maxsize=None)
def evaluators(network: str, shedding: str, response: str = "optimal"):
    """(fast, reference) on one prepared network, cached per module run (preparing takes ~0.5 s). MATPOWER
    loads get priorities 1, 2, 3 in turn (they all have 2), so that priority shedding differs."""
    from gridsim.networks import build_network

    net = build_network(network)
    if network.endswith(".m"):
        net.load["priority"] = [1 + i % 3 for i in range(len(net.load))]
    fast = FastDCEvaluator(scenario(network, shedding, response), net)
    return fast, SimulateEvaluator(fast.scenario, net)


def assert_same(fast_recs, ref_recs, cases) -> None:
    bad = []
    for case, f, r in zip(cases, fast_recs, ref_recs):
        assert r["status"] != "failed", f"{case}: reference failed: {r['message']}"
        diff = {c: (r[c], f[c]) for c in FLOAT_COLUMNS if not abs(r[c] - f[c]) <= 1e-6}
        diff.update({c: (r[c], f[c]) for c in EXACT_COLUMNS if r[c] != f[c]})
        if diff:
            bad.append(f"{case.outages}: (reference, fast) {diff}")
    assert not bad, f"{len(bad)} of {len(cases)} cases differ:\n" + "\n".join(bad[:10])


def differential(network: str, shedding: str, cases, response: str = "optimal"):
    fast, ref = evaluators(network, shedding, response)
    fast_recs = fast.evaluate_many(cases)
    assert_same(fast_recs, [ref.evaluate(c) for c in cases], cases)
    return fast_recs


def single_cases(net, kinds=("branch", "transformer", "substation", "plant", "unit")) -> list[CaseSpec]:
    """One case per asset of each kind (MATPOWER networks name branches by row: 'branch: N')."""
    names = {
        "branch": list(range(1, len(net.line) + len(net.trafo) + 1)),
        "line": net.line["name"].tolist(),
        "transformer": net.trafo["name"].tolist(),
        "substation": sorted(set(net.bus["substation"].astype(str))),
        "plant": sorted(set(net.gen.loc[net.gen["kind"] == "unit", "plant"].astype(str))),
        "unit": net.gen.loc[net.gen["kind"] == "unit", "name"].tolist(),
    }
    return [CaseSpec(f"{k}:{n}", ({k: n},)) for k in kinds for n in names[k]]


def random_cases(net, n: int, seed: int, kmax: int, line_kind: str = "branch") -> list[CaseSpec]:
    """Multi-asset cases: lines, transformers, substations, units (some derated)."""
    rng = random.Random(seed)
    pools = {line_kind: single_cases(net, (line_kind,)), "unit": single_cases(net, ("unit",)),
             "substation": single_cases(net, ("substation",)), "transformer": single_cases(net, ("transformer",))}
    cases = []
    for i in range(n):
        items = []
        for _ in range(rng.randint(2, kmax)):
            kind = rng.choice([line_kind] * 3 + ["unit", "substation", "transformer"])
            item = dict(rng.choice(pools[kind]).outages[0])
            if kind == "unit" and rng.random() < 0.5:
                item["derate"] = round(rng.uniform(0.0, 0.9), 2)
            items.append(item)
        cases.append(CaseSpec(f"random-{seed}-{i}", tuple(items)))
    return cases


def splitting_lines(net) -> list[str]:
    """Lines whose loss alone splits the grid (brute force over the bus graph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pos = {b: i for i, b in enumerate(net.bus.index)}
    edges = [(pos[a], pos[b]) for a, b in zip(net.line["from_bus"], net.line["to_bus"])]
    edges += [(pos[a], pos[b]) for a, b in zip(net.trafo["hv_bus"], net.trafo["lv_bus"])]
    n = len(pos)
    out = []
    for k, name in enumerate(net.line["name"]):
        keep = [e for j, e in enumerate(edges) if j != k]
        f, t = zip(*keep)
        if connected_components(coo_matrix((np.ones(len(f)), (f, t)), shape=(n, n)), directed=False)[0] > 1:
            out.append(name)
    return out


# ------------------------------------------------------------------------------------------------ differential

def test_case24_every_single_asset():
    fast, _ = evaluators(CASE24, "proportional")
    recs = differential(CASE24, "proportional", single_cases(fast.model.base))
    assert any(r["n_islands"] > 1 for r in recs)            # some cases split the grid
    assert any(r["unserved_deficit_mw"] > 1.0 for r in recs)


def test_case24_substations_and_plants_with_priority_shedding():
    fast, _ = evaluators(CASE24, "priority")
    cases = single_cases(fast.model.base, ("substation", "plant"))
    recs = differential(CASE24, "priority", cases)
    proportional = evaluators(CASE24, "proportional")[0].evaluate_many(cases)
    crit = [(r["critical_unserved_mw"], p["critical_unserved_mw"]) for r, p in zip(recs, proportional)
            if r["unserved_deficit_mw"] > 1.0]
    assert crit and all(a <= b + 1e-9 for a, b in crit) and sum(a for a, _ in crit) < sum(b for _, b in crit)


@pytest.mark.parametrize("shedding", ["proportional", "priority"])
def test_case24_multi_asset_cases_with_network_shedding(shedding):
    fast, _ = evaluators(CASE24, shedding)
    cases = random_cases(fast.model.base, 14, seed=21, kmax=5)
    recs = differential(CASE24, shedding, cases)
    assert sum(r["unserved_network_mw"] > 1.0 for r in recs) >= 2   # the LP ran and shed for the network


def test_case24_published_worst_attacks():
    """Sundar et al. (2018) RTS-24 N-k results (tests/data/nk_rts24.csv) through the fast path."""
    import pandas as pd

    nk = pd.read_csv(Path(__file__).parent / "data" / "nk_rts24.csv")
    cases = [CaseSpec(f"k{r.k}", tuple({"branch": int(b)} for b in str(r.branches_out).split())) for r in nk.itertuples()]
    recs = differential(CASE24, "proportional", cases)
    for rec, row in zip(recs, nk.itertuples()):
        assert rec["unserved_mw"] == pytest.approx(row.published_total_shed_mw, abs=0.5)


def test_builtin_grid_sample_with_every_splitting_line():
    fast, _ = evaluators("dnipro-like", "proportional")
    net = fast.model.base
    split = splitting_lines(net)
    assert len(split) >= 20
    others = [n for n in net.line["name"] if n not in set(split)]
    sample = split + random.Random(0).sample(others, 8)
    cases = [CaseSpec(f"line:{n}", ({"line": n},)) for n in sample]
    recs = differential("dnipro-like", "proportional", cases)
    assert sum(r["n_islands"] > 1 for r in recs) == len(split)


def test_builtin_grid_multi_asset_cases():
    fast, _ = evaluators("dnipro-like", "priority")
    cases = random_cases(fast.model.base, 8, seed=2, kmax=6, line_kind="line")
    differential("dnipro-like", "priority", cases)


def test_response_none_reports_overloads_and_sheds_nothing_for_them():
    fast, _ = evaluators(CASE24, "proportional", "none")
    cases = random_cases(fast.model.base, 10, seed=3, kmax=5)
    recs = differential(CASE24, "proportional", cases, response="none")
    assert all(r["unserved_network_mw"] == 0.0 for r in recs)
    assert any(r["n_overloaded"] > 0 for r in recs)


def test_on_top_of_a_damaged_scenario_with_derates():
    """The scenario's own outages are applied once; a case's derate is a fraction of the prepared capacity."""
    from gridsim.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "winter-salvo.yaml").model_copy(update={"solver": "dc"})
    fast = FastDCEvaluator(sc)
    ref = SimulateEvaluator(sc, fast.model.base)
    gen = fast.model.base.gen
    units = gen.loc[gen["plant"] == "Dubrava TPP", "name"].tolist()   # derated to 40 % by the scenario
    cases = [CaseSpec("deeper", ({"unit": units[0], "derate": 0.2},)),
             CaseSpec("milder", ({"unit": units[0], "derate": 0.7},)),      # min(40 %, 70 %): no change
             CaseSpec("sub", ({"substation": "Kalynivsk"}, {"plant": "Zorya NPP", "derate": 0.5}))]
    recs = fast.evaluate_many(cases)
    assert_same(recs, [ref.evaluate(c) for c in cases], cases)
    assert recs[0]["unserved_mw"] >= recs[1]["unserved_mw"] - 1e-9


def test_load_outage_is_lost_as_isolated():
    fast, ref = evaluators(CASE24, "proportional")
    load = fast.model.base.load.iloc[3]
    cases = [CaseSpec("load", ({"select": {"kind": "load", "name": load["name"]}},))]
    recs = fast.evaluate_many(cases)
    assert recs[0]["unserved_isolated_mw"] == pytest.approx(load["p_mw"], abs=1e-9)
    assert recs[0]["unserved_mw"] == pytest.approx(load["p_mw"], abs=1e-9)
    assert_same(recs, [ref.evaluate(c) for c in cases], cases)


def test_bad_name_is_a_failed_record_like_the_reference():
    fast, ref = evaluators(CASE24, "proportional")
    case = CaseSpec("typo", ({"unit": "gen 999"},))
    f, r = fast.evaluate(case), ref.evaluate(case)
    assert f["status"] == r["status"] == "failed"
    assert f["message"] == r["message"] and "gen 999" in f["message"]
    assert fast.evaluate_many([case])[0]["message"] == r["message"]


def test_an_engine_error_is_a_failed_row_not_the_end_of_the_batch(monkeypatch):
    fast = FastDCEvaluator(scenario(CASE24))
    cases = [CaseSpec("a", ({"branch": 1},)), CaseSpec("b", ({"unit": "gen 1"},)), CaseSpec("c", ({"branch": 2},))]

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(fast, "evaluate_masks", boom)
    recs = fast.evaluate_many(cases)
    assert [r["status"] for r in recs] == ["converged", "failed", "converged"]
    assert recs[1]["message"] == "RuntimeError: boom"
    monkeypatch.setattr(fast, "_singles", boom)
    assert [r["status"] for r in fast.evaluate_many(cases)] == ["failed"] * 3


def test_evaluate_and_evaluate_many_agree():
    fast, _ = evaluators(CASE24, "priority")
    cases = single_cases(fast.model.base, ("branch",)) + random_cases(fast.model.base, 10, seed=5, kmax=4)
    one = [fast.evaluate(c) for c in cases]
    many = fast.evaluate_many(cases)
    for a, b in zip(one, many):
        assert {k: v for k, v in a.items() if k != "time_s"} == {k: v for k, v in b.items() if k != "time_s"}


def test_lp_engines_shed_the_same_and_exact_picks_the_reference_loads():
    fast, _ = evaluators(CASE24, "proportional")
    cases = random_cases(fast.model.base, 14, seed=21, kmax=5)
    recs = {lp: FastDCEvaluator(fast.scenario, fast.model.base, lp=lp).evaluate_many(cases)
            for lp in ("exact", "highs", "full", "reference")}
    assert sum(r["unserved_network_mw"] > 1.0 for r in recs["exact"]) >= 2
    for a, b, c, d in zip(recs["exact"], recs["highs"], recs["reference"], recs["full"]):
        assert a["unserved_mw"] == pytest.approx(b["unserved_mw"], abs=1e-6)
        assert b["unserved_mw"] == pytest.approx(d["unserved_mw"], abs=1e-6)
        assert b["unserved_network_mw"] == pytest.approx(d["unserved_network_mw"], abs=1e-6)
        assert {k: v for k, v in a.items() if k != "time_s"} == {k: v for k, v in c.items() if k != "time_s"}


def test_lazy_lp_adds_few_limit_rows_and_finds_the_full_optimum():
    """case118, every single branch: the lazy LP (only the limits that bind) sheds what the whole-model LP with
    every limit sheds, and adds far fewer limit rows than there are branches."""
    from gridsim.batch.lp import ShedLP
    from gridsim.batch.lp_lazy import LazyShedLP

    fast, _ = evaluators(CASE118, "proportional")
    cases = single_cases(fast.model.base, ("branch",))
    lazy = FastDCEvaluator(fast.scenario, fast.model.base, lp="highs")
    full = FastDCEvaluator(fast.scenario, fast.model.base, lp="full")
    a, b = lazy.evaluate_many(cases), full.evaluate_many(cases)
    assert isinstance(lazy.lp, LazyShedLP) and isinstance(full.lp, ShedLP)
    assert lazy.lp.n_cases >= 10 and sum(r["unserved_network_mw"] > 1e-6 for r in a) >= 2
    for x, y in zip(a, b):
        for col in FLOAT_COLUMNS[:4]:
            assert x[col] == pytest.approx(y[col], abs=1e-6)
        assert (x["n_overloaded"], x["status"]) == (y["n_overloaded"], y["status"])
    m = fast.model.n_branch
    assert lazy.lp._full is None                                # never fell back to the full LP
    assert lazy.lp.max_rows_added <= m // 5                     # measured: 17 of 186
    assert lazy.lp.total_rows_added <= lazy.lp.n_cases * m // 10  # measured: 8 per case on average


def test_lazy_lp_starts_from_the_last_cases_binding_rows(monkeypatch):
    """case118, every single branch: a case starting with the rows that bound at the last case's optimum needs
    fewer HiGHS solves (measured: 31 instead of 48) and gives the same records as starting without them."""
    import gridsim.batch.lp_lazy as lazy_lp

    fast, _ = evaluators(CASE118, "proportional")
    cases = single_cases(fast.model.base, ("branch",))
    carried = FastDCEvaluator(fast.scenario, fast.model.base, lp="highs")
    a = carried.evaluate_many(cases)
    monkeypatch.setattr(lazy_lp, "BINDING_MW", -np.inf)          # nothing counts as binding: nothing carried
    fresh = FastDCEvaluator(fast.scenario, fast.model.base, lp="highs")
    b = fresh.evaluate_many(cases)
    assert not len(fresh.lp._binding) and carried.lp.n_cases == fresh.lp.n_cases >= 10
    assert carried.lp.n_solves < 0.8 * fresh.lp.n_solves
    for x, y in zip(a, b):
        for col in FLOAT_COLUMNS[:4]:
            assert x[col] == pytest.approx(y[col], abs=1e-6)
        assert (x["n_overloaded"], x["status"]) == (y["n_overloaded"], y["status"])


def test_exact_lp_skips_the_reference_where_the_choice_of_loads_cannot_matter():
    """case118 as published (every load priority 2, none critical, equal weights): the loads the warm LP sheds
    may differ from simulate()'s, but no number of the record can, so the reference LP never runs; the cases
    that shed load still equal simulate()."""
    sc = scenario(CASE118)
    fast = FastDCEvaluator(sc)
    assert not fast.model.critical.any()
    cases = single_cases(fast.model.base, ("branch",))
    recs = fast.evaluate_many(cases)
    assert fast.lp.reference.n_solves == 0 and fast.lp.warm.n_cases >= 10
    shed = [i for i, r in enumerate(recs) if r["unserved_network_mw"] > 1e-6]
    assert len(shed) >= 2
    ref = SimulateEvaluator(sc, fast.model.base)
    picked = shed + [0, 1]
    assert_same([recs[i] for i in picked], [ref.evaluate(cases[i]) for i in picked], [cases[i] for i in picked])


@pytest.mark.parametrize("fields", [{"solver": "ac"}, {"response": "cascade"}])
def test_other_solvers_and_responses_point_to_the_reference(fields):
    sc = scenario(CASE24).model_copy(update=fields)
    with pytest.raises(ValueError, match="SimulateEvaluator"):
        FastDCEvaluator(sc)


# ------------------------------------------------------------------------------------------------- the parts

def test_grouped_merit_dispatch_equals_merit_dispatch_island_by_island():
    from gridsim.batch.state import merit_dispatch_grouped
    from gridsim.dispatch import merit_dispatch

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        cap = rng.choice([0.0, 10.0, 50.0, 120.5], n) * rng.integers(0, 3, n)
        cost = rng.choice([0.0, 10.0, 20.0, 45.0, 70.0], n)
        group = rng.integers(-1, 4, n)
        target = rng.uniform(0, 400, 4)
        got = merit_dispatch_grouped(cap, cost, group, target)
        for g in range(4):
            m = group == g
            want = merit_dispatch(cap[m], cost[m], target[g])
            np.testing.assert_allclose(got[m], want, atol=1e-9)
        assert (got[group < 0] == 0).all()


def test_outage_flows_equal_a_direct_solve_per_island():
    """Compensated flows after 1-4 branch outages (some splitting the grid) equal flows solved directly on the
    damaged topology with one reference per island, for balanced island injections."""
    from gridsim.batch.state import _islands

    fast, _ = evaluators(CASE118, "proportional")
    pm, flow = fast.model, fast.flow
    rng = np.random.default_rng(1)
    n_split = 0
    for _ in range(60):
        out = np.unique(rng.integers(0, pm.n_branch, int(rng.integers(1, 5))))
        on = np.ones(pm.n_branch, bool)
        on[out] = False
        labels, _, n_lab = _islands(pm, on, pm.bus_active)
        n_split += n_lab > 1
        inj = rng.normal(0, 50, pm.n_bus)
        inj -= (np.bincount(labels, inj, n_lab) / np.bincount(labels, minlength=n_lab))[labels]  # balance
        got = flow.outage_flows(flow.flows(inj), out)
        b = (flow.inc[on].T @ np.diag(pm.bw[on]) @ flow.inc[on].toarray())
        _, first = np.unique(labels, return_index=True)
        keep = np.setdiff1d(np.arange(pm.n_bus), first)
        theta = np.zeros(pm.n_bus)
        theta[keep] = np.linalg.solve(np.asarray(b)[np.ix_(keep, keep)], inj[keep])
        want = np.where(on, pm.bw * (flow.inc @ theta), 0.0)
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert n_split >= 3


@pytest.mark.parametrize("network", [CASE24, "dnipro-like"])
def test_name_index_resolves_every_name_as_resolve_outage(network):
    from gridsim.batch.cases import outage_models
    from gridsim.batch.names import NameIndex
    from gridsim.errors import ScenarioError
    from gridsim.outages import resolve_outage

    net = evaluators(network, "proportional")[0].model.base
    index = NameIndex(net)
    items = [c.outages[0] for c in single_cases(net, ("line", "branch", "transformer", "substation", "plant",
                                                       "unit"))]
    items = items[::max(1, len(items) // 150)]      # every kind, ~150 names (resolve_outage takes ~1 ms each)
    items += [{"branch": "7"}, {"branch": 9999}, {"unit": "no such unit"}, {"substation": "Kalynivsk"}]
    # MATPOWER bus pairs, either direction, circuits, a transformer named as a line, and the errors of each
    items += [{"line": x} for x in ("1-2", "2-1", " 1 - 2 ", "15-21", "15-21#1", "21-15#2", "15-21#3", "15-21#0",
                                    "3-24", "24-3#1", "1-24", "1-2#2", "Kalynivsk - Bilany", "99-100")]
    hits = 0
    for i, outage in enumerate(outage_models(CaseSpec("all", tuple(items)))):
        try:
            want = resolve_outage(net, outage, i)
        except ScenarioError as exc:
            with pytest.raises(ScenarioError) as got:
                index.resolve(outage, i)
            assert str(got.value) == str(exc)
            continue
        assert index.resolve(outage, i) == want
        hits += 1
    assert hits > 60


def test_matpower_lines_named_by_bus_pair_take_the_single_branch_block_path():
    """``gridsim rank case.m --kind line`` names MATPOWER lines ``"a-b"`` / ``"a-b#k"``: each is one branch for
    the screen (before, every name went through the one-case path: 160 cases/s on case2000 instead of ~10,000)."""
    from gridsim.batch.rank import asset_names, outage_items

    fast = evaluators(CASE24, "proportional")[0]
    net = fast.model.base
    names = asset_names(net, "line")
    items = outage_items(net, "line", names)
    rows = dict(zip(net.line["name"].astype(str), net.line["mp_branch_row"]))
    rows.update(zip(net.trafo["name"].astype(str), net.trafo["mp_branch_row"]))
    assert len(names) == 38
    for name in names:       # the first of parallel circuits ("15-21" beside "15-21#2") is named by its row
        got = fast.single_branch(CaseSpec(name, (items[name],)))
        assert got is not None
        assert got == fast.single_branch(CaseSpec(name, ({"branch": int(rows[name])},)))
        if items[name] == {"line": name}:
            assert got == fast.single_branch(CaseSpec(name, ({"line": name.replace("-", " - ")},)))
    assert sum(item == {"line": n} for n, item in items.items()) == 34


def test_sparse_ptdf_columns_equal_the_dense_ones(monkeypatch):
    """Grids above DENSE_MAX_BUSES get their PTDF columns from sparse solves: the same numbers."""
    from gridsim.batch import dcflow

    fast, _ = evaluators(CASE118, "proportional")
    monkeypatch.setattr(dcflow, "DENSE_MAX_BUSES", 0)
    sparse = dcflow.DCFlow(fast.model)
    assert sparse.ptdf_bus is None and fast.flow.ptdf_bus is not None
    branches = np.arange(0, fast.model.n_branch, 7)
    np.testing.assert_allclose(sparse.ptdf_columns(branches), fast.flow.ptdf_columns(branches), atol=1e-9)


# ------------------------------------------------------------------------------------------------------- slow

@pytest.mark.slow
@pytest.mark.parametrize("shedding", ["proportional", "priority"])
def test_builtin_grid_every_single_asset(shedding):
    fast, _ = evaluators("dnipro-like", shedding)
    differential("dnipro-like", shedding, single_cases(fast.model.base, ("line", "transformer", "substation",
                                                                          "plant", "unit")))


@pytest.mark.slow
@pytest.mark.parametrize("shedding", ["proportional", "priority"])
def test_case118_every_single_asset_and_random_multi(shedding):
    fast, _ = evaluators(CASE118, shedding)
    net = fast.model.base
    differential(CASE118, shedding, single_cases(net) + random_cases(net, 150, seed=7, kmax=8))


@pytest.mark.slow
def test_case24_every_single_asset_with_priority_shedding():
    fast, _ = evaluators(CASE24, "priority")
    differential(CASE24, "priority", single_cases(fast.model.base))


@pytest.mark.slow
def test_case24_many_random_multi_asset_cases():
    fast, _ = evaluators(CASE24, "priority")
    differential(CASE24, "priority", random_cases(fast.model.base, 400, seed=11, kmax=8))


# ------------------------------------------------------------------------------------------ single-branch fast paths

@pytest.mark.parametrize("network", [CASE24, "dnipro-like"])
def test_branch_masks_equal_the_resolved_masks(network):
    """The name-index shortcut for plain branch outages gives the masks ``masks`` gives, and declines the rest."""
    from gridsim.batch.cases import outage_models

    fast, _ = evaluators(network, "proportional")
    pm = fast.model
    kinds = ("branch", "transformer") if network.endswith(".m") else ("line", "transformer")
    cases = single_cases(pm.base, kinds)
    cases += [CaseSpec(f"pair{i}", (a.outages[0], b.outages[0])) for i, (a, b) in enumerate(zip(cases, cases[3:]))]
    assert cases
    for case in cases:
        got = pm.branch_masks(case.outages)
        want = pm.masks(outage_models(case))
        assert got is not None and np.array_equal(got.branch_out, want.branch_out), case
        assert got.injections_unchanged
    for items in (({"substation": str(pm.base.bus["substation"].iloc[0])},), ({"line": "no such line"},),
                  ({"branch": True},), ({"branch": 1, "derate": 0.5},)):
        assert pm.branch_masks(items) is None


@pytest.mark.parametrize("network", [CASE24, CASE118, "dnipro-like"])
def test_bridges_give_the_islands_of_a_graph_search(network):
    from gridsim.batch.state import Bridges, _islands

    pm = evaluators(network, "proportional")[0].model
    bridges = Bridges(pm)
    assert bridges.is_bridge.any()            # every one of these networks has branches whose loss splits it
    for k in range(pm.n_branch):
        on = np.ones(pm.n_branch, dtype=bool)
        on[k] = False
        want = _islands(pm, on, pm.bus_active)
        got = bridges.islands(k)
        assert got[1:] == want[1:], k
        pairs = set(zip(got[0].tolist(), want[0].tolist()))
        assert len(pairs) == len(set(got[0].tolist())) == len(set(want[0].tolist())), k   # the same partition


def test_with_demand_equals_an_evaluator_prepared_at_that_load_level():
    from gridsim.networks import build_network

    fast, _ = evaluators(CASE24, "proportional")
    net = build_network(CASE24, load_level=1.25)
    net.load["priority"] = fast.model.base.load["priority"]
    higher = FastDCEvaluator(fast.scenario.model_copy(update={"load_level": 1.25}), net)
    np.testing.assert_allclose(higher.model.demand, 1.25 * fast.model.demand)
    scaled = fast.with_demand(1.25 * fast.model.demand)
    cases = single_cases(fast.model.base, ("branch", "substation")) + random_cases(fast.model.base, 10, seed=7,
                                                                                   kmax=4)
    before = fast.evaluate_many(cases)
    got, want = scaled.evaluate_many(cases), higher.evaluate_many(cases)
    assert_same(got, want, cases)
    assert sum(r["unserved_mw"] for r in got) > sum(r["unserved_mw"] for r in before) + 1.0
    assert_same(fast.evaluate_many(cases), before, cases)        # the original is untouched


def test_evaluate_state_is_the_state_behind_the_record():
    fast, _ = evaluators(CASE24, "priority")
    for case in random_cases(fast.model.base, 12, seed=9, kmax=5):
        masks = fast.case_masks(case)
        st, n_over = fast.evaluate_state(masks)
        rec = fast.evaluate_masks(masks)
        assert rec["n_overloaded"] == n_over
        assert rec["unserved_mw"] == pytest.approx(float((st.isolated + st.deficit + st.network).sum()), abs=1e-9)
        assert rec["unserved_network_mw"] == pytest.approx(float(st.network.sum()), abs=1e-9)

"""Salvos against air defence (gridsim.salvo): the attack schema, per-draw streams, compounding hits, the
Monte Carlo against exact answers (interception 1 and 0, enumeration of a small case), worker-count
independence, kill-and-resume, common random numbers, greedy vs exhaustive air-defence placement, the CLI."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsim.cli import main
from gridsim.errors import ScenarioError
from gridsim.scenario import Outage, loads_scenario
from gridsim.salvo.montecarlo import run_salvo
from gridsim.salvo.plan import Asset, AttackPlan
from gridsim.salvo.sampling import draw_hits, draw_rng, sample_draw

HEAD = """name: test salvo
network: dnipro-like
solver: dc
shedding: priority
response: optimal
"""
SMALL = HEAD + """attack:
  weapons:
    - {type: cruise, count: 3}
    - {type: drone, count: 4}
  interception:
    default: {cruise: 0.5, drone: 0.6}
    defended:
      - {region: Stolychna, cruise: 0.9, drone: 0.9}
  targets:
    - {select: {kind: substation, voltage_kv: 750}, weight: 2}
    - {select: {kind: plant, fuel: coal}, weight: 1}
  damage:
    default: {derate: [0.0, 0.5]}
    drone: {derate: [0.5, 0.9]}
  air_defence_unit: {cruise: 0.95, drone: 0.95}
seed: 11
"""


def scenario(text: str = SMALL, tmp_path: Path | None = None):
    if tmp_path is None:
        return loads_scenario(text)
    path = tmp_path / "salvo.yaml"
    path.write_text(text)
    from gridsim.scenario import load_scenario

    return load_scenario(path)


# -- schema ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, line, words", [
    (("drone: 0.6}", "dron: 0.6}"), 11, "unknown weapon type 'dron'; did you mean 'drone'?"),
    (("count: 4}", "count: 40000}"), 9, "MAX_WEAPONS"),
    (("weight: 1}", "weight: 1, derate: 0.5}"), 16, "a target takes no derate"),
    (("fuel: coal}", "fuel: cole}"), 16, "did you mean 'coal'?"),
    (("{derate: [0.0, 0.5]}", "{derate: 0.5}"), 18, "range `[low, high]`"),
    (("seed: 11", "seed: 11\ndraws: 0"), 22, "MAX_DRAWS"),
    (("{type: drone, count: 4}", "{type: cruise, count: 4}"), 7, "listed twice"),
])
def test_bad_attack_input_is_located_and_explained(edit, line, words):
    with pytest.raises(ScenarioError) as info:
        loads_scenario(SMALL.replace(*edit), source="s.yaml")
    assert info.value.line == line and words in info.value.message, str(info.value)


def test_draws_need_an_attack_and_every_type_needs_a_default():
    with pytest.raises(ScenarioError, match="add an `attack:` block"):
        loads_scenario("name: x\ndraws: 10\n")
    with pytest.raises(ScenarioError, match="no probability for weapon type 'drone'"):
        loads_scenario(SMALL.replace("default: {cruise: 0.5, drone: 0.6}", "default: {cruise: 0.5}"))


def test_unknown_region_of_a_defended_zone_names_the_known_ones():
    sc = scenario(SMALL.replace("region: Stolychna", "region: Stolychnaa"))
    with pytest.raises(ScenarioError, match="did you mean 'Stolychna'"):
        run_salvo(sc, draws=1, workers=1)


# -- sampling ----------------------------------------------------------------------------------------------------
def test_a_draws_stream_is_the_seed_sequences_spawned_child():
    child = np.random.SeedSequence(7).spawn(5)[3]
    expected = np.random.Generator(np.random.PCG64(child)).random(6)
    assert np.array_equal(draw_rng(7, 3).random(6), expected)
    assert not np.array_equal(draw_rng(7, 2).random(6), expected)


def _toy_plan(p_intercept: float, derate=(0.5, 0.5)) -> AttackPlan:
    assets = (Asset("plant", "P", "R"), Asset("substation", "S", "R"))
    return AttackPlan(("t",), np.zeros(3, dtype=np.int64), assets, np.array([1.0, 0.0]),
                      np.full((1, 2), p_intercept), np.array([derate]), np.array([[10.0, 30.0]]), 0.0, True)


def test_hits_on_one_asset_compound_as_the_product_of_remaining_fractions():
    plan = _toy_plan(0.0)
    hits = draw_hits(plan, sample_draw(plan, 1, 0))
    assert hits.n_through == 3 and list(hits.assets) == [0]
    assert hits.remaining[0] == pytest.approx(0.125)
    sample = sample_draw(plan, 1, 0)
    assert hits.repair_h[0] == pytest.approx(sample.repair_h.max())         # back when the last repair is done
    (item,) = hits.outage_items(plan)
    assert item == {"plant": "P", "derate": 0.125, "repair_h": round(float(sample.repair_h.max()), 6)}


def test_a_better_air_defence_only_removes_hits():
    plan = _toy_plan(0.3, derate=(0.0, 0.9))
    for d in range(50):
        s = sample_draw(plan, 5, d)
        weak, strong = draw_hits(plan, s), draw_hits(plan, s, np.full((1, 2), 0.7))
        assert strong.n_through <= weak.n_through
        assert np.all(strong.remaining >= weak.remaining - 1e-12) if len(strong.assets) == len(weak.assets) else True


# -- the Monte Carlo against exact answers -------------------------------------------------------------------------
def test_interception_one_gives_zero_loss_in_every_draw():
    sc = scenario(SMALL.replace("default: {cruise: 0.5, drone: 0.6}", "default: {cruise: 1.0, drone: 1.0}"))
    run = run_salvo(sc, draws=25, workers=1)
    assert len(run.draws) == 25 and run.summary["draws"] == 25
    assert (run.draws["weapons_through"] == 0).all() and not run.hits.any()
    assert (run.draws["unserved_mw"].abs() < 1e-6).all()
    assert run.summary["unserved_mw"]["max"] < 1e-6 and run.summary["p_any_loss"] == 0.0


ONE_TARGET = HEAD + """attack:
  weapons: [{type: cruise, count: 2}]
  interception: {default: {cruise: 0.0}}
  targets: [{substation: Dubravsk}]
draws: 12
seed: 3
outages:
  - plant: Ozerna TPP
"""


def test_interception_zero_hits_the_one_target_in_every_draw_as_simulate_does():
    from gridsim.simulate import simulate

    sc = scenario(ONE_TARGET)
    run = run_salvo(sc, workers=1)
    assert len(run.draws) == 12 and run.hits.all() and (run.draws["weapons_through"] == 2).all()
    alone = sc.model_copy(update={"attack": None, "draws": None, "seed": None,
                                  "outages": [*sc.outages, Outage(kind="substation", target="Dubravsk")]})
    expected = simulate(alone).summary
    assert expected["unserved_mw"] > 100      # the scenario outage is present in every draw, with the hit
    assert np.allclose(run.draws["unserved_mw"], expected["unserved_mw"], atol=1e-6)
    assert np.allclose(run.draws["critical_unserved_mw"], expected["critical_unserved_mw"], atol=1e-6)
    assert run.assets.loc[0, "hit_probability"] == 1.0


ENUM = HEAD + """attack:
  weapons: [{type: cruise, count: 1}, {type: drone, count: 1}]
  interception: {default: {cruise: 0.4, drone: 0.2}}
  targets:
    - {substation: Dubravsk, weight: 1}
    - {plant: Chornozem TPP, weight: 3}
  damage: {default: {derate: [0.0, 0.0]}}
draws: 400
seed: 5
outages:
  - plant: Berezhna NPP
"""


def test_mean_agrees_with_exact_enumeration_within_three_standard_errors():
    from gridsim.simulate import simulate

    sc = scenario(ENUM)
    run = run_salvo(sc, workers=1)
    # each weapon: intercepted, or through to Dubravsk (1/4) or to Chornozem TPP (3/4)
    outcomes = {"cruise": [(0.4, None), (0.6 * 0.25, "S"), (0.6 * 0.75, "P")],
                "drone": [(0.2, None), (0.8 * 0.25, "S"), (0.8 * 0.75, "P")]}
    items = {"S": Outage(kind="substation", target="Dubravsk"), "P": Outage(kind="plant", target="Chornozem TPP")}
    base = sc.model_copy(update={"attack": None, "draws": None, "seed": None})
    loss: dict[frozenset, float] = {}
    exact = 0.0
    for (pa, a), (pb, b) in itertools.product(outcomes["cruise"], outcomes["drone"]):
        hit = frozenset(x for x in (a, b) if x)
        if hit not in loss:
            outages = [*base.outages, *(items[h] for h in sorted(hit))]
            loss[hit] = simulate(base.model_copy(update={"outages": outages})).summary["unserved_mw"]
        exact += pa * pb * loss[hit]
    s = run.summary["unserved_mw"]
    assert len({round(v, 3) for v in loss.values()}) == 3 and exact > 100   # the states differ: it can fail
    assert abs(s["mean"] - exact) < 3 * s["sem"], (s, exact)


def test_the_fast_evaluator_gives_simulates_numbers_on_salvo_draws():
    from gridsim.batch.cases import CaseSpec, SimulateEvaluator
    from gridsim.salvo.evaluators import SalvoFastEvaluator
    from gridsim.salvo.plan import plan_attack
    from gridsim.simulate import prepare_network

    sc = scenario()
    net = prepare_network(sc)
    plan = plan_attack(sc, net)
    fast, ref = SalvoFastEvaluator(sc, net), SimulateEvaluator(sc, net)
    for d in range(6):
        case = CaseSpec(f"d{d}", draw_hits(plan, sample_draw(plan, 11, d)).outage_items(plan))
        a, b = fast.evaluate(case), ref.evaluate(case)
        assert a["unserved_mw"] == pytest.approx(b["unserved_mw"], abs=1e-3)
        assert a["critical_unserved_mw"] == pytest.approx(b["critical_unserved_mw"], abs=1e-3)


def test_same_numbers_for_any_number_of_workers_and_region_sums_match():
    sc = scenario()
    one = run_salvo(sc, draws=30, workers=1)
    two = run_salvo(sc, draws=30, workers=2)
    cols = ["draw", "weapons_through", "assets_hit", "hit"]
    assert one.draws[cols].equals(two.draws[cols])            # the same draws, exactly
    # the same numbers to the last digit, and the same split between regions (every LP starts from one basis)
    for col in ("unserved_mw", "critical_unserved_mw"):
        assert one.draws[col].equals(two.draws[col])
    assert one.region_unserved.equals(two.region_unserved)
    assert one.summary["unserved_mw"] == two.summary["unserved_mw"]
    assert one.draws["unserved_mw"].std() > 0
    assert np.allclose(one.region_unserved.sum(axis=1), one.draws["unserved_mw"], atol=1e-3)


def test_a_draws_split_of_its_shed_between_regions_does_not_depend_on_the_draws_solved_before():
    """Where equal weights leave open which loads are shed, the warm-started LP once landed on a different
    optimum for the same draw after different draws (a region moved by hundreds of MW between runs on 2
    workers); every solve now starts from one anchored basis."""
    from gridsim.batch.cases import CaseSpec
    from gridsim.salvo.evaluators import REGIONS, SalvoFastEvaluator
    from gridsim.salvo.plan import plan_attack
    from gridsim.simulate import prepare_network

    sc = loads_scenario((Path(__file__).parent.parent / "scenarios" / "winter-salvo-montecarlo.yaml").read_text())
    net = prepare_network(sc)
    plan = plan_attack(sc, net)
    cases = [CaseSpec(f"d{d}", draw_hits(plan, sample_draw(plan, 0, d)).outage_items(plan)) for d in range(40)]
    orders = [list(range(40)), list(range(40))[::-1], list(np.random.default_rng(1).permutation(40))]
    runs = []
    for order in orders:
        ev = SalvoFastEvaluator(sc, net)
        runs.append({i: ev.evaluate(cases[i]) for i in order})
    shed = [i for i in range(40) if runs[0][i]["unserved_mw"] > 1.0]
    assert len(shed) >= 20
    for other in runs[1:]:
        for i in range(40):
            assert other[i]["unserved_mw"] == runs[0][i]["unserved_mw"]
            assert other[i]["critical_unserved_mw"] == runs[0][i]["critical_unserved_mw"]
            assert other[i]["extras"][REGIONS] == runs[0][i]["extras"][REGIONS]


def test_until_se_stops_once_the_relative_standard_error_is_reached():
    run = run_salvo(scenario(), draws=1000, workers=1, until_se=0.5, block=15)
    assert len(run.draws) == 15 and run.summary["until_se"]["reached"]
    assert run.summary["until_se"]["relative_se"] <= 0.5


# -- kill and resume ------------------------------------------------------------------------------------------------
def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_killed_run_resumes_to_the_same_statistics(tmp_path):
    path = tmp_path / "salvo.yaml"
    path.write_text(SMALL)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gridsim", "run", str(path), "--draws", "120", "--workers", "1", "-o", str(out),
           "-q", "--no-report"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _rows(out / "results.sqlite") < 16 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed_at = _rows(out / "results.sqlite")
    assert proc.returncode == -signal.SIGKILL and 16 <= killed_at < 120, killed_at
    assert not (out / "summary.json").exists()
    with sqlite3.connect(out / "results.sqlite") as conn:
        before = dict(conn.execute("SELECT case_id, written_at FROM results"))

    assert main(["run", str(path), "--draws", "120", "--workers", "1", "-o", str(out), "-q", "--no-report",
                 "--resume"]) == 0
    with sqlite3.connect(out / "results.sqlite") as conn:
        rows = dict(conn.execute("SELECT case_id, written_at FROM results"))
    assert len(rows) == 120 and all(rows[k] == v for k, v in before.items())   # finished draws not run again
    clean = tmp_path / "clean"
    assert main(["run", str(path), "--draws", "120", "--workers", "1", "-o", str(clean), "-q", "--no-report"]) == 0
    resumed, fresh = (json.loads((d / "summary.json").read_text()) for d in (out, clean))
    assert resumed["draws"] == fresh["draws"] == 120
    for key in ("unserved_mw", "critical_unserved_mw"):
        assert resumed[key] == pytest.approx(fresh[key], abs=1e-6)
    assert (out / "draws.csv").read_text().count("\n") == 121


# -- common random numbers, compare, defend ---------------------------------------------------------------------
def test_compare_variants_share_their_draws():
    from gridsim.salvo.policies import compare_policies

    table, losses = compare_policies(scenario(), "interception.default.cruise", [0.0, 0.5, 1.0], draws=40,
                                     workers=1)
    assert list(table["variant"]) == ["cruise=0", "cruise=0.5", "cruise=1"]
    means = table["unserved_mw_mean"].to_numpy()
    assert means[0] > means[1] > means[2]
    # on common random numbers a better defence never makes a draw worse by more than the grid's own
    # non-monotonicity; here every draw's difference is tiny next to the spread across draws
    diff = losses["cruise=1"] - losses["cruise=0"]
    assert table.loc[2, "difference_sem"] < losses["cruise=0"].std() / np.sqrt(40)
    assert diff.mean() < 0
    base = run_salvo(scenario(SMALL.replace("cruise: 0.5, drone", "cruise: 0.0, drone")), draws=40, workers=1)
    assert np.allclose(base.draws["unserved_mw"], losses["cruise=0"], atol=1e-6)   # the same draws as a run


def test_compare_rejects_what_it_cannot_set():
    from gridsim.salvo.policies import parse_compare, with_value

    with pytest.raises(ScenarioError, match="KEY=V1,V2"):
        parse_compare("interception.default.cruise")
    with pytest.raises(ScenarioError, match="cannot set attack.interception.default.cruse"):
        with_value(scenario(), "interception.default.cruse", 0.5)
    with pytest.raises(ScenarioError, match="from 0 to 1"):
        with_value(scenario(), "interception.default.cruise", 1.5)
    assert with_value(scenario(), "weapons.drone", 9).attack.weapons[1].count == 9


DEFEND = HEAD + """attack:
  weapons: [{type: cruise, count: 4}]
  interception: {default: {cruise: 0.3}}
  targets:
    - {substation: Dubravsk, weight: 1}
    - {substation: Velykohrad, weight: 1}
    - {plant: Chornozem TPP, weight: 1}
    - {substation: Kalynivsk, weight: 1}
  damage: {default: {derate: [0.0, 0.0]}}
  air_defence_unit: {cruise: 0.9}
draws: 60
seed: 2
outages:
  - plant: Berezhna NPP
"""


def test_greedy_placement_against_exhaustive_on_a_small_case():
    from gridsim.salvo.defend import exhaustive_defence, greedy_defence

    sc = scenario(DEFEND)
    greedy = greedy_defence(sc, 2, candidates_kind="substations", keep_going=True, workers=1)
    best, best_value, table = exhaustive_defence(sc, 2, candidates_kind="substations", workers=1)
    assert len(table) == 3 and table["mean"].is_monotonic_increasing   # C(3, 2) placements, sorted
    assert list(greedy.table["unit"]) == [1, 2]
    greedy_value = float(greedy.table["mean_after"].iloc[-1])
    assert greedy_value >= best_value - 1e-9          # exhaustive is the optimum on the same draws
    assert sorted(greedy.placed) == sorted(best)      # and greedy finds it here
    assert (greedy.table["reduction"] > 0).all() and (greedy.table["reduction_se"] > 0).all()
    assert greedy.table["mean_before"].iloc[0] == pytest.approx(greedy.baseline)


def test_greedy_stops_early_when_the_choice_is_not_clear():
    from gridsim.salvo.defend import greedy_defence

    sc = scenario(DEFEND.replace("draws: 60", "draws: 6"))
    d = greedy_defence(sc, 3, candidates_kind="substations", workers=1)
    assert len(d.table) < 3 and ("not significantly" in d.stopped or "no candidate reduces" in d.stopped)


# -- command line ---------------------------------------------------------------------------------------------
def test_cli_run_writes_the_monte_carlo_outputs(tmp_path):
    path = tmp_path / "salvo.yaml"
    path.write_text(SMALL)
    out = tmp_path / "out"
    assert main(["run", str(path), "--draws", "20", "--workers", "1", "-o", str(out), "-q",
                 "--compare", "interception.default.drone=0.3,0.9", "--immunity-draws", "6"]) == 0
    for name in ("summary.json", "draws.csv", "assets.csv", "regions.csv", "compare.csv", "exceedance.png",
                 "immunity.csv",
                 "compare.png", "salvo-map.png", "report.html", "results.sqlite", "cases.csv"):
        assert (out / name).exists(), name
    s = json.loads((out / "summary.json").read_text())
    assert s["draws"] == 20 and set(s["unserved_mw"]) == {"mean", "sem", "p50", "p90", "p95", "p99", "max"}
    assert s["unserved_mw"]["p50"] <= s["unserved_mw"]["p95"] <= s["unserved_mw"]["max"]
    assert len(s["compare"]) == 2
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "substation: " in html and "<script" not in html


def test_cli_monte_carlo_options_need_an_attack(tmp_path, capsys):
    path = tmp_path / "plain.yaml"
    path.write_text(HEAD)
    assert main(["run", str(path), "--draws", "5", "-o", str(tmp_path / "o")]) == 2
    assert "--draws applies to scenarios with an `attack:` block" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "x.yaml"), "--until-se", "2%"]) == 2
    with pytest.raises(SystemExit):
        main(["run", str(path), "--until-se", "150%"])


def test_cli_defend_writes_its_table_and_figure(tmp_path):
    path = tmp_path / "defend.yaml"
    path.write_text(DEFEND)
    out = tmp_path / "d"
    assert main(["defend", str(path), "--units", "2", "--candidates", "substations", "--workers", "1",
                 "-o", str(out), "--keep-going"]) == 0
    table = (out / "defence.csv").read_text().splitlines()
    assert table[0].startswith("unit,placed,mean_before,mean_after,reduction,reduction_se") and len(table) == 3
    assert (out / "defence.png").stat().st_size > 1000
    assert main(["defend", str(path), "--units", "1", "--metric", "ens", "-o", str(out)]) == 2


TIMELINE = HEAD + """timeline: {horizon_h: 12, step_h: 1, profile: flat}
attack:
  weapons: [{type: cruise, count: 1}]
  interception: {default: {cruise: 0.0}}
  targets: [{substation: Dubravsk}]
  damage: {default: {derate: [0.0, 0.0], repair_h: [6, 6]}}
  at_h: 2
draws: 3
seed: 1
"""


def test_with_a_timeline_every_draw_counts_its_repairs_as_energy_not_served():
    from gridsim.simulate import simulate

    sc = scenario(TIMELINE)
    run = run_salvo(sc, workers=1)
    loss = simulate(sc.model_copy(update={"attack": None, "draws": None, "seed": None, "timeline": None,
                                          "outages": [Outage(kind="substation", target="Dubravsk")]})).summary
    assert loss["unserved_mw"] > 100
    assert np.allclose(run.draws["ens_mwh"], 6 * loss["unserved_mw"], rtol=1e-6)   # out from hour 2 to hour 8
    assert np.allclose(run.draws["unserved_mw"], loss["unserved_mw"], atol=1e-6)   # the peak step
    assert run.summary["ens_mwh"]["mean"] == pytest.approx(6 * loss["unserved_mw"], rel=1e-6)
    assert run.metric == "ens_mwh"


def test_docs_cover_every_attack_key_and_the_commands():
    from gridsim.scenario.attack import LIMITS, Attack, DamageRange, Interception, Weapon

    root = Path(__file__).parent.parent
    text = (root / "docs" / "salvo.md").read_text()
    for model in (Attack, Interception, DamageRange, Weapon):
        for name in model.model_fields:
            assert f"`{name}" in text or f"`interception.{name}`" in text, name
    for name, (value, _) in LIMITS.items():
        assert f"| `{name}` | {value:,} |" in text
    assert "product of the remaining fractions" in text and "1 − 1/e" in text
    cli = (root / "docs" / "cli.md").read_text()
    assert "gridsim defend" in cli and "--until-se" in cli
    assert "docs/images/salvo-exceedance.png" in (root / "README.md").read_text()


def test_compare_scenario_files_on_common_random_numbers(tmp_path):
    from gridsim.salvo.policies import compare_policies

    base = scenario(SMALL, tmp_path)
    better = tmp_path / "better.yaml"
    better.write_text(SMALL.replace("default: {cruise: 0.5, drone: 0.6}", "default: {cruise: 0.9, drone: 0.9}"))
    table, losses = compare_policies(base, str(better), None, draws=30, workers=1)
    assert list(table["variant"]) == ["salvo", "better"]
    assert table.loc[1, "unserved_mw_mean"] < table.loc[0, "unserved_mw_mean"]
    other = tmp_path / "other.yaml"
    other.write_text(SMALL + "outages:\n  - plant: Berezhna NPP\n")
    with pytest.raises(ScenarioError, match="same grid state"):
        compare_policies(base, str(other), None, draws=5, workers=1)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "salvo.yaml"), "--draws", "10", "--workers", "1", "-o", str(out), "-q",
                 "--no-report", "--compare", str(better)]) == 0
    assert [c["variant"] for c in json.loads((out / "summary.json").read_text())["compare"]] == ["salvo", "better"]


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_draws():
    pytest.importorskip("dask.distributed")
    sc = scenario()
    serial = run_salvo(sc, draws=24, workers=1)
    dask = run_salvo(sc, draws=24, scheduler="dask:local", workers=2)
    assert serial.draws["hit"].equals(dask.draws["hit"])
    assert serial.draws["unserved_mw"].equals(dask.draws["unserved_mw"])
    assert serial.region_unserved.equals(dask.region_unserved)


LEAF = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats() | st.text(max_size=8) | \
    st.sampled_from(["cruise", "drone", "default", "Stolychna", "plant", "0.5"])
ATTACK_KEYS = ["weapons", "interception", "targets", "damage", "air_defence_unit", "at_h", "default", "defended",
               "type", "count", "region", "select", "plant", "substation", "weight", "derate", "repair_h",
               "cruise", "drone", "kind", "fuel", "x"]
NESTED = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(ATTACK_KEYS), inner, max_size=4), max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NESTED, st.one_of(st.none(), LEAF))
def test_any_attack_block_raises_only_scenario_errors(attack, draws):
    import yaml

    data = {"name": "fuzz", "attack": attack}
    if draws is not None:
        data["draws"] = draws
    try:
        text = yaml.safe_dump(data)
    except yaml.YAMLError:
        return
    try:
        loads_scenario(text, source="<fuzz>")
    except ScenarioError as err:
        assert err.message and err.file == "<fuzz>"


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


SMALL_DATA = __import__("yaml").safe_load(SMALL)
SMALL_PATHS = [p for p in _paths(SMALL_DATA) if p and p[0] in ("attack", "draws", "seed")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SMALL_PATHS), NESTED)
def test_one_bad_value_in_a_valid_attack_raises_only_a_located_scenario_error(path, value):
    import copy

    import yaml

    data = copy.deepcopy(SMALL_DATA)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        text = yaml.safe_dump(data)
    except yaml.YAMLError:
        return
    try:
        loads_scenario(text, source="<fuzz>")
    except ScenarioError as err:
        assert err.message and err.file == "<fuzz>" and err.line is not None


def test_immunity_of_the_only_target_avoids_everything_the_salvo_adds():
    from gridsim.salvo.attribution import immunity_table
    from gridsim.simulate import simulate

    sc = scenario(ONE_TARGET)
    table = immunity_table(sc, draws=5, workers=1)
    plain = sc.model_copy(update={"attack": None, "draws": None, "seed": None})
    before = simulate(plain).summary["unserved_mw"]
    after = simulate(plain.model_copy(update={"outages": [*sc.outages, Outage(kind="substation",
                                                                                target="Dubravsk")]})).summary
    assert list(table["asset"]) == ["substation: Dubravsk"] and table.loc[0, "hit_probability"] == 1.0
    assert after["unserved_mw"] - before > 100
    assert table.loc[0, "avoided_unserved_mw"] == pytest.approx(after["unserved_mw"] - before, abs=1e-6)
    assert table.loc[0, "avoided_sem"] == pytest.approx(0.0, abs=1e-6)


def test_the_command_line_names_what_defend_knows_and_imports_no_engine():
    import gridsim.cli_salvo as cli
    from gridsim.salvo.defend import CANDIDATE_KINDS, METRICS

    assert cli.CANDIDATE_KINDS == CANDIDATE_KINDS and cli.METRICS == tuple(METRICS)
    code = ("import sys\nfrom gridsim.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in ('pandas', 'pandapower', 'scipy', 'matplotlib') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_selector_over_parallel_circuits_hits_each_named_line_group_without_failures(tmp_path):
    case24 = Path(__file__).parent.parent / "scenarios" / "networks" / "pglib_opf_case24_ieee_rts.m"
    text = f"""name: case24 salvo
network: {case24}
solver: dc
response: optimal
attack:
  weapons: [{{type: cruise, count: 6}}]
  interception: {{default: {{cruise: 0.0}}, defended: [{{bus: 11, cruise: 1.0}}]}}
  targets: [{{select: {{kind: line, name: "20-23"}}}}, {{bus: 11}}]
draws: 8
"""
    run = run_salvo(scenario(text, tmp_path), workers=1)
    assert run.summary["draws_failed"] == 0 and (run.draws["status"] != "failed").all()
    labels = [a.label for a in run.plan.assets]
    assert labels == ["line: 20-23", "bus: 11"] and run.plan.assets[0].by_selector
    assert run.hits[:, 0].all() and not run.hits[:, 1].any()     # bus 11 is defended completely

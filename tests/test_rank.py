"""Critical-asset ranking: the same order as a brute-force loop of simulate(), kill-and-resume of a real
`gridsim rank` process, the CLI (outputs, exit codes, bad input), pairs, and the figures."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from gridsim.batch.rank import RANK_KINDS, asset_names, rank_assets
from gridsim.cli import main

ROOT = Path(__file__).parent.parent
CASE24 = ROOT / "tests" / "data" / "pglib" / "pglib_opf_case24_ieee_rts.m"
TOL = 1e-6
#: built-in grid substations for the default run: big ones that island a region, small ones, one with a plant
SUBSTATIONS = ("Velykohrad", "Chornozemsk", "Dubravsk", "Kalynivsk", "Berezhna NPP", "Bilany", "Bilets",
               "Bilianka", "Stepanohrad", "Zorya NPP", "Yavir NPP", "Bilivtsi", "Berezhnohrad")


def case24_state_yaml(tmp_path: Path) -> Path:
    """case24 in DC with branches 23 and 27 already out: on top of that, single lines isolate load, leave an
    island short, force shedding for ratings, or cost nothing."""
    path = tmp_path / "case24-state.yaml"
    path.write_text(f"name: case24 with two lines out\nnetwork: {CASE24}\nsolver: dc\nresponse: optimal\n"
                    "outages:\n  - branch: 23\n  - branch: 27\n")
    return path


def brute_force(scenario, kind: str, names) -> dict[str, tuple[float, float, int]]:
    """asset -> (unserved MW, critical MW, overloaded branches), one full simulate() per asset."""
    from gridsim.batch.rank import outage_items
    from gridsim.metrics import check_invariants
    from gridsim.scenario import Outage
    from gridsim.simulate import prepare_network, simulate

    net = prepare_network(scenario)
    items = outage_items(net, kind, list(names))
    out = {}
    for name in names:
        (key, value), = items[name].items()
        sc = scenario.model_copy(update={"outages": [*scenario.outages, Outage(kind=key, target=value)]})
        result = simulate(sc, net=net)
        check_invariants(result)
        s = result.summary
        out[name] = (s["unserved_mw"], s["critical_unserved_mw"], len(s["overloaded_branches"]))
    return out


def assert_ranked_like(ranking: pd.DataFrame, brute: dict) -> None:
    """The ranking holds the brute-force numbers, and its order is the brute-force order: by unserved MW,
    critical MW, overloaded branches (all descending), then name; numbers within TOL are ties."""
    assert sorted(ranking["asset"]) == sorted(brute)
    assert list(ranking["rank"]) == list(range(1, len(brute) + 1))
    for _, row in ranking.iterrows():
        u, c, o = brute[row["asset"]]
        assert row["unserved_mw"] == pytest.approx(u, abs=TOL), row["asset"]
        assert row["critical_unserved_mw"] == pytest.approx(c, abs=TOL), row["asset"]
    names = list(ranking["asset"])
    for a, b in zip(names, names[1:]):
        ka, kb = brute[a], brute[b]
        for x, y in zip(ka, kb):
            if abs(x - y) > TOL:
                assert x > y, f"{a} {ka} ranked above {b} {kb}"
                break
        else:
            assert a < b, f"tie between {a} and {b} not broken by name"


def test_case24_lines_rank_like_brute_force(tmp_path):
    from gridsim.batch.run import as_scenario

    scenario = as_scenario(case24_state_yaml(tmp_path))
    ranking = rank_assets(scenario, "line", workers=1, out_dir=tmp_path / "out")
    singles = ranking.singles
    assert len(singles) == 38 and (singles["status"] == "converged").all()
    assert singles["unserved_mw"].round(6).nunique() >= 5       # a ranking with something to rank
    assert singles.iloc[0]["asset"] == "11-14" and singles.iloc[0]["unserved_isolated_mw"] > 0
    assert_ranked_like(singles, brute_force(scenario, "line", singles["asset"]))
    causes = [c for c in singles.columns if c.startswith("unserved_") and c != "unserved_mw"]
    assert (singles[causes].sum(axis=1) - singles["unserved_mw"]).abs().max() < 1e-6


def test_builtin_substations_rank_like_brute_force():
    from gridsim.batch.run import as_scenario

    scenario = as_scenario("dnipro-like", solver="dc")
    ranking = rank_assets(scenario, "substation", workers=2, assets=list(SUBSTATIONS))
    assert ranking.singles["unserved_mw"].iloc[0] > 500
    assert_ranked_like(ranking.singles, brute_force(scenario, "substation", SUBSTATIONS))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["substation", "plant"])
def test_builtin_grid_full_ranking_like_brute_force(kind):
    from gridsim.batch.run import as_scenario

    scenario = as_scenario("dnipro-like", solver="dc")
    ranking = rank_assets(scenario, kind)
    assert_ranked_like(ranking.singles, brute_force(scenario, kind, ranking.singles["asset"]))


class CountingEvaluator:
    """simulate()'s evaluator, noting the process of every build (top level: worker processes import it)."""

    built: list[int] = []

    def __new__(cls, scenario, net=None):
        from gridsim.batch.cases import SimulateEvaluator

        cls.built.append(os.getpid())
        return SimulateEvaluator(scenario, net)


def check_one_prepared_evaluator(tmp_path: Path, workers: int) -> None:
    """The pairs reuse the evaluator prepared for the singles (in this process: serial, or before forking)."""
    from gridsim.batch.run import as_scenario

    scenario = as_scenario(case24_state_yaml(tmp_path))
    names = ["1-2", "11-13", "11-14", "16-19", "12-23"]
    CountingEvaluator.built.clear()
    ranking = rank_assets(scenario, "line", pairs=True, top=3, workers=workers, evaluator=CountingEvaluator,
                          assets=names)
    assert CountingEvaluator.built == [os.getpid()]
    reference = rank_assets(scenario, "line", pairs=True, top=3, workers=1, evaluator="simulate", assets=names)
    pd.testing.assert_frame_equal(ranking.pairs.drop(columns="message"), reference.pairs.drop(columns="message"))
    pd.testing.assert_frame_equal(ranking.singles.drop(columns="message"),
                                  reference.singles.drop(columns="message"))


@pytest.mark.parametrize("workers", [1, 2])
def test_singles_and_pairs_share_one_prepared_evaluator(tmp_path, workers):
    """With 2 workers the pool forks, which it does only from a process without other threads: where this
    pytest process has some (Dask's tests leave its offload thread alive), the check runs in a fresh one."""
    import threading

    from gridsim.batch.executors import _mp_context

    if workers == 1 or _mp_context().get_start_method() == "fork":
        check_one_prepared_evaluator(tmp_path, workers)
        return
    if threading.active_count() == 1:
        pytest.skip("this platform cannot fork worker processes")
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import test_rank; "
            "from gridsim.batch.executors import _mp_context; "
            "assert _mp_context().get_start_method() == 'fork', 'a fresh process should fork'; "
            "test_rank.check_one_prepared_evaluator(Path(sys.argv[2]), 2)")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(tmp_path)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GRIDSIM_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-3000:]


def test_pairs_of_the_worst_singles(tmp_path):
    from gridsim.batch.run import as_scenario

    scenario = as_scenario(case24_state_yaml(tmp_path))
    ranking = rank_assets(scenario, "line", pairs=True, top=3, workers=1, assets=["1-2", "11-13", "11-14",
                                                                                  "16-19", "12-23"])
    worst = list(ranking.singles["asset"][:3])
    assert worst == ["11-14", "16-19", "11-13"]
    pairs = ranking.pairs
    assert len(pairs) == 3 and set(pairs["asset"]) == {"11-14 + 16-19", "11-14 + 11-13", "16-19 + 11-13"}
    from gridsim.scenario import Outage
    from gridsim.simulate import simulate

    top = pairs.iloc[0]
    a, b = top["asset"].split(" + ")
    both = scenario.model_copy(update={"outages": [*scenario.outages, Outage(line=a), Outage(line=b)]})
    assert top["unserved_mw"] == pytest.approx(simulate(both).unserved_mw, abs=TOL)
    assert (pairs["unserved_mw"].max() >= ranking.singles["unserved_mw"].max() - TOL)


def test_ac_ranking_goes_through_simulate_and_matches_brute_force(tmp_path):
    from gridsim.batch.run import as_scenario, choose_evaluator

    scenario = as_scenario(case24_state_yaml(tmp_path), solver="ac").model_copy(update={"response": "none"})
    assert scenario.solver == "ac" and choose_evaluator("auto", scenario) == "simulate"
    names = ["11-14", "16-19", "1-2"]
    ranking = rank_assets(scenario, "line", workers=1, assets=names)
    assert_ranked_like(ranking.singles, brute_force(scenario, "line", names))


def test_ac_optimal_ranking_through_fast_ac_matches_brute_force(tmp_path):
    """solver ac with the optimal response: run_cases picks FastACEvaluator (lightsim2grid), and the ranking
    equals one simulate() per asset (the AC differential tolerance, 1e-3 MW, is not needed here: these lines
    take the exact path or the LP, equal to 1e-6 MW)."""
    pytest.importorskip("lightsim2grid")
    from gridsim.batch.run import as_scenario, choose_evaluator

    scenario = as_scenario(case24_state_yaml(tmp_path), solver="ac")
    assert scenario.response == "optimal" and choose_evaluator("auto", scenario) == "fast-ac"
    names = ["11-14", "16-19", "1-2", "3-24", "14-16"]
    ranking = rank_assets(scenario, "line", workers=1, assets=names)
    assert not ranking.singles["message"].str.startswith("evaluated by simulate()").all()
    assert_ranked_like(ranking.singles, brute_force(scenario, "line", names))


def test_auto_evaluator_rule(tmp_path, monkeypatch):
    import importlib.util

    from gridsim.batch.run import as_scenario, choose_evaluator
    from gridsim.errors import GridsimError

    dc = as_scenario(case24_state_yaml(tmp_path))
    has_fast = importlib.util.find_spec("gridsim.batch.fast") is not None
    assert choose_evaluator("auto", dc) == ("fast" if has_fast else "simulate")
    assert choose_evaluator("auto", dc.model_copy(update={"response": "cascade"})) == "simulate"
    assert choose_evaluator("simulate", dc) == "simulate"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gridsim.batch.fast" else real(name, *a))
    assert choose_evaluator("auto", dc) == "simulate"
    from gridsim.batch.run import EVALUATORS

    with pytest.raises(GridsimError, match="fast evaluator .* is not available"):
        EVALUATORS["fast"]()


def test_asset_lists_cover_every_kind():
    from gridsim.batch.cli_rank import KINDS
    from gridsim.networks import build_network

    assert KINDS == RANK_KINDS
    net = build_network("dnipro-like")
    counts = {kind: len(asset_names(net, kind)) for kind in RANK_KINDS}
    assert counts["substation"] > 200 and counts["line"] > 300 and counts["plant"] >= 20
    assert counts["transformer"] > 50 and counts["unit"] > counts["plant"]


# -- the command line -------------------------------------------------------------------------------------
RANK_OUTPUTS = {"ranking.csv", "ranking.png", "ranking_map.png", "cases.csv", "cases.parquet", "results.sqlite"}


def test_rank_command_writes_outputs_and_prints_top10(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["rank", str(case24_state_yaml(tmp_path)), "--kind", "line", "-o", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "top 10 lines" in printed and "11-14" in printed and "194.0" in printed
    assert "(every case: cases.csv, cases.parquet, results.sqlite)" in " ".join(printed.split())
    assert RANK_OUTPUTS <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    ranking = pd.read_csv(out / "ranking.csv")
    assert list(ranking.columns[:4]) == ["rank", "asset", "kind", "unserved_mw"]
    assert {"unserved_isolated_mw", "unserved_deficit_mw", "unserved_network_mw", "critical_unserved_mw",
            "islands", "status"} <= set(ranking.columns)
    assert ranking["asset"].iloc[0] == "11-14" and len(ranking) == 38
    assert len(pd.read_csv(out / "cases.csv")) == 38
    csv = pd.read_csv(out / "cases.csv").fillna({"message": ""})      # the CSV's floats are rounded
    pd.testing.assert_frame_equal(pd.read_parquet(out / "cases.parquet").reset_index(), csv, check_dtype=False,
                                  check_exact=False, atol=1e-6)


def test_rank_pairs_from_a_network_spec(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["rank", "dnipro-like", "--kind", "plant", "--solver", "dc", "--pairs", "--top", "3", "-o", str(out),
                 "--workers", "1", "-q"]) == 0
    assert capsys.readouterr().out == ""
    pairs = pd.read_csv(out / "ranking_pairs.csv")
    assert len(pairs) == 3 and pairs["asset"].str.contains(" + ", regex=False).all()


@pytest.mark.parametrize("args, message", [
    (["dnipro-like", "--kind", "substaton"], "unknown asset kind 'substaton': expected one of substation, "
                                             "plant, line, transformer, unit; did you mean 'substation'?"),
    (["dnipro-like", "--kind", "line", "-o", "/dev/null/x"], "output folder /dev/null/x is inside /dev/null"),
    (["no-such-grid", "--kind", "line"], "unknown network 'no-such-grid'"),
    (["dnipro-like", "--kind", "line", "--workers", "0"], "--workers must be at least 1"),
    (["dnipro-like", "--kind", "line", "--scheduler", "dask:remote"], "unknown Dask scheduler"),
    (["dnipro-like", "--kind", "line", "--pairs", "--top", "1"], "--top must be at least 2"),
    (["dnipro-like", "--kind", "line", "--evaluator", "quick"], "unknown evaluator 'quick'"),
])
def test_rank_bad_input_exits_2(args, message, tmp_path, capsys):
    assert main(["rank", "-o", str(tmp_path / "o"), *args]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err


def test_resume_into_another_run_is_refused(tmp_path, capsys):
    out = str(tmp_path / "out")
    scenario = str(case24_state_yaml(tmp_path))
    assert main(["rank", scenario, "--kind", "transformer", "-o", out, "--workers", "1", "-q"]) == 0
    assert main(["rank", scenario, "--kind", "line", "-o", out, "--workers", "1", "--resume", "-q"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "different run" in err and "rank transformer" in err and "without --resume" in err


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_rank_process_resumes_to_the_same_ranking(tmp_path):
    scenario = str(case24_state_yaml(tmp_path))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gridsim", "rank", scenario, "--kind", "line", "-o", str(out), "--workers", "2",
           "--evaluator", "simulate", "-q"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _rows(out / "results.sqlite") < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)      # the pool's workers too
        except ProcessLookupError:
            pass
    killed_at = _rows(out / "results.sqlite")
    assert proc.returncode == -signal.SIGKILL and 4 <= killed_at < 38, killed_at
    assert not (out / "ranking.csv").exists()
    with sqlite3.connect(out / "results.sqlite") as conn:
        before = dict(conn.execute("SELECT case_id, written_at FROM results"))

    assert main(["rank", scenario, "--kind", "line", "-o", str(out), "--workers", "1", "--resume", "-q"]) == 0
    with sqlite3.connect(out / "results.sqlite") as conn:
        rows = conn.execute("SELECT case_id, written_at FROM results").fetchall()
    assert len(rows) == 38 == len({r[0] for r in rows})
    assert all(dict(rows)[k] == v for k, v in before.items())     # finished cases were not run again

    clean = tmp_path / "clean"
    assert main(["rank", scenario, "--kind", "line", "-o", str(clean), "--workers", "1", "-q"]) == 0
    cols = ["rank", "asset", "unserved_mw", "critical_unserved_mw", "islands", "overloaded_branches", "status"]
    resumed, fresh = pd.read_csv(out / "ranking.csv")[cols], pd.read_csv(clean / "ranking.csv")[cols]
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=False, atol=1e-6)


# -- figures ------------------------------------------------------------------------------------------------
def test_ranking_figures(tmp_path):
    from matplotlib.figure import Figure as Fig

    from gridsim.batch.run import as_scenario
    from gridsim.report.ranking import plot_criticality_map, plot_ranking

    scenario = as_scenario(case24_state_yaml(tmp_path))
    r = rank_assets(scenario, "line", workers=1, assets=["1-2", "11-13", "11-14", "16-19", "12-23"])
    fig = plot_ranking(r.singles, top=4)
    assert isinstance(fig, Figure)
    gids = {p.get_gid() for p in fig.axes[0].patches}
    assert {"cause-isolated", "cause-deficit", "cause-network"} <= gids
    ax = Fig().add_subplot()
    assert plot_ranking(r.singles, ax=ax) is ax.figure
    fmap = plot_criticality_map(r.base, r.singles, "line")
    found = {c.get_gid() for c in fmap.axes[0].collections}
    assert {"branches-base", "assets-critical", "assets-harmless"} <= found
    labels = [t.get_text() for t in fmap.axes[0].texts if t.get_gid() == "asset-label"]
    assert labels[0] == "1. 11-14" and len(labels) == 4        # the harmless 1-2 is not labelled

    subs = rank_assets(as_scenario("dnipro-like", solver="dc"), "substation", workers=1,
                       assets=["Velykohrad", "Bilany", "Berezhna NPP"])
    smap = plot_criticality_map(subs.base, subs.singles, "substation")
    critical = [c for c in smap.axes[0].collections if c.get_gid() == "assets-critical"]
    assert len(critical) == 1 and len(critical[0].get_offsets()) == 2     # Berezhna NPP costs nothing


@pytest.mark.parametrize("kind", ["transformer", "unit", "plant"])
def test_criticality_map_places_every_kind(kind):
    from gridsim.networks import build_network
    from gridsim.report.ranking import plot_criticality_map
    from gridsim.scenario import Scenario
    from gridsim.simulate import simulate

    base = simulate(Scenario(name="base", network="dnipro-like", solver="dc"))
    names = asset_names(build_network("dnipro-like"), kind)[:6]
    ranking = pd.DataFrame({"rank": range(1, 7), "asset": names, "kind": kind,
                            "unserved_mw": [50.0, 40.0, 30.0, 0.0, 0.0, float("nan")]})
    fig = plot_criticality_map(base, ranking, kind)
    critical = [c for c in fig.axes[0].collections if c.get_gid() == "assets-critical"]
    assert len(critical) == 1 and len(critical[0].get_offsets()) == 3
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "asset-label"]
    assert labels == [f"1. {names[0]}", f"2. {names[1]}", f"3. {names[2]}"]


def test_docs_describe_rank():
    text = (ROOT / "docs" / "cli.md").read_text()
    assert "gridsim rank" in text and "--resume" in text and "ranking.csv" in text
    for kind in RANK_KINDS:
        assert kind in text

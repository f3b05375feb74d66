"""Worst-case k-asset search (gridsim.worst): a hand-solvable triangle, the MILP against brute-force
enumeration through the batch engine, the published RTS-24 optima, protection and the CLI."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridsim.batch.run import as_scenario, prepare_checked
from gridsim.cli import main
from gridsim.worst.search import Searcher, find_worst

DATA = Path(__file__).parent / "data"
RTS24 = DATA / "pglib" / "pglib_opf_case24_ieee_rts.m"
CASE14 = DATA / "pglib" / "pglib_opf_case14_ieee.m"
PUBLISHED = pd.read_csv(DATA / "validation" / "nk_rts24.csv")

#: bus 1 has the only generator (200 MW); bus 2 takes 50 MW, bus 3 80 MW; equal reactances.
#: Intact, 1-3 carries 2/3 * 80 + 1/3 * 50 = 70 MW (rating 75). Lose 1-2: 130 MW must cross 1-3 (75 MW) -> 55 MW
#: shed; lose 1-3: 1-2 (100 MW) -> 30 MW shed; lose 2-3: 1-3 would carry 80 MW > 75 -> 5 MW shed. Lose 1-2 and
#: 1-3: all 130 MW.
TRIANGLE = """function mpc = triangle
mpc.version = '2';
mpc.baseMVA = 100.0;
mpc.bus = [
	1	 3	 0.0	 0.0	 0.0	 0.0	 1	 1.0	 0.0	 230.0	 1	 1.1	 0.9;
	2	 1	 50.0	 0.0	 0.0	 0.0	 1	 1.0	 0.0	 230.0	 1	 1.1	 0.9;
	3	 1	 80.0	 0.0	 0.0	 0.0	 1	 1.0	 0.0	 230.0	 1	 1.1	 0.9;
];
mpc.gen = [
	1	 130.0	 0.0	 100.0	 -100.0	 1.0	 100.0	 1	 200.0	 0.0;
];
mpc.gencost = [
	2	 0.0	 0.0	 3	 0.0	 10.0	 0.0;
];
mpc.branch = [
	1	 2	 0.0	 0.1	 0.0	 100.0	 100.0	 100.0	 0.0	 0.0	 1	 -30.0	 30.0;
	1	 3	 0.0	 0.1	 0.0	 75.0	 75.0	 75.0	 0.0	 0.0	 1	 -30.0	 30.0;
	2	 3	 0.0	 0.1	 0.0	 100.0	 100.0	 100.0	 0.0	 0.0	 1	 -30.0	 30.0;
];
"""


@pytest.fixture
def triangle(tmp_path):
    path = tmp_path / "triangle.m"
    path.write_text(TRIANGLE)
    return path


def _dc_searcher(network, kind="line"):
    sc = as_scenario(str(network), "dc")
    return Searcher(sc, kind, prepare_checked(sc))


# -- hand-solvable ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_triangle_worst_line_by_hand(triangle, method):
    w = find_worst(triangle, "1..3", "line", method=method, solver="dc")
    got = {a.k: (round(a.shed_mw_dc, 6), a.assets) for a in w.attacks}
    assert got[1] == (55.0, ["1-2"])
    assert got[2][0] == 130.0 and sorted(got[2][1]) == ["1-2", "1-3"]
    assert got[3][0] == 130.0
    for a in w.attacks:
        assert a.shed_mw_resimulated == pytest.approx(a.shed_mw_dc, abs=1e-6)   # solver dc: the same model
    exact = [a for a in w.attacks if a.method == "exact"]
    for a in exact:
        assert a.bound_mw == pytest.approx(a.shed_mw_dc, abs=1e-3) and a.gap < 1e-4


def test_triangle_protected_line_cannot_be_hit(triangle):
    w = find_worst(triangle, 1, "line", method="exact", solver="dc", protect=["1-2"])
    assert w.attacks[0].assets == ["1-3"] and w.attacks[0].shed_mw_dc == pytest.approx(30.0)
    assert w.protected == ["1-2"]


def test_triangle_substation_and_plant(triangle):
    sub = find_worst(triangle, 1, "substation", method="exact", solver="dc")
    assert sub.attacks[0].assets == ["1"] and sub.attacks[0].shed_mw_dc == pytest.approx(130.0)
    mixed = find_worst(triangle, 1, "mixed", method="exact", solver="dc", protect=["substation: 1", "bus 1"])
    assert mixed.attacks[0].shed_mw_dc == pytest.approx(80.0)    # substation 3 (80 MW) beats line 1-2 (55)
    assert mixed.attacks[0].assets == ["substation: 3"]


def test_milp_value_is_the_operator_shed_of_its_attack(triangle):
    s = _dc_searcher(triangle)
    for k, mw in ((0, 0.0), (1, 55.0), (2, 130.0)):
        r = s.milp.solve_once(k, np.arange(len(s.assets)), 4.0)
        assert r.objective == pytest.approx(mw, abs=1e-6) and s.values(r.attack) == pytest.approx(mw, abs=1e-6)


def test_big_m_too_small_is_detected_and_widened(triangle):
    """Prices bounded too tightly under-value attacks: the search sees the greedy's attack evaluate above the
    MILP's bound, doubles M (0.3 -> 2.4 reaches the optimum) or, after its doublings, says so; it never reports
    less than the greedy's attack."""
    tight = find_worst(triangle, 1, "line", method="exact", solver="dc", big_m=0.01, resimulate=False)
    assert tight.attacks[0].status == "big-M limit" and tight.attacks[0].shed_mw_dc == pytest.approx(55.0)
    assert tight.attacks[0].bound_mw != tight.attacks[0].bound_mw          # no bound claimed
    widened = find_worst(triangle, 1, "line", method="exact", solver="dc", big_m=0.3, resimulate=False)
    assert widened.attacks[0].status == "optimal" and widened.attacks[0].bound_mw == pytest.approx(55.0)


# -- exact against brute force -----------------------------------------------------------------------------------
def _brute(s: Searcher, k: int) -> float:
    """The worst shed over every attack of at most k assets, each through FastDCEvaluator."""
    n = len(s.assets)
    return max(s.values(c) for size in range(1, k + 1) for c in combinations(range(n), size))


@pytest.mark.parametrize("network,ks", [(CASE14, (2, 3)), (RTS24, (2,))])
def test_milp_equals_brute_force(network, ks):
    s = _dc_searcher(network)
    everything = np.arange(len(s.assets))
    for k in ks:
        r = s.milp.solve_once(k, everything, 4.0)
        brute = _brute(s, k)
        assert r.status == "Optimal"
        assert r.objective == pytest.approx(brute, abs=1e-3)       # never above the exact optimum, never below
        assert s.values(r.attack) == pytest.approx(brute, abs=1e-3)
        assert r.bound >= brute - 1e-3
        if network == RTS24 and k in set(PUBLISHED["k"]):
            assert brute == pytest.approx(_published(k), abs=1e-3)    # the published optimum (194 MW)


@pytest.mark.slow
def test_milp_equals_brute_force_triples_rts24():
    s = _dc_searcher(RTS24)
    r = s.milp.solve_once(3, np.arange(len(s.assets)), 4.0)
    assert r.objective == pytest.approx(_brute(s, 3), abs=1e-3)


def test_heuristic_never_above_exact_and_resimulation_matches_dc():
    w = find_worst(RTS24, 2, "line", method="heuristic", solver="dc")
    a = w.attacks[0]
    assert a.shed_mw_dc <= 194.0 + 1e-6
    assert a.shed_mw_resimulated == pytest.approx(a.shed_mw_dc, abs=1e-6)
    # the local-supply bound: demand 2,850 MW, of which local units can carry 1,243 MW with no flow at all
    assert a.bound_mw == pytest.approx(PUBLISHED_TOTAL - 1243.0, abs=1e-6)


PUBLISHED_TOTAL = 2850.0     # RTS-24 demand (MW)


# -- the local-supply bound ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("network,kind,ks", [
    (CASE14, "line", (1, 2)), (CASE14, "plant", (1, 2, 3)), (CASE14, "substation", (1, 2)),
    (CASE14, "mixed", (1, 2)), (RTS24, "plant", (1, 2)), (RTS24, "substation", (1, 2)), (RTS24, "line", (2,)),
])
def test_local_supply_bound_is_above_brute_force(network, kind, ks):
    """The bound holds for every attack: never below the brute-force worst case; below all demand where local
    units carry load (the test would catch a bound that is only the total)."""
    from gridsim.worst.bounds import local_supply_bound

    s = _dc_searcher(network, kind)
    allowed = list(range(len(s.assets)))
    for k in ks:
        bound = local_supply_bound(s.pm, s.assets, allowed, k)
        assert bound >= _brute(s, k) - 1e-6
    if kind == "line":
        assert local_supply_bound(s.pm, s.assets, allowed, ks[0]) < s.total_mw - 1.0


def test_local_supply_bound_by_hand(triangle):
    """Triangle: the only unit (bus 1, 200 MW) serves no load at its own bus, so the bound is all 130 MW; with
    priority shedding (MW of a weighted optimum) there is no bound but the total either."""
    from gridsim.worst.bounds import local_supply_bound

    s = _dc_searcher(triangle)
    assert local_supply_bound(s.pm, s.assets, [0, 1, 2], 1) == pytest.approx(130.0)
    r = _dc_searcher(RTS24, "plant")
    everything = list(range(len(r.assets)))
    assert local_supply_bound(r.pm, r.assets, everything, 1, "priority") == pytest.approx(PUBLISHED_TOTAL)
    k1 = local_supply_bound(r.pm, r.assets, everything, 1)
    k2 = local_supply_bound(r.pm, r.assets, everything, 2)
    assert PUBLISHED_TOTAL - 1243.0 < k1 < k2 <= PUBLISHED_TOTAL     # each hit plant can take local supply


# -- published optima ----------------------------------------------------------------------------------------------
def _published(k: int) -> float:
    return float(PUBLISHED.loc[PUBLISHED["k"] == k, "published_total_shed_mw"].iloc[0])


#: RTS-24 optima of the MILP for k = 2..10 (k = 2 and 5 published; 2 and 3 equal brute force; the same with
#: M = 2 and M = 16)
RTS24_OPTIMA = {2: 194.0, 3: 309.0, 4: 516.0, 5: 842.0, 6: 1017.0, 7: 1017.0, 8: 1198.0, 9: 1373.0, 10: 1373.0}


@pytest.mark.slow
@pytest.mark.parametrize("k", range(2, 11))
def test_rts24_sweep(k):
    """Every k from 2 to 10 within the issue's 60 s per k: the search reports >= 99 % of the optimum (the
    published one where there is one), never above it, its bound never below it, and the heuristic never beats
    it. Stopped at the time limit on a loaded machine, the incumbent must still reach 99 %."""
    s = _dc_searcher(RTS24)
    exact = s.worst(k, set(), "exact", time_limit_s=60.0)
    heur = s.worst(k, set(), "heuristic")
    best = _published(k) if k in set(PUBLISHED["k"]) else RTS24_OPTIMA[k]
    assert best == RTS24_OPTIMA[k]
    assert best * 0.99 <= exact.shed_mw_dc <= best + 1e-3
    assert exact.bound_mw >= best - 1e-3
    assert heur.shed_mw_dc <= best + 1e-3


# -- protection and time limits -----------------------------------------------------------------------------------
def test_protect_budget_triangle_by_hand(triangle):
    """k = 1, one asset protected: protecting 1-2 leaves 1-3 (30 MW) as the worst; protecting 1-3 or 2-3 leaves
    1-2 (55 MW)."""
    from gridsim.worst.protect import protect_budget

    plan = protect_budget(triangle, 1, "line", 1, method="exact", solver="dc")
    assert plan.protected == ["1-2"]
    assert plan.before.attacks[0].shed_mw_dc == pytest.approx(55.0)
    assert plan.after.attacks[0].shed_mw_dc == pytest.approx(30.0) and plan.after.attacks[0].assets == ["1-3"]
    assert plan.lower_bound_mw == pytest.approx(30.0) and plan.status == "optimal"


def test_scenario_protected_list(triangle, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: guarded\nnetwork: {triangle}\nsolver: dc\nprotected: ['1-2', '1-3']\n")
    w = find_worst(path, 1, "line", method="exact")
    assert w.protected == ["1-2", "1-3"]
    assert w.attacks[0].assets == ["2-3"] and w.attacks[0].shed_mw_dc == pytest.approx(5.0)


def test_time_limit_returns_best_attack_with_bound():
    s = _dc_searcher(RTS24)
    att = s.worst(5, set(), "exact", time_limit_s=2.0)
    assert att.shed_mw_dc <= _published(5) + 1e-3
    assert att.bound_mw >= _published(5) - 1e-3
    assert att.gap == pytest.approx((att.bound_mw - att.shed_mw_dc) / att.shed_mw_dc)
    assert att.time_s < 30.0


# -- CLI -------------------------------------------------------------------------------------------------------------
def test_cli_writes_outputs(triangle, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["worst", str(triangle), "--k", "1..2", "--solver", "dc", "-o", str(out)]) == 0
    table = pd.read_csv(out / "worst.csv")
    assert list(table.columns[:7]) == ["k", "assets", "shed_mw_dc", "shed_mw_resimulated", "gap", "bound_mw",
                                       "time_s"]
    assert table["shed_mw_dc"].tolist() == pytest.approx([55.0, 130.0])
    assert (out / "worst_curve.png").stat().st_size > 10_000 and (out / "worst_map.png").stat().st_size > 10_000
    assert "1-2" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--k", "0"], "out of range"), (["--k", "9"], "out of range"), (["--k", "two"], "--k must be"),
    (["--kind", "lines"], "did you mean 'line'"), (["--protect", "1-22"], "did you mean"),
    (["--protect-budget", "0"], "at least 1"), (["--time-limit", "-1"], "positive"),
])
def test_cli_bad_input_exit_2(triangle, tmp_path, capsys, args, message):
    argv = ["worst", str(triangle), "-o", str(tmp_path / "o"), *args]
    if "--k" not in args:
        argv += ["--k", "1"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_cli_kinds_match_engine():
    from gridsim.cli_worst import KINDS
    from gridsim.worst.assets import WORST_KINDS

    assert KINDS == tuple(WORST_KINDS)


def test_docs_mention_the_command_and_every_option():
    from gridsim.cli import build_parser

    root = Path(__file__).parent.parent
    assert "gridsim worst" in (root / "docs" / "cli.md").read_text()
    text = (root / "docs" / "worst.md").read_text()
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["worst"]
    for action in sub._actions:
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                assert f"`{opt}" in text, opt
    assert "gridsim worst" in (root / "README.md").read_text()


# -- public API ------------------------------------------------------------------------------------------------------
def test_public_names_are_lazy_and_resolve(triangle):
    """``gridsim.find_worst`` and ``gridsim.protect_budget`` are public, listed in ``__all__`` and ``dir``, resolve
    to the engine's functions, and ``import gridsim`` alone does not import the search."""
    import subprocess
    import sys

    import gridsim
    from gridsim.worst.protect import protect_budget

    for name in ("find_worst", "protect_budget"):
        assert name in gridsim.__all__ and name in dir(gridsim)
    assert gridsim.find_worst is find_worst and gridsim.protect_budget is protect_budget
    w = gridsim.find_worst(triangle, 1, "line", method="exact", solver="dc", resimulate=False)
    assert w.attacks[0].shed_mw_dc == pytest.approx(55.0)
    code = "import sys, gridsim; print(any(m.startswith('gridsim.worst.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

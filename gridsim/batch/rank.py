"""Critical-asset ranking: the loss of every asset of one kind on top of a scenario's state (and, with
``pairs``, of every pair among the worst singles), ranked by unserved MW; ties by critical MW lost, then by
overloaded branches, then by name.

``rank_assets`` returns a ``Ranking`` (tables, no files); ``write_ranking`` writes ranking.csv, the bar chart
and the criticality map atomically. The cases run through ``run_cases`` (any evaluator, any executor, the
result store and ``--resume``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.batch.cases import CASE_COLUMNS, CaseSpec
from gridsim.batch.run import Prepared, as_scenario, prepare_checked, run_cases
from gridsim.errors import GridsimError, did_you_mean
from gridsim.results import CAUSES

#: asset kinds a ranking can take out, as in a scenario's outage list
RANK_KINDS: tuple[str, ...] = ("substation", "plant", "line", "transformer", "unit")
#: ranking.csv columns after rank, asset, kind
RANK_COLUMNS: tuple[str, ...] = ("unserved_mw", *(f"unserved_{c}_mw" for c in CAUSES), "critical_unserved_mw",
                                 "islands", "overloaded_branches", "status", "message")
#: unserved MW closer than this count as equal when ranking (different evaluators agree to 1e-6 MW)
TIE_MW = 1e-6
PAIR = " + "

#: progress(phase, done, total) with phase "singles" or "pairs"
RankProgress = Callable[[str, int, int], None]


def asset_names(net, kind: str) -> list[str]:
    """Every asset of ``kind`` in the network, by the names a scenario uses for it (the names
    ``gridsim.networks.naming`` resolves and suggests)."""
    from gridsim.networks.naming import _candidates

    check_kind(kind)
    return [str(n) for n in dict.fromkeys(_candidates(net, kind)) if str(n).strip()]


def check_kind(kind: str) -> str:
    if kind not in RANK_KINDS:
        raise GridsimError(f"unknown asset kind '{kind}': expected one of {', '.join(RANK_KINDS)}"
                           f"{did_you_mean(kind, RANK_KINDS)}")
    return kind


def outage_items(net, kind: str, names: list[str]) -> dict[str, dict]:
    """The outage item that takes out each named asset: ``{kind: name}``, except on MATPOWER networks for the
    first of parallel circuits (named ``"15-21"`` beside ``"15-21#2"``), which ``line: "15-21"`` cannot tell
    apart: there ``{branch: <row>}``."""
    items = {n: {kind: n} for n in names}
    if kind != "line":
        return items
    parallel = {n.split("#")[0].strip() for n in names if "#" in n}
    for table in ("line", "trafo"):
        df = net[table]
        if "mp_branch_row" not in df.columns:
            continue
        rows = df[df["name"].astype(str).isin(parallel)]
        for name, row in zip(rows["name"].astype(str), rows["mp_branch_row"]):
            items[name] = {"branch": int(row)}
    return items


def single_cases(kind: str, items: dict[str, dict]) -> dict[str, CaseSpec]:
    """asset name -> its case."""
    return {n: CaseSpec(f"{kind}: {n}", (item,)) for n, item in items.items()}


def pair_cases(kind: str, items: dict[str, dict], names: list[str]) -> dict[str, CaseSpec]:
    """"A + B" -> the case of losing both, for every pair among ``names``."""
    return {f"{a}{PAIR}{b}": CaseSpec(f"{kind}: {a}{PAIR}{kind}: {b}", (items[a], items[b]))
            for a, b in combinations(names, 2)}


def rank_table(results: pd.DataFrame, kind: str, assets: dict[str, str]) -> pd.DataFrame:
    """ranking.csv from run_cases rows (``assets``: case_id -> asset label): one row per case, the most
    unserved MW first. Failed cases (no numbers) come last."""
    t = pd.DataFrame({"asset": [assets[i] for i in results.index], "kind": kind}, index=results.index)
    for c in CASE_COLUMNS:
        t[c] = results[c].to_numpy()
    t = t.rename(columns={"n_islands": "islands", "n_overloaded": "overloaded_branches"})
    key = pd.DataFrame({
        "u": _rounded(t["unserved_mw"]), "c": _rounded(t["critical_unserved_mw"]),
        "o": t["overloaded_branches"].fillna(-1), "a": t["asset"]}, index=t.index)
    order = key.sort_values(["u", "c", "o", "a"], ascending=[False, False, False, True], kind="mergesort").index
    t = t.loc[order].reset_index(drop=True)
    t.insert(0, "rank", np.arange(1, len(t) + 1))
    for c in ("islands", "overloaded_branches"):
        t[c] = t[c].astype("Int64")
    return t[["rank", "asset", "kind", *RANK_COLUMNS]]


def _rounded(s: pd.Series) -> pd.Series:
    """Sort key: MW rounded to TIE_MW, failed (NaN) below everything."""
    return (s.astype(float) / TIE_MW).round().fillna(-np.inf)


@dataclass
class Ranking:
    """The outcome of a ranking: ``singles`` (and ``pairs``) in ranking.csv form, the scenario's own result
    (``base``: the state every case starts from, used for the map) and what was ranked."""

    kind: str
    scenario: object
    base: object
    singles: pd.DataFrame
    pairs: pd.DataFrame | None = None


def rank_assets(network_or_scenario, kind: str, *, pairs: bool = False, top: int = 10, solver: str | None = None,
                evaluator: str = "auto", workers: int | None = None, scheduler: str | None = None,
                out_dir: str | Path | None = None, resume: bool = False, progress: RankProgress | None = None,
                time_limit_s: float | None = None, assets: list[str] | None = None) -> Ranking:
    """Rank every asset of ``kind`` by the unserved MW its loss causes on top of the scenario's state; with
    ``pairs``, also every pair among the ``top`` worst singles. ``out_dir`` keeps the result store there
    (``results.sqlite``, ``cases.csv``) so that ``resume=True`` continues a killed run. ``assets`` limits the
    ranking to these names (default: every asset of the kind in the network)."""
    from gridsim.simulate import simulate

    check_kind(kind)
    if pairs and top < 2:
        raise GridsimError(f"--top must be at least 2 to form pairs, got {top}")
    scenario = as_scenario(network_or_scenario, solver)
    net = prepare_checked(scenario)
    base = simulate(scenario, net=net)
    names = asset_names(net, kind)
    if assets is not None:
        names = _only(names, assets, kind)
    if not names:
        raise GridsimError(f"network '{scenario.network}' has no {kind}s to rank")
    common = dict(evaluator=evaluator, workers=workers, scheduler=scheduler, out_dir=out_dir,
                  time_limit_s=time_limit_s, label=f"rank {kind}", net=net, prepared=Prepared())

    def phase(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    items = outage_items(net, kind, names)
    singles = single_cases(kind, items)
    rows = run_cases(scenario, singles.values(), resume=resume, progress=phase("singles"), **common)
    ranking = Ranking(kind, scenario, base, rank_table(rows, kind, _labels(singles)))
    if pairs:
        worst = ranking.singles[ranking.singles["unserved_mw"].notna()]["asset"].head(top).tolist()
        doubles = pair_cases(kind, items, worst)
        rows = run_cases(scenario, doubles.values(), resume=True, progress=phase("pairs"), **common)
        ranking.pairs = rank_table(rows, kind, _labels(doubles))
    return ranking


def _labels(cases: dict[str, CaseSpec]) -> dict[str, str]:
    return {case.case_id: asset for asset, case in cases.items()}


def _only(names: list[str], wanted: list[str], kind: str) -> list[str]:
    known = set(names)
    for name in wanted:
        if name not in known:
            raise GridsimError(f"unknown {kind} '{name}'{did_you_mean(name, names)}")
    return list(dict.fromkeys(wanted))


def write_ranking(ranking: Ranking, out_dir: str | Path, top: int = 20) -> dict[str, Path]:
    """ranking.csv (ranking_pairs.csv), ranking.png (top assets by cause) and ranking_map.png, atomically."""
    from gridsim._atomic import atomic_write_bytes, atomic_write_text
    from gridsim.report.ranking import plot_criticality_map, plot_ranking, png_bytes

    out = Path(out_dir)
    written = {"ranking.csv": atomic_write_text(out / "ranking.csv",
                                                ranking.singles.to_csv(index=False, float_format="%.10g"))}
    if ranking.pairs is not None:
        written["ranking_pairs.csv"] = atomic_write_text(
            out / "ranking_pairs.csv", ranking.pairs.to_csv(index=False, float_format="%.10g"))
    title = f"{ranking.scenario.name}: the {ranking.kind}s whose loss leaves most demand unserved"
    written["ranking.png"] = atomic_write_bytes(out / "ranking.png",
                                                png_bytes(plot_ranking(ranking.singles, top=top, title=title)))
    written["ranking_map.png"] = atomic_write_bytes(
        out / "ranking_map.png", png_bytes(plot_criticality_map(ranking.base, ranking.singles, ranking.kind)))
    return written

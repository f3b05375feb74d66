"""The command line, in-process: every shipped scenario, every command, and bad input (exit code 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from gridsim import load_scenario, simulate
from gridsim.cli import main
from gridsim.metrics import check_invariants

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
OUTPUTS = {"summary.json", "loads.csv", "regions.csv", "islands.csv", "branches.csv", "buses.csv",
           "generators.csv", "outages.csv", "map.png", "regions.png", "report.html"}


def test_at_least_four_scenarios_ship():
    assert len(SCENARIOS) >= 4


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_runs_through_the_cli(path, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "unserved" in printed and "by region" in printed
    assert OUTPUTS <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    summary = json.loads((out / "summary.json").read_text())
    loads = pd.read_csv(out / "loads.csv")
    # the written tables keep the accounting identity too
    assert (loads["served_mw"] + loads["unserved_mw"] - loads["demand_mw"]).abs().max() < 1e-3
    assert loads["unserved_mw"].min() >= -1e-9
    assert summary["unserved_mw"] == pytest.approx(loads["unserved_mw"].sum(), abs=1e-3)
    assert summary["status"] in ("converged", "fallback-dc")
    html = (out / "report.html").read_text()
    assert summary["scenario"].split(",")[0] in html


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_invariants(path):
    check_invariants(simulate(load_scenario(path)))


def test_json_and_quiet_output(tmp_path, capsys):
    path = ROOT / "scenarios" / "single-line-cut.yaml"
    assert main(["run", str(path), "-o", str(tmp_path / "a"), "--json", "--no-report"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unserved_mw"] == 0.0
    assert not (tmp_path / "a" / "report.html").exists()
    assert main(["run", str(path), "-o", str(tmp_path / "b"), "-q", "--no-report"]) == 0
    assert capsys.readouterr().out == ""


def test_default_output_folder_is_reports_stem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(ROOT / "scenarios" / "single-line-cut.yaml"), "-q", "--no-report"]) == 0
    assert (tmp_path / "reports" / "single-line-cut" / "summary.json").exists()


def test_validate_schema_and_network(capsys):
    assert main(["validate", *map(str, SCENARIOS)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(SCENARIOS)
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "outages" in schema["properties"]
    assert main(["network", "dnipro-like", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert any(p["name"] == "Dnipro-like HPP" for p in info["plants"])
    assert len(info["regions"]) >= 10 and len(info["interconnectors"]) >= 2
    assert main(["network", "dnipro-like"]) == 0
    text = capsys.readouterr().out
    assert "Dnipro-like HPP" in text and "interconnectors" in text


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return str(path)


BAD = [
    ("name: x\noutages:\n  - plant: Dnipro HES\n", r"bad\.yaml:3: outages\[0\]\.plant: unknown plant "
                                                   r"'Dnipro HES'; did you mean 'Dnipro-like HPP'"),
    ("name: x\nsolver: acc\n", r"bad\.yaml:2: solver: .*did you mean 'ac'"),
    ("name: x\nload_level: forty\n", r"bad\.yaml:2: load_level"),
    ("name: x\noutages:\n  - plnat: Dnipro-like HPP\n", r"bad\.yaml:3: .*did you mean 'plant'"),
    ("name: x\nnetwork: dnipro-lik\n", r"unknown network 'dnipro-lik'; did you mean 'dnipro-like'"),
    ("name: x\nnetwork: missing.m\n", r"network file not found"),
    ("name: [unclosed\n", r"bad\.yaml:\d+: invalid YAML"),
    ("name: x\noutages:\n  - select: {kind: plant, fuel: hydro, region: Atlantis}\n",
     r"bad\.yaml:3: .*unknown region 'Atlantis'"),
    ("name: x\noutages:\n  - line: Nowhere - Elsewhere 330 kV\n", r"unknown line"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, text, message, command):
    args = [command, _write(tmp_path, text)] + (["-o", str(tmp_path / "o")] if command == "run" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    flat = " ".join(err.split())
    assert re.search(message, flat), flat
    assert "Traceback" not in err


def test_missing_scenario_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_docs_mention_every_command():
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in ("run", "validate", "schema", "network"):
        assert f"gridsim {command}" in text
    readme = (ROOT / "README.md").read_text()
    assert 'python -m pip install -e ".[test]" && python -m pytest' in readme
    assert "python -m pip install -e . && gridsim run scenarios/dnipro-hydro-strike.yaml" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install -e ".[test]" && python -m pytest' in ci


def test_unquoted_circuit_number_gets_explained(tmp_path, capsys):
    text = "name: x\noutages:\n  - line: Bystryna HPP - Dnipro-like HPP 330 kV #1\n"
    assert main(["validate", _write(tmp_path, text)]) == 2
    flat = " ".join(capsys.readouterr().err.split())
    assert "has 2 circuits" in flat and 'line: "Bystryna HPP - Dnipro-like HPP 330 kV #1"' in flat


def test_strict_exits_3_when_ac_falls_back(tmp_path, capsys):
    import pandapower as pp

    import grids

    pp.to_json(grids.collapsing(), str(tmp_path / "weak.json"))
    path = _write(tmp_path, "name: weak grid\nnetwork: weak.json\nresponse: none\n")
    assert main(["run", path, "-o", str(tmp_path / "o"), "-q", "--no-report"]) == 0
    assert main(["run", path, "-o", str(tmp_path / "o"), "-q", "--no-report", "--strict"]) == 3
    assert "fallback-dc" in capsys.readouterr().err

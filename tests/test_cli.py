"""The command line, in-process: every shipped scenario, every command, and bad input (exit code 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gridsim import load_scenario, simulate
from gridsim.cli import main
from gridsim.metrics import check_invariants

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
CASE24 = ROOT / "scenarios" / "networks" / "pglib_opf_case24_ieee_rts.m"
CASE14 = ROOT / "tests" / "data" / "pglib" / "pglib_opf_case14_ieee.m"
OUTPUTS = {"summary.json", "loads.csv", "regions.csv", "islands.csv", "branches.csv", "buses.csv",
           "generators.csv", "outages.csv", "map.png", "regions.png", "report.html"}


def test_at_least_four_scenarios_ship():
    assert len(SCENARIOS) >= 4


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_runs_through_the_cli(path, tmp_path, capsys):
    out = tmp_path / "out"
    if load_scenario(path).attack is not None:        # a Monte Carlo: a few draws, its own outputs (test_salvo.py)
        assert main(["run", str(path), "-o", str(out), "--draws", "8", "--workers", "1"]) == 0
        assert "unserved" in capsys.readouterr().out and (out / "draws.csv").exists()
        assert json.loads((out / "summary.json").read_text())["draws"] == 8
        return
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
    # every table a user adds up sums to summary.json, islands.csv too (destroyed buses: island -1)
    for table in ("loads.csv", "regions.csv", "islands.csv"):
        df = pd.read_csv(out / table)
        for col in ("demand_mw", "served_mw", "unserved_mw"):
            assert df[col].sum() == pytest.approx(summary[col], abs=1e-3), (table, col)
    assert summary["status"] in ("converged", "fallback-dc")
    if "timeline" in summary:                          # timelines: the time outputs, and ENS adds up
        assert {"timeline.csv", "timeline.png", "heatmap.png", "restoration.png"} <= {p.name for p in out.iterdir()}
        t = pd.read_csv(out / "timeline.csv")
        step = summary["timeline"]["step_h"]
        assert t["unserved_mw"].sum() * step == pytest.approx(summary["energy_not_served_mwh"], abs=1e-3)
        assert "energy not served" in printed
    html = (out / "report.html").read_text()
    assert summary["scenario"].split(",")[0] in html


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_invariants(path):
    scenario = load_scenario(path)
    if scenario.timeline is None:
        check_invariants(simulate(scenario))
        return
    from gridsim.timeline import simulate_timeline

    # the first 48 hours (the CLI test above runs the whole horizon)
    horizon = min(scenario.timeline.horizon_h, 48.0)
    scenario = scenario.model_copy(update={"timeline": scenario.timeline.model_copy(update={"horizon_h": horizon})})
    result = simulate_timeline(scenario)
    check_invariants(result)                      # the peak-hour snapshot
    t = result.timeline
    assert (t["served_mw"] + t["unserved_mw"] - t["demand_mw"]).abs().max() < 1e-6
    assert t["unserved_mw"].min() >= -1e-9
    step = scenario.timeline.step_h
    assert result.summary["energy_not_served_mwh"] == pytest.approx(t["unserved_mw"].sum() * step)


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
    ("name: x\noutages:\n  - plant: Zakhid Interconnector\n",
     r"bad\.yaml:3: .*'Zakhid Interconnector' is an interconnector, write 'interconnector: Zakhid Interconnector'"),
    ("name: x\noutages:\n  - line: Velykohrad\n", r"'Velykohrad' is a substation, write 'substation: Velykohrad'"),
    ("name: !!binary aGVsbG8=\n", r"bad\.yaml:1: name: unsupported YAML tag !!binary"),
    ("name: x\nload_level: !!str 0.5\n", r"bad\.yaml:2: load_level: unsupported YAML tag !!str"),
    ("Name: x\n", r"bad\.yaml:1: Name: unknown key 'Name'; keys are case-sensitive: did you mean 'name'\?"),
    (f"name: x\nnetwork: {CASE24}\noutages:\n  - branch: 39\n",
     r"bad\.yaml:4: outages\[0\]\.branch: unknown branch 39: expected a row number 1\.\.38$"),
    (f"name: x\nnetwork: {CASE24}\noutages:\n  - generator: 34\n", r"expected a row number 1\.\.33$"),
    ("name: x\nnetwork: /dev/zero.json\n", r"network file not found"),
    ("name: x\noutages:\n" + "  - plant: P\n" * 5001, r"bad\.yaml:2: outages: too many outage items: 5,001.*MAX_OUTAGES"),
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
    for command in ("run", "validate", "schema", "network", "rank", "restore"):
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


# ---------------------------------------------------------------------------- output folders, files, bounds

@pytest.fixture
def no_simulation(monkeypatch):
    """Fails the test if a simulation starts: bad input must be refused before."""
    import importlib

    def refuse(*args, **kwargs):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr(importlib.import_module("gridsim.simulate"), "simulate", refuse)


def _output_cases(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path / "file" / "x", "inside .*file, which is a file, not a folder"),
             (tmp_path / "file" / "a" / "b", "inside .*file, which is a file"),
             (tmp_path / "file", "output folder .*file is a file, not a folder")]
    if Path("/sys/kernel").is_dir():      # not writable, even for root
        cases += [(Path("/sys/kernel"), "cannot write in the output folder /sys/kernel: Permission denied"),
                  (Path("/sys/gridsim-out"), "cannot create the output folder /sys/gridsim-out: ")]
    return cases


def test_output_folder_problems_exit_2_before_any_simulation(tmp_path, capsys, no_simulation):
    import os

    cases = _output_cases(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:
        cases.append((locked / "out", "cannot create the output folder .*locked/out: Permission denied"))
    for outdir, message in cases:
        assert main(["run", str(ROOT / "scenarios" / "single-line-cut.yaml"), "-o", str(outdir)]) == 2, outdir
        flat = " ".join(capsys.readouterr().err.split())
        assert re.search(message, flat), flat
        assert str(outdir).replace(" ", "") in flat.replace(" ", "")


def test_special_and_oversized_scenario_files_exit_2_without_reading_them(tmp_path, capsys, no_simulation):
    import os
    import threading

    os.mkfifo(tmp_path / "pipe.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("name: x\ndescription: >\n" + "  words words words\n" * 20_000)
    cases = [(tmp_path / "pipe.yaml", "is a FIFO (named pipe), not a regular file"), (big, "MAX_SCENARIO_BYTES")]
    if Path("/dev/zero").exists():
        cases.append((Path("/dev/zero"), "/dev/zero: is a character device, not a regular file"))
    for path, message in cases:
        codes: list[int] = []
        worker = threading.Thread(target=lambda: codes.append(main(["validate", str(path)])), daemon=True)
        worker.start()
        worker.join(10)
        if worker.is_alive():
            if path.name == "pipe.yaml":
                with open(path, "w"):
                    pass
            pytest.fail(f"gridsim kept reading {path}")
        assert codes == [2]
        assert message in " ".join(capsys.readouterr().err.split())


def test_long_values_are_quoted_short(tmp_path, capsys):
    for text in (f"name: x\noutages:\n  - plant: {'A' * 200_000}\n", f"name: {'N' * 200_000}\n",
                 f"name: x\n{'k' * 200_000}: 1\n"):
        assert main(["validate", _write(tmp_path, text)]) == 2
        err = capsys.readouterr().err
        assert len(err) < 800 and "Traceback" not in err, err[:300]


@pytest.mark.parametrize("content, message", [
    ('{"hello": "world", "bus": [1, 2, 3]}', r"n\.json: expected a pandapower network saved with pandapower\.to_json"),
    ("[]", r"n\.json: expected a pandapower network .* found a JSON list"),
    ('{"_module": "os", "_class": "system", "_object": "echo hi"}', r"n\.json: expected a pandapower network"),
])
def test_json_that_is_not_a_pandapower_network_exits_2(tmp_path, capsys, content, message):
    (tmp_path / "n.json").write_text(content)
    assert main(["validate", _write(tmp_path, "name: x\nnetwork: n.json\n")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, " ".join(err.split())), err
    assert "internal error" not in err and "TypeError" not in err


def test_corrupt_matpower_file_exits_2_in_gridsims_words(tmp_path, capsys):
    (tmp_path / "c.m").write_text(CASE14.read_text().replace("mpc.baseMVA = 100.0;", ""))
    assert main(["validate", _write(tmp_path, "name: x\nnetwork: c.m\n")]) == 2
    flat = " ".join(capsys.readouterr().err.split())
    assert "c.m: no `mpc.baseMVA = <number>;` line; expected a MATPOWER case" in flat
    assert "CaseFrames" not in flat and "attribute" not in flat


def test_network_root_confines_network_files(tmp_path, capsys):
    (tmp_path / "nets").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "nets" / "case.m").write_text(CASE14.read_text())
    (tmp_path / "other" / "case.m").write_text(CASE14.read_text())
    (tmp_path / "nets" / "link.m").symlink_to(tmp_path / "other" / "case.m")
    inside = tmp_path / "in.yaml"
    inside.write_text("name: in\nnetwork: nets/case.m\nsolver: dc\nresponse: none\n")
    root = ["--network-root", str(tmp_path / "nets")]
    assert main(["validate", str(inside), *root]) == 0
    assert main(["run", str(inside), "-o", str(tmp_path / "o1"), "-q", "--no-report", *root]) == 0
    for network in ("other/case.m", "nets/../other/case.m", "nets/link.m", str(tmp_path / "other" / "case.m")):
        outside = tmp_path / "out.yaml"
        outside.write_text(f"name: out\nnetwork: {network}\n")
        for command in (["validate"], ["run", "-o", str(tmp_path / "o2")]):
            assert main([command[0], str(outside), *command[1:], *root]) == 2
            flat = " ".join(capsys.readouterr().err.split())
            assert "out.yaml:2: network: network file" in flat and "is outside the network root" in flat, flat
        assert main(["validate", str(outside)]) == 0            # without the option: a local tool's rules
    assert not (tmp_path / "o2").exists()
    assert main(["validate", str(inside), "--network-root", str(tmp_path / "missing")]) == 2
    assert "network root" in capsys.readouterr().err


def test_a_dc_run_prints_only_gridsims_words(tmp_path):
    """pandapower's "numba cannot be imported" lines (and any other library's chatter) stay off stderr."""
    import subprocess
    import sys

    scenario = tmp_path / "dc.yaml"
    scenario.write_text(f"name: dc\nnetwork: {CASE14}\nsolver: dc\noutages:\n  - branch: 1\n")
    done = subprocess.run([sys.executable, "-m", "gridsim", "run", str(scenario), "-o", str(tmp_path / "o"), "-q",
                           "--no-report"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""


def test_quiet_third_party_hides_and_counts_library_chatter(recwarn):
    import logging
    import warnings

    from gridsim._quiet import hidden_note, quiet_third_party

    with quiet_third_party() as hidden:
        logging.getLogger("pandapower.auxiliary").warning("a notice about nothing in the scenario")
        warnings.warn("a library's warning", FutureWarning)
    assert not recwarn.list
    assert (hidden.hidden, hidden.errors) == (1, 0) and hidden_note(hidden) is None
    with quiet_third_party() as hidden:
        logging.getLogger("scipy").error("boom")
    assert "1 error message(s)" in hidden_note(hidden)


def test_bad_input_fails_before_the_engine_loads(tmp_path):
    """A scenario that cannot be read is refused before pandapower is imported (seconds on a busy machine)."""
    import subprocess
    import sys

    code = ("import sys\nfrom gridsim.cli import main\n"
            f"codes = [main(['validate', {str(_write(tmp_path, 'Name: x'))!r}]), "
            f"main(['run', '/dev/zero', '-o', {str(tmp_path / 'o')!r}])]\n"
            "print(codes, 'pandapower' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[2, 2] False", done.stdout + done.stderr


def test_numba_notice_never_reaches_a_library_user(caplog):
    """pandapower logs 'numba cannot be imported' on every DC power flow; gridsim filters that one notice at
    its source, so Python API users and batch runs do not see it either."""
    import logging

    import gridsim.solvers.powerflow  # noqa: F401 -- installs the filter

    logging.getLogger("pandapower.auxiliary").warning("numba cannot be imported and numba functions are disabled.")
    logging.getLogger("pandapower.auxiliary").warning("another notice")
    messages = [r.getMessage() for r in caplog.records]
    assert not any("numba cannot be imported" in m for m in messages) and "another notice" in messages


# -- the command's exit (gridsim.cli.quick_exit) ----------------------------------------------------------------
def _exit_run(code: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)


def test_quick_exit_runs_atexit_handlers_flushes_and_keeps_the_code(tmp_path):
    code = ("import atexit, sys; from pathlib import Path; from gridsim.cli import quick_exit; "
            "atexit.register(lambda: Path(sys.argv[1], 'atexit').write_text('ran')); "
            "print('buffered, not flushed', end=''); sys.stderr.write('err too'); quick_exit(3)")
    done = _exit_run(code, tmp_path)
    assert done.returncode == 3
    assert done.stdout == "buffered, not flushed" and done.stderr == "err too"
    assert (tmp_path / "atexit").read_text() == "ran"


def test_quick_exit_waits_for_a_live_thread_as_a_normal_exit_does(tmp_path):
    code = ("import sys, threading, time; from pathlib import Path; from gridsim.cli import quick_exit; "
            "t = threading.Thread(target=lambda: (time.sleep(0.5), Path(sys.argv[1], 'thread').write_text('done'))); "
            "t.start(); quick_exit(0)")
    done = _exit_run(code, tmp_path)
    assert done.returncode == 0 and (tmp_path / "thread").read_text() == "done"


def test_the_command_exits_with_its_code_and_all_its_output(tmp_path):
    """``python -m gridsim`` goes through ``entry``: the schema arrives whole on a pipe, bad input exits 2."""
    schema = subprocess.run([sys.executable, "-m", "gridsim", "schema"], capture_output=True, text=True, timeout=120)
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"]
    bad = subprocess.run([sys.executable, "-m", "gridsim", "validate", str(tmp_path / "missing.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not found" in bad.stderr

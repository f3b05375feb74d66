"""Batch runs: the result store, the executors (serial, local pool, Dask), failed/timed-out/crashing cases,
resume, run_cases, and lazy imports for one-shot commands."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridsim.batch import CASE_COLUMNS, CaseSpec, ResultStore, SimulateEvaluator, StoreMismatch, run_cases
from gridsim.batch.cases import FAILED, TIMEOUT, failed_record
from gridsim.batch.executors import DIED, make_executor
from gridsim.errors import GridsimError

ROOT = Path(__file__).parent.parent
CASE24 = ROOT / "tests" / "data" / "pglib" / "pglib_opf_case24_ieee_rts.m"
#: case24 lines that, on top of branches 23 and 27 out, isolate load, leave an island short or force shedding
#: for ratings, or cost nothing
LINES = ("1-2", "2-4", "6-10", "7-8", "11-13", "11-14", "12-23", "16-19", "15-21#2", "1-3")


def line_cases(names=LINES) -> list[CaseSpec]:
    return [CaseSpec(f"line {n}", ({"line": n},)) for n in names]


def dc_scenario():
    from gridsim.batch.run import as_scenario

    from gridsim.scenario import Outage

    base = as_scenario(str(CASE24), solver="dc")
    return base.model_copy(update={"outages": [Outage(kind="branch", target=b) for b in (23, 27)]})


def numbers(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in CASE_COLUMNS if c not in ("time_s", "message")]]


# -- evaluators that misbehave (top level: worker processes import them) ----------------------------------
class FlakyEvaluator(SimulateEvaluator):
    """The reference, except that one case raises."""

    def evaluate(self, case):
        if case.case_id == "line 6-10":
            raise RuntimeError("boom on purpose")
        return super().evaluate(case)


class SleepyEvaluator(SimulateEvaluator):
    def evaluate(self, case):
        if case.case_id == "line 7-8":
            time.sleep(30)
        return super().evaluate(case)


class UnbuildableEvaluator(SimulateEvaluator):
    def __init__(self, scenario, net=None):
        raise NotImplementedError("this network is not supported")


class ExtrasEvaluator(SimulateEvaluator):
    """The reference, with per-case extras (a number and a nested dict)."""

    def evaluate(self, case):
        rec = super().evaluate(case)
        rec["extras"] = {"n_items": len(case.outages), "by_region": {"A": rec["unserved_mw"], "B": 0.5}}
        return rec


class CrashingEvaluator(SimulateEvaluator):
    """Kills its worker process on one case (never the test process itself)."""

    parent = os.getpid()

    def evaluate(self, case):
        if case.case_id == "line 2-4" and os.getpid() != self.parent:
            os._exit(17)
        return super().evaluate(case)


class WhereEvaluator(SimulateEvaluator):
    """The reference, with the process that built the evaluator and the one that ran the case in its extras."""

    def __init__(self, scenario, net=None):
        super().__init__(scenario, net)
        self.built_in = os.getpid()

    def evaluate(self, case):
        return dict(super().evaluate(case), extras={"built_in": self.built_in, "ran_in": os.getpid()})


class ThreadyEvaluator(WhereEvaluator):
    """Starts a thread while it is prepared (as a library might): the pool must then not fork."""

    stop = None
    threads: list = []

    def __init__(self, scenario, net=None):
        import threading

        super().__init__(scenario, net)
        if os.getpid() == TEST_PID and ThreadyEvaluator.stop is not None:
            self.threads.append(threading.Thread(target=ThreadyEvaluator.stop.wait, daemon=True))
            self.threads[-1].start()


TEST_PID = os.getpid()


# -- the store ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_record_extras_reach_the_store_and_the_frame(tmp_path, workers):
    from gridsim.batch.store import extras_of

    df = run_cases(dc_scenario(), line_cases(LINES[:4]), evaluator=ExtrasEvaluator, workers=workers,
                   out_dir=tmp_path)
    for _, row in df.iterrows():
        assert extras_of(row["extras"]) == {"n_items": 1, "by_region": {"A": row["unserved_mw"], "B": 0.5}}
    assert "extras" in pd.read_csv(tmp_path / "cases.csv").columns
    plain = run_cases(dc_scenario(), line_cases(LINES[:2]), evaluator="simulate", workers=1)
    assert list(plain["extras"]) == ["{}", "{}"] and extras_of(plain["extras"].iloc[0]) == {}


def test_a_store_from_before_the_extras_column_resumes(tmp_path):
    """An old results table (no ``extras``) gets the column on opening; its rows read as {} and count as done."""
    import sqlite3

    from gridsim.batch.store import STORE_VERSION, extras_of, outages_text

    path = tmp_path / "results.sqlite"
    cases = line_cases(LINES[:2])
    conn = sqlite3.connect(path)
    cols = ", ".join(f'"{c}"' for c in CASE_COLUMNS)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(f"CREATE TABLE results (case_id TEXT PRIMARY KEY, outages TEXT NOT NULL, {cols}, "
                 "written_at REAL NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('identity', ?)",
                 (json.dumps({"store_version": STORE_VERSION, "kind": "a"}),))
    rec = _record(3.0)
    conn.execute(f"INSERT INTO results VALUES ({', '.join('?' * (len(CASE_COLUMNS) + 3))})",
                 (cases[0].case_id, outages_text(cases[0]), *(rec[c] for c in CASE_COLUMNS), 0.0))
    conn.commit()
    conn.close()
    with ResultStore(path, {"kind": "a"}, resume=True) as store:
        assert store.finished(cases) == {"line 1-2"}
        store.write([(cases[1], dict(_record(4.0), extras={"x": 1.5}))])
        df = store.frame()
    assert extras_of(df.loc["line 1-2", "extras"]) == {} and df.loc["line 1-2", "unserved_mw"] == 3.0
    assert extras_of(df.loc["line 2-4", "extras"]) == {"x": 1.5}
    bad = tmp_path / "other.sqlite"
    conn = sqlite3.connect(bad)
    conn.execute("CREATE TABLE results (case_id TEXT PRIMARY KEY, outages TEXT NOT NULL, written_at REAL)")
    conn.close()
    with pytest.raises(StoreMismatch, match="not a gridsim result store.*unserved_mw"):
        ResultStore(bad, {"kind": "a"}, resume=True)


def _record(mw: float, status: str = "converged") -> dict:
    rec = {c: 0.0 for c in CASE_COLUMNS}
    rec.update(unserved_mw=mw, n_islands=1, n_overloaded=0, status=status, message="")
    return rec


def test_store_rows_resume_and_identity(tmp_path):
    cases = line_cases(LINES[:3])
    path = tmp_path / "results.sqlite"
    with ResultStore(path, {"kind": "a"}) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.write([(cases[0], _record(5.0)), (cases[1], failed_record(FAILED, "x"))])
    with ResultStore(path, {"kind": "a"}, resume=True) as store:
        assert store.finished(cases) == {"line 1-2", "line 2-4"}
        store.write([(cases[1], _record(7.0))])           # a case written again replaces its row
        df = store.frame([c.case_id for c in cases])
    assert list(df.index) == ["line 1-2", "line 2-4"]
    assert df.loc["line 2-4", "unserved_mw"] == 7.0 and df.loc["line 2-4", "status"] == "converged"
    assert json.loads(df.loc["line 1-2", "outages"]) == [{"line": "1-2"}]
    # the same id with other outages is not finished
    changed = CaseSpec("line 1-2", ({"line": "1-3"},))
    with ResultStore(path, {"kind": "a"}, resume=True) as store:
        assert store.finished([changed]) == set()
    with pytest.raises(StoreMismatch, match="different run.*kind: 'a' there, 'b' now"):
        ResultStore(path, {"kind": "b"}, resume=True)
    assert issubclass(StoreMismatch, GridsimError)
    with ResultStore(path, {"kind": "b"}) as store:       # without resume: start over
        assert store.count() == 0


def test_store_keeps_nan_and_exports_atomically(tmp_path):
    cases = line_cases(LINES[:2])
    with ResultStore(tmp_path / "results.sqlite", {"kind": "a"}) as store:
        store.write([(cases[0], failed_record(TIMEOUT, "slow")), (cases[1], _record(1.5))])
        store.export_csv(tmp_path / "cases.csv")
        df = store.frame()
        store.export_parquet(tmp_path / "cases.parquet")      # pyarrow: in the test extra
        parquet = pd.read_parquet(tmp_path / "cases.parquet")
        assert parquet.loc["line 2-4", "unserved_mw"] == 1.5 and math.isnan(parquet.loc["line 1-2", "unserved_mw"])
        assert list(parquet.columns) == list(df.columns)
    assert math.isnan(df.loc["line 1-2", "unserved_mw"]) and df.loc["line 1-2", "status"] == TIMEOUT
    csv = pd.read_csv(tmp_path / "cases.csv", index_col="case_id")
    assert csv.loc["line 2-4", "unserved_mw"] == 1.5 and csv.loc["line 1-2", "n_islands"] == -1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- executors give the same records -------------------------------------------------------------------------
def test_local_pool_equals_serial_equals_simulate(tmp_path):
    from gridsim.simulate import simulate

    scenario = dc_scenario()
    serial = run_cases(scenario, line_cases(), workers=1)
    pool = run_cases(scenario, line_cases(), workers=2, chunk_size=3, out_dir=tmp_path)
    assert list(pool.index) == [c.case_id for c in line_cases()]
    pd.testing.assert_frame_equal(numbers(serial), numbers(pool), check_exact=False, atol=1e-6)
    assert (pool["status"] != FAILED).all()
    for case in line_cases()[:4]:   # and the reference itself, one case at a time
        sc = scenario.model_copy(update={"outages": [*scenario.outages, *_outages(case)]})
        assert pool.loc[case.case_id, "unserved_mw"] == pytest.approx(simulate(sc).unserved_mw, abs=1e-6)
    assert {"results.sqlite", "cases.csv"} <= {p.name for p in tmp_path.iterdir()}


def test_forked_workers_inherit_the_evaluator_built_once_in_the_parent():
    from gridsim.batch.executors import _mp_context
    from gridsim.batch.store import extras_of

    fork = _mp_context().get_start_method() == "fork"
    df = run_cases(dc_scenario(), line_cases(LINES[:6]), evaluator=WhereEvaluator, workers=2, chunk_size=1)
    where = [extras_of(e) for e in df["extras"]]
    assert all(w["ran_in"] != os.getpid() for w in where)          # the cases ran in the pool's workers
    if fork:        # one evaluator, built here before the fork, not one per worker
        assert {w["built_in"] for w in where} == {os.getpid()}
    else:           # forkserver/spawn: each worker builds its own (nothing is pickled)
        assert all(w["built_in"] == w["ran_in"] for w in where)
    reference = run_cases(dc_scenario(), line_cases(LINES[:6]), evaluator="simulate", workers=1)
    pd.testing.assert_frame_equal(numbers(df), numbers(reference), check_exact=False, atol=1e-9)


def test_an_evaluator_that_starts_a_thread_is_not_forked():
    """Preparing the evaluator in this process started a thread: the pool falls back to forkserver (forking a
    process with threads can deadlock the child) and each worker builds its own evaluator."""
    import threading

    from gridsim.batch.executors import _mp_context
    from gridsim.batch.store import extras_of

    if _mp_context().get_start_method() != "fork":
        pytest.skip("this process already has threads: the pool does not fork anyway")
    ThreadyEvaluator.stop = threading.Event()
    try:
        df = run_cases(dc_scenario(), line_cases(LINES[:3]), evaluator=ThreadyEvaluator, workers=2, chunk_size=1)
    finally:
        ThreadyEvaluator.stop.set()
        ThreadyEvaluator.stop = None
        for thread in ThreadyEvaluator.threads:
            thread.join()
    where = [extras_of(e) for e in df["extras"]]
    assert all(w["built_in"] == w["ran_in"] != os.getpid() for w in where)
    assert (df["status"] == "converged").all()


def test_fast_ac_records_are_identical_with_one_and_two_workers():
    """The fast AC evaluator forked from the parent gives the same records, bit for bit, as in one process."""
    pytest.importorskip("lightsim2grid")
    pytest.importorskip("highspy")
    from gridsim.batch.rank import asset_names
    from gridsim.batch.run import as_scenario, prepare_checked

    scenario = as_scenario("dnipro-like", solver="ac")
    names = asset_names(prepare_checked(scenario), "line")[::6]
    cases = line_cases(names)
    one = run_cases(scenario, cases, evaluator="fast-ac", workers=1)
    two = run_cases(scenario, cases, evaluator="fast-ac", workers=2, chunk_size=5)
    assert len(one) == len(names) >= 50 and (one["status"] == "converged").all()
    assert (one["unserved_mw"] > 1e-3).any()
    pd.testing.assert_frame_equal(numbers(one), numbers(two), check_exact=True)


def _outages(case):
    from gridsim.batch.cases import outage_models

    return outage_models(case)


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_case_is_a_row_not_the_end(workers):
    df = run_cases(dc_scenario(), line_cases(), evaluator=FlakyEvaluator, workers=workers, chunk_size=4)
    bad = df.loc["line 6-10"]
    assert bad["status"] == FAILED and "RuntimeError: boom on purpose" in bad["message"]
    assert math.isnan(bad["unserved_mw"])
    good = df.drop(index="line 6-10")
    assert len(good) == len(LINES) - 1 and (good["status"] != FAILED).all()
    assert good["unserved_mw"].notna().all()


@pytest.mark.parametrize("workers", [1, 2])
def test_time_limit_makes_a_timeout_row(workers):
    names = ("1-2", "7-8", "3-24")
    t0 = time.perf_counter()
    df = run_cases(dc_scenario(), line_cases(names), evaluator=SleepyEvaluator, workers=workers, chunk_size=1,
                   time_limit_s=1.0)
    assert time.perf_counter() - t0 < 25
    assert df.loc["line 7-8", "status"] == TIMEOUT and "time limit" in df.loc["line 7-8", "message"]
    assert (df.drop(index="line 7-8")["status"] == "converged").all()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_evaluator_that_cannot_be_built_fails_every_case_alike(workers):
    df = run_cases(dc_scenario(), line_cases(LINES[:3]), evaluator=UnbuildableEvaluator, workers=workers)
    assert (df["status"] == FAILED).all() and len(df) == 3
    assert df["message"].str.contains("preparing the evaluator failed: NotImplementedError: this network").all()


def test_a_dead_worker_process_does_not_kill_the_run():
    df = run_cases(dc_scenario(), line_cases(LINES[:5]), evaluator=CrashingEvaluator, workers=2, chunk_size=2)
    assert df.loc["line 2-4", "status"] == FAILED and df.loc["line 2-4", "message"] == DIED
    rest = df.drop(index="line 2-4")
    assert len(rest) == 4 and (rest["status"] == "converged").all()
    reference = run_cases(dc_scenario(), line_cases(LINES[:5]), evaluator="simulate", workers=1)
    pd.testing.assert_series_equal(rest["unserved_mw"], reference["unserved_mw"].drop(index="line 2-4"))


@pytest.fixture
def dask_scheduler():
    """A LocalCluster on loopback: threads in this process (so the workers need not import gridsim again),
    talking TCP to the scheduler like a real cluster."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_dask_cluster_gives_the_same_results(dask_scheduler):
    assert dask_scheduler.startswith("tcp://127.0.0.1:")
    scenario = dc_scenario()
    serial = run_cases(scenario, line_cases(LINES[3:]), workers=1)
    dask = run_cases(scenario, line_cases(LINES[3:]), scheduler=dask_scheduler, chunk_size=2)
    pd.testing.assert_frame_equal(numbers(serial), numbers(dask), check_exact=False, atol=1e-6)
    flaky = run_cases(scenario, line_cases(LINES[:4]), evaluator=FlakyEvaluator, scheduler=dask_scheduler,
                      chunk_size=2)
    assert flaky.loc["line 6-10", "status"] == FAILED and (flaky["status"] == FAILED).sum() == 1


@pytest.mark.slow
def test_dask_local_starts_its_own_cluster():
    pytest.importorskip("distributed")
    serial = run_cases(dc_scenario(), line_cases(LINES[:4]), workers=1)
    dask = run_cases(dc_scenario(), line_cases(LINES[:4]), scheduler="dask:local", workers=2, chunk_size=1)
    pd.testing.assert_frame_equal(numbers(serial), numbers(dask), check_exact=False, atol=1e-6)


def test_resume_skips_finished_cases_and_reports_progress(tmp_path):
    scenario = dc_scenario()
    first = run_cases(scenario, line_cases(LINES[:4]), workers=1, out_dir=tmp_path)
    calls: list[tuple[int, int]] = []
    both = run_cases(scenario, line_cases(), evaluator=FlakyEvaluator, workers=1, out_dir=tmp_path, resume=True,
                     progress=lambda done, total: calls.append((done, total)))
    # the four finished cases were not evaluated again (FlakyEvaluator would have failed line 6-10)
    assert both.loc["line 6-10", "status"] != FAILED
    pd.testing.assert_frame_equal(numbers(both.loc[first.index]), numbers(first))
    assert calls[0] == (4, len(LINES)) and calls[-1] == (len(LINES), len(LINES))
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    other = scenario.model_copy(update={"load_level": 0.9})
    with pytest.raises(StoreMismatch, match="load_level"):
        run_cases(other, line_cases(), workers=1, out_dir=tmp_path, resume=True)


def test_resume_refuses_cases_computed_by_another_engine(tmp_path, monkeypatch):
    """Cases finished by another gridsim (code or libraries changed since) are not mixed with new ones."""
    import gridsim.networks.index as index

    scenario = dc_scenario()
    run_cases(scenario, line_cases(LINES[:4]), workers=1, out_dir=tmp_path)
    real = index.engine_key()
    assert real["sources"] and real["gridsim"] and "pandapower" in real["libraries"]
    monkeypatch.setattr(index, "engine_key", lambda: {**real, "sources": "0123456789abcdef"})
    with pytest.raises(StoreMismatch,
                       match="another version of gridsim.*sources: '[0-9a-f]+… there, '0123456789abcdef' now"):
        run_cases(scenario, line_cases(), workers=1, out_dir=tmp_path, resume=True)
    monkeypatch.undo()
    assert len(run_cases(scenario, line_cases(), workers=1, out_dir=tmp_path, resume=True)) == len(LINES)


def test_run_cases_bad_input():
    with pytest.raises(GridsimError, match="unknown network"):
        run_cases("no-such-grid", line_cases(), workers=1)
    with pytest.raises(GridsimError, match="appears twice"):
        run_cases(dc_scenario(), line_cases() + line_cases(LINES[:1]), workers=1)
    with pytest.raises(GridsimError, match="unknown scheduler 'dusk:local': expected .*; did you mean 'dask'"):
        make_executor("dusk:local", 2)
    with pytest.raises(GridsimError, match="at least 1"):
        make_executor(None, 0)
    with pytest.raises(GridsimError, match="unknown evaluator"):
        run_cases(dc_scenario(), line_cases(), evaluator="quick", workers=1)


def test_executor_registry():
    from gridsim.batch.executors import DaskExecutor, LocalExecutor, SerialExecutor, default_workers

    default = make_executor()
    assert isinstance(default, LocalExecutor) and default.workers == default_workers()
    assert isinstance(make_executor(None, 1), SerialExecutor)
    assert isinstance(make_executor("serial", 4), SerialExecutor)
    assert isinstance(make_executor("local", 3), LocalExecutor) and make_executor("local", 3).workers == 3
    local = make_executor("dask:local", 2)
    assert isinstance(local, DaskExecutor) and local.address is None and local.workers == 2
    assert make_executor("tcp://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"
    with pytest.raises(GridsimError, match="expected dask:local or tcp://HOST:PORT"):
        make_executor("dask:cloud")


def test_cli_progress_bar_shows_cases_rate_and_eta():
    from rich.console import Console

    from gridsim.batch.cli_rank import _Bar

    console = Console(record=True, width=100, force_terminal=False)
    with _Bar(console) as bar:
        bar("singles", 0, 40)
        time.sleep(0.05)
        bar("singles", 40, 40)
    text = console.export_text()
    assert "singles" in text and "40/40" in text and "cases/s" in text and "ETA" in text


def test_a_case_naming_an_unknown_asset_is_a_failed_row():
    cases = [*line_cases(LINES[:2]), CaseSpec("bogus", ({"line": "99-98"},))]
    df = run_cases(dc_scenario(), cases, workers=1)
    assert df.loc["bogus", "status"] == FAILED and "99" in df.loc["bogus", "message"]
    assert (df.drop(index="bogus")["status"] == "converged").all()


def test_auto_evaluator_agrees_with_simulate_on_case24_lines():
    scenario = dc_scenario()
    auto = run_cases(scenario, line_cases(), evaluator="auto", workers=1)
    ref = run_cases(scenario, line_cases(), evaluator="simulate", workers=1)
    assert np.allclose(auto["unserved_mw"], ref["unserved_mw"], atol=1e-6)
    assert (auto["unserved_mw"] > 1).sum() >= 3     # the case list is not trivial


# -- start-up -----------------------------------------------------------------------------------------------
def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_gridsim_and_schema_do_not_load_the_engine():
    heavy = {"pandapower", "matplotlib", "scipy", "pandas"}
    assert not heavy & _modules_after("import gridsim, gridsim.batch")
    loaded = _modules_after("import io, contextlib\nfrom gridsim.cli import main\n"
                            "with contextlib.redirect_stdout(io.StringIO()): main(['schema'])")
    assert not heavy & loaded


def test_lazy_public_api_keeps_simulate_a_function():
    import gridsim

    simulate = gridsim.simulate
    module = sys.modules["gridsim.simulate"]
    # what Python does when a submodule is first imported: bind it on the package; the function must stay
    setattr(gridsim, "simulate", module)
    assert gridsim.simulate is simulate and callable(gridsim.simulate)
    assert module.prepare_network and gridsim.Scenario.__name__ == "Scenario" and "simulate" in dir(gridsim)
    with pytest.raises(AttributeError, match="nonsense"):
        gridsim.nonsense  # noqa: B018
    assert set(gridsim.__all__) >= {"simulate", "load_scenario", "Result", "check_invariants", "write_report"}


def test_auto_falls_back_to_simulate_where_the_fast_engine_does_not_model_the_network():
    """The fast DC engine refuses 3-winding transformers; with evaluator auto the cases still run (through
    simulate), never as a column of failed rows."""
    from gridsim.batch import run_cases
    from gridsim.batch.cases import CaseSpec
    from gridsim.scenario import Scenario

    sc = Scenario.model_validate({"name": "t", "network": "pandapower:example_multivoltage", "solver": "dc"})
    from gridsim.networks import build_network

    net = build_network(sc.network)
    line = str(net.line["name"].iloc[0])
    df = run_cases(sc, [CaseSpec("a", ({"line": line},))], workers=1)
    assert list(df["status"]) != ["failed"], df["message"].tolist()
    assert df["unserved_mw"].notna().all()

"""The report's second figure process (gridsim.report.figworker): the same bytes as drawing here, each figure
drawn once, and every way it can fail leaves the report whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gridsim.report import figworker
from gridsim.report.figworker import ORDER, FigureWorker
from gridsim.report.html import FIGURES, draw_figure, write_report
from gridsim.scenario import load_scenario
from gridsim.timeline import simulate_timeline

ROOT = Path(__file__).resolve().parent.parent
MAIN_JOB = ROOT / "scenarios" / "dnipro-hydro-strike.yaml"


@pytest.fixture(scope="module")
def result():
    """The README's main job: a timeline with a river, so six figures."""
    return simulate_timeline(load_scenario(MAIN_JOB))


@pytest.fixture(scope="module")
def serial(result):
    return {name: draw_figure(name, result) for name in FIGURES}


@pytest.fixture
def worker():
    w = FigureWorker()
    deadline = time.monotonic() + 120
    while not w.ready():
        assert time.monotonic() < deadline, "the figure process did not start"
        time.sleep(0.05)
    yield w
    w.close()


def test_every_figure_is_known_to_the_worker():
    assert set(ORDER) == set(FIGURES)


def test_shared_figures_are_the_same_bytes_each_drawn_once(result, serial, worker):
    here: list[str] = []

    def draw_here(name):
        here.append(name)
        return draw_figure(name, result)

    pngs = worker.draw(FIGURES, result, draw_here)
    assert list(pngs) == list(FIGURES)
    assert pngs == serial                                   # byte for byte, None where there is no figure
    assert sum(p is not None for p in pngs.values()) == 6
    assert len(here) == len(set(here))                      # nothing drawn twice here
    assert set(here) < set(FIGURES)                         # the worker drew some: at least the first it took
    assert ORDER[0] not in here

    # a second report through the same worker: its own figures, not the first one's leftovers
    again = worker.draw(["regions.png", "map.png"], result, lambda name: draw_figure(name, result))
    assert again == {"regions.png": serial["regions.png"], "map.png": serial["map.png"]}


def test_write_report_with_the_worker_writes_the_same_files(result, worker, tmp_path):
    a = write_report(result, tmp_path / "here")
    b = write_report(result, tmp_path / "shared", worker=worker)
    assert list(a) == list(b)
    for name in a:
        if name.endswith(".png"):
            assert a[name].read_bytes() == b[name].read_bytes(), name
    html = [p.read_text() for p in (a["report.html"], b["report.html"])]
    assert html[0] == html[1]


def test_a_dead_worker_leaves_every_figure_to_this_process(result, serial, worker):
    worker._process.kill()
    worker._process.join(10)
    here: list[str] = []
    pngs = worker.draw(FIGURES, result, lambda name: here.append(name) or draw_figure(name, result))
    assert pngs == serial
    assert sorted(here) == sorted(FIGURES)


def test_a_worker_dying_while_it_draws_leaves_its_figures_here(result, serial, worker, monkeypatch):
    here: list[str] = []

    def slow_here(name):          # this process is slow: the worker has claimed the costly ones by then
        if not here:
            time.sleep(0.3)
            worker._process.kill()
        here.append(name)
        return draw_figure(name, result)

    pngs = worker.draw(FIGURES, result, slow_here)
    assert pngs == serial
    assert len(here) == len(set(here))


def test_a_worker_not_ready_yet_takes_nothing(result, serial):
    w = FigureWorker()
    try:
        w._ready = False
        w.ready = lambda: False         # as if it were still importing
        here: list[str] = []
        pngs = w.draw(FIGURES, result, lambda name: here.append(name) or draw_figure(name, result))
        assert pngs == serial and here == list(FIGURES)
    finally:
        w.close()


def test_an_error_in_a_figure_is_raised_here_as_without_the_worker(result, worker):
    broken = type(result).__new__(type(result))
    broken.__dict__.update(result.__dict__)
    broken.hydro = broken.hydro.drop(columns=["storage_hm3"])     # the river figure needs it
    with pytest.raises(KeyError) as plain:
        draw_figure("river.png", broken)
    drawn_here: list[str] = []
    with pytest.raises(KeyError) as shared:      # the worker takes the river first, fails, and it is drawn here
        worker.draw(["river.png", "restoration.png"], broken,
                    lambda name: drawn_here.append(name) or draw_figure(name, broken))
    assert str(shared.value) == str(plain.value)
    assert drawn_here == ["restoration.png", "river.png"]
    # the worker is still of use after that
    assert worker.draw(["map.png"], result, lambda name: draw_figure(name, result)) == {
        "map.png": draw_figure("map.png", result)}


def test_close_ends_the_process_at_once():
    w = FigureWorker()
    deadline = time.monotonic() + 120
    while not w.ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 1.0
    assert not w._process.is_alive() and w._process.exitcode == 0


def test_wanted_only_with_two_cores_and_not_turned_off(monkeypatch):
    monkeypatch.delenv("GRIDSIM_FIGURE_PROCESS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert figworker.wanted()
    monkeypatch.setattr(os, "getloadavg", lambda: (2.1, 0.5, 0.5))     # both cores busy already
    assert not figworker.wanted()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not figworker.wanted()
    assert FigureWorker.start() is None
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    for off in ("0", "off", "no", "false"):
        monkeypatch.setenv("GRIDSIM_FIGURE_PROCESS", off)
        assert not figworker.wanted()
        assert FigureWorker.start() is None


def test_the_command_writes_the_same_report_with_and_without_it(tmp_path):
    """``gridsim run`` as a user runs it (a fresh process, the console entry): the files are the same with the
    figure process as with it turned off."""
    outs = {}
    for label, flag in (("with", "1"), ("without", "0")):
        env = {**os.environ, "GRIDSIM_FIGURE_PROCESS": flag}
        outs[label] = tmp_path / label
        done = subprocess.run([sys.executable, "-m", "gridsim", "run", str(MAIN_JOB), "-q", "-o", str(outs[label])],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    pngs = sorted(p.name for p in outs["with"].glob("*.png"))
    assert pngs == sorted(p.name for p in outs["without"].glob("*.png")) and len(pngs) == 6
    for name in pngs:
        assert (outs["with"] / name).read_bytes() == (outs["without"] / name).read_bytes(), name


def test_the_command_uses_the_worker_for_a_timeline_and_stops_it(tmp_path, monkeypatch):
    from gridsim.cli import main

    started: list[FigureWorker] = []
    drawn: list[str] = []

    class Spy(FigureWorker):
        def __init__(self):
            super().__init__()
            started.append(self)

        def draw(self, names, result, draw_here, meanwhile=lambda: None):
            while not self.ready():          # wait here, so that the test sees the worker draw
                time.sleep(0.05)
            return super().draw(names, result, lambda name: drawn.append(name) or draw_here(name), meanwhile)

    monkeypatch.setattr(figworker, "FigureWorker", Spy)
    monkeypatch.setattr(figworker, "wanted", lambda: True)
    assert main(["run", str(MAIN_JOB), "-q", "-o", str(tmp_path / "o")]) == 0
    assert len(started) == 1 and not started[0]._process.is_alive()
    assert len(list((tmp_path / "o").glob("*.png"))) == 6
    assert 0 < len([n for n in drawn if n.endswith(".png")]) < len(FIGURES)
    # a snapshot's report (two figures) and --no-report start none
    assert main(["run", str(ROOT / "scenarios" / "single-line-cut.yaml"), "-q", "-o", str(tmp_path / "s")]) == 0
    assert main(["run", str(MAIN_JOB), "-q", "--no-report", "-o", str(tmp_path / "n")]) == 0
    assert len(started) == 1


_DOTTED = """
import hashlib, sys
if sys.argv[1] == "pandapower":
    import pandapower.plotting      # replaces matplotlib's RendererBase.new_gc for the whole process
from matplotlib.figure import Figure
from gridsim.report.layout import png_bytes
fig = Figure(figsize=(3, 2))
ax = fig.add_subplot()
ax.plot([0, 1], [0, 1], ls=":", lw=3)
ax.plot([0, 1], [1, 0], ls="--", lw=2)
print(hashlib.sha256(png_bytes(fig, 100)).hexdigest())
"""


def test_figures_look_the_same_whatever_else_the_process_imported():
    """pandapower.plotting rounds the caps of every line drawn in its process (dotted lines turn into dashes);
    the report's figures are drawn with matplotlib's own graphics contexts, so a figure is the same bytes in
    the command line, in the second figure process and in a program that imported pandapower."""
    digests = {how: subprocess.run([sys.executable, "-c", _DOTTED, how], capture_output=True, text=True,
                                   check=True).stdout for how in ("plain", "pandapower")}
    assert digests["plain"] == digests["pandapower"] and len(digests["plain"]) > 60


def test_ctrl_c_is_left_to_the_parent(result, serial, worker):
    """Ctrl-C reaches every process of the terminal's group: the worker ignores it (the parent stops it), so an
    interrupted run prints one message, not a second traceback from the worker."""
    import signal

    os.kill(worker._process.pid, signal.SIGINT)
    time.sleep(0.3)
    assert worker._process.is_alive()
    assert worker.draw(["river.png", "regions.png"], result, lambda name: draw_figure(name, result)) == {
        "river.png": serial["river.png"], "regions.png": serial["regions.png"]}


def test_the_worker_ends_when_its_parent_is_gone(tmp_path):
    """A parent killed with SIGKILL (no close()): the worker sees the pipe close and exits."""
    code = ("import sys, time\nfrom gridsim.report.figworker import FigureWorker\n"
            "if __name__ == '__main__':\n"
            "    w = FigureWorker()\n"
            "    while not w.ready(): time.sleep(0.05)\n"
            "    print(w._process.pid, flush=True)\n"
            "    time.sleep(600)\n")
    script = tmp_path / "parent.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.DEVNULL)      # its resource tracker's note on the lock it left
    try:
        pid = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "\nState:\tZ" in status.read_text():
            break           # exited; left for a PID 1 that does not reap (some containers)
        time.sleep(0.1)
    else:
        pytest.fail(f"the figure process {pid} outlived its parent")


def test_an_error_here_mid_report_stops_the_worker_soon(result):
    """The tables fail to write (a full disk) while the worker draws: close() does not wait for it to draw
    every other figure."""
    t0 = time.monotonic()
    for name in FIGURES:
        draw_figure(name, result)
    all_figures_s = time.monotonic() - t0         # this machine's time for the six (~1 s; the river ~0.3 s)
    w = FigureWorker()
    while not w.ready():
        time.sleep(0.05)

    def disk_full():
        time.sleep(0.05)          # the worker has claimed its first figure by now
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        w.draw(FIGURES, result, lambda name: draw_figure(name, result), meanwhile=disk_full)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 0.6 * all_figures_s     # the figure it draws (the river), not all six
    assert w._process.exitcode == 0

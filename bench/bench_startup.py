"""One-shot start-up: `gridsim schema`, `gridsim validate` and the README's main job, each a fresh process.

    python bench/bench_startup.py [--repeat 3] [--no-main]

Prints, best of ``--repeat`` (wall and CPU of the child process: user + system, all its threads):

- ``gridsim schema`` (target < 0.5 s);
- ``gridsim validate`` on a built-in-grid scenario, a MATPOWER one and one with an attack, with the name index
  in a temporary cache folder (``GRIDSIM_CACHE_DIR``): the first call builds the index (the network is built once),
  the others read it (target < 0.5 s);
- ``gridsim run scenarios/dnipro-hydro-strike.yaml -o DIR -q`` (the README's main job: a 72-hour timeline with
  the water plan and the report; target < 3 s), and its split by stage measured in one process (imports,
  network, timeline, report), so that what remains is visible.

The machine is shared: the load average is printed beside the numbers; CPU seconds move less with it than wall.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIN_JOB = ROOT / "scenarios" / "dnipro-hydro-strike.yaml"
VALIDATE = ("dnipro-hydro-strike.yaml", "rts24-worst-5.yaml", "winter-salvo-defend.yaml")

SPLIT = """
import time
T = [time.perf_counter(), time.process_time()]
def lap(label):
    now = [time.perf_counter(), time.process_time()]
    print(f"  {label:44s} wall {now[0] - T[0]:5.2f} s   cpu {now[1] - T[1]:5.2f} s"); T[:] = now
from gridsim._threads import one_blas_thread; one_blas_thread()     # as gridsim.cli.main does
from gridsim._lazy import defer_package_init; defer_package_init()    # as gridsim.cli.main does
import gridsim.cli
from gridsim.report.figworker import FigureWorker
worker = FigureWorker.start()    # as gridsim run does for a timeline: it imports the figure code meanwhile
from gridsim.scenario import load_scenario
sc = load_scenario(SCENARIO); lap("import cli + scenario + report, read the scenario")
import gridsim.simulate, gridsim.timeline, gridsim.timeline_fast, gridsim.water.plan
lap("import the engine (pandapower, pandas, scipy)")
from gridsim.networks import build_network
net = build_network(sc.network, sc.base_dir, sc.load_level); lap("build the network")
result = gridsim.timeline.simulate_timeline(sc, net=net); lap("timeline (runs, steps, water plans)")
from gridsim.report import write_report
ready = worker is not None and worker.ready()
write_report(result, OUT, worker=worker)
lap("report (tables, figures, HTML)" + (": figures shared with a 2nd process" if ready else ""))
if worker is not None:
    worker.close()
print(f"  energy not served: {result.summary['energy_not_served_mwh']:,.1f} MWh")
"""


def _child(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _best(label: str, cmd: list[str], env: dict, repeat: int) -> None:
    runs = [_child(cmd, env) for _ in range(repeat)]
    print(f"{label:58s} wall {min(w for w, _ in runs):5.2f} s   cpu {min(c for _, c in runs):5.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-main", action="store_true", help="skip the main job")
    args = ap.parse_args(argv)
    gridsim = [sys.executable, "-m", "gridsim"]
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: expect noise)\n")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GRIDSIM_CACHE_DIR": str(Path(tmp) / "cache")}
        _best("gridsim schema", [*gridsim, "schema"], env, args.repeat)
        for name in VALIDATE:
            cmd = [*gridsim, "validate", str(ROOT / "scenarios" / name)]
            wall, cpu = _child(cmd, env)
            label = f"gridsim validate {name} (first: may build the index)"
            print(f"{label:58s} wall {wall:5.2f} s   cpu {cpu:5.2f} s")
            _best(f"gridsim validate {name}", cmd, env, args.repeat)
        if args.no_main:
            return 0
        out = str(Path(tmp) / "main-job")
        cmd = [*gridsim, "run", str(MAIN_JOB), "-o", out, "-q"]
        _child(cmd, env)      # the network cache's first write, outside the timing
        runs: dict[str, list] = {"1": [], "0": []}
        for _ in range(args.repeat):      # alternated: the machine's speed drifts
            for flag, got in runs.items():
                got.append(_child(cmd, {**env, "GRIDSIM_FIGURE_PROCESS": flag}))
        for flag, label in (("1", "(main job)"), ("0", "with GRIDSIM_FIGURE_PROCESS=0")):
            got = runs[flag]
            print(f"{'gridsim run dnipro-hydro-strike.yaml -q ' + label:58s} wall {min(w for w, _ in got):5.2f} s   "
                  f"cpu {min(c for _, c in got):5.2f} s")
        print("\nthe main job, stage by stage (one process):")
        code = SPLIT.replace("SCENARIO", repr(str(MAIN_JOB))).replace("OUT", repr(str(Path(tmp) / "split")))
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The network cache (gridsim.networks.netcache): a fresh process building the built-in grid vs reading it back.

    python bench/bench_netcache.py [--repeat 5] [--network dnipro-like]

Each line is the best of ``--repeat`` fresh processes (pandapower and gridsim imported first, not timed; the cache
folder a temporary one): ``build_network`` with an empty cache (build, store), ``build_network`` with the cache
filled (key, read, unpickle), and as references the uncached build and pandapower's own ``from_json`` of the
same network. Wall and CPU seconds of the timed call; ratios against the uncached build.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMED = """
import sys, time
import pandapower as pp
pp.create_empty_network()                       # pandapower imported whole, not timed
import gridsim.networks, gridsim.networks.netcache, gridsim.networks.index, gridsim.networks.synthetic
spec, how = sys.argv[1], sys.argv[2]
if how == "from_json":
    text = open(sys.argv[3]).read()
t = (time.perf_counter(), time.process_time())
if how == "uncached":
    net = gridsim.networks._build(spec, None, 1.0, None)
elif how == "from_json":
    net = pp.from_json_string(text)
else:
    net = gridsim.networks.build_network(spec)
print(time.perf_counter() - t[0], time.process_time() - t[1], len(net.bus))
"""


def _once(args: list[str], env: dict) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", TIMED, *args], env=env, check=True, capture_output=True, text=True)
    wall, cpu, _ = out.stdout.split()
    return float(wall), float(cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--network", default="dnipro-like")
    a = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: expect noise)\n")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        env = {**os.environ, "GRIDSIM_CACHE_DIR": str(cache)}
        import pandapower as pp

        from gridsim.networks import _build

        saved = Path(tmp) / "net.json"
        saved.write_text(pp.to_json(_build(a.network, Path.cwd(), 1.0, None)))
        rows = {}
        for label, args, fresh in (("uncached build (reference)", [a.network, "uncached"], False),
                                   ("build_network, empty cache (build + store)", [a.network, "cached"], True),
                                   ("build_network, cache filled (read)", [a.network, "cached"], False),
                                   ("pandapower.from_json (reference)", [a.network, "from_json", str(saved)], False)):
            runs = []
            for _ in range(a.repeat):
                if fresh:
                    shutil.rmtree(cache, ignore_errors=True)
                runs.append(_once(args, env))
            rows[label] = (min(w for w, _ in runs), min(c for _, c in runs))
        base = rows["uncached build (reference)"][1]
        for label, (wall, cpu) in rows.items():
            print(f"{label:46s} wall {wall:6.3f} s   cpu {cpu:6.3f} s   {base / cpu:6.1f}x")
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The report of the README's main job (``gridsim run scenarios/dnipro-hydro-strike.yaml``): ``write_report`` and
each of its figures, against matplotlib's usual way of making the same figures.

    python bench/bench_report.py [--repeat 5] [--out DIR]

The timeline runs once (not timed); then, best of ``--repeat`` in this one process (CPU seconds of the process,
wall beside it):

- ``write_report`` (tables, figures, HTML; target <= 0.8 s CPU);
- per figure: building it (the plot function) and drawing + encoding it (``gridsim.report.html._png``: one draw,
  the Axes placed by the plot function);
- the same figures the usual way (the report's way until this benchmark), as a reference: made under
  constrained layout and saved with ``savefig`` through PIL (zlib level 1), which draws each figure twice and
  lays it out twice per draw; ratio = usual / ours (the usual way's build is included in its time).

The machine is shared: the load average is printed beside the numbers; CPU seconds move less with it than wall.
"""

from __future__ import annotations

from gridsim._threads import one_blas_thread

one_blas_thread()   # before numpy loads, as the command line does (gridsim._threads)

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIN_JOB = ROOT / "scenarios" / "dnipro-hydro-strike.yaml"


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _usual_png(plot, result, dpi: int) -> bytes:
    """The usual way: the figure made under constrained layout (rcParams ``figure.constrained_layout.use``, the
    report's own placement switched off) and saved with savefig through PIL at zlib level 1."""
    import matplotlib

    from gridsim.report import layout, restoration_plots, river_plots, timeline_plots
    from gridsim.report import map as map_
    from gridsim.report import plots

    names = ("place", "pin_axis_labels", "fit_axes")
    modules = (layout, plots, map_, timeline_plots, river_plots, restoration_plots)
    saved = [(m, n, getattr(m, n)) for m in modules for n in names if hasattr(m, n)]
    try:
        for m, n, _ in saved:
            setattr(m, n, lambda *a, **k: None)
        with matplotlib.rc_context({"figure.constrained_layout.use": True}):
            fig = plot(result)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 1})
    finally:
        for m, n, f in saved:
            setattr(m, n, f)
    return buf.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", help="write the report here (default: a temporary folder)")
    args = ap.parse_args(argv)

    from gridsim.networks import build_network
    from gridsim.report import html
    from gridsim.scenario import load_scenario
    from gridsim.timeline import simulate_timeline

    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: expect noise)")
    sc = load_scenario(MAIN_JOB)
    result = simulate_timeline(sc, net=build_network(sc.network, sc.base_dir, sc.load_level))
    figures = {"map.png": html.plot_map, "regions.png": html.plot_regions, "cascade.png": html.plot_cascade,
               "timeline.png": html.plot_timeline, "heatmap.png": html.plot_heatmap,
               "restoration.png": html.plot_restoration, "repairs.png": html.plot_gantt,
               "orders.png": html.plot_orders, "river.png": html.plot_river}
    figures = {name: plot for name, plot in figures.items() if plot(result) is not None}   # also warms up

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "report"
        html.write_report(result, out)                                  # fonts, caches
        runs = []
        for _ in range(args.repeat):
            c0, w0 = _clock()
            html.write_report(result, out)
            c1, w1 = _clock()
            runs.append((c1 - c0, w1 - w0))
    cpu = sorted(c for c, _ in runs)
    print(f"\nwrite_report, main job ({len(figures)} figures): best of {args.repeat}: "
          f"cpu {cpu[0]:.2f} s (median {cpu[len(cpu) // 2]:.2f}), wall {min(w for _, w in runs):.2f} s  "
          f"[target <= 0.8 s cpu]")

    print(f"\n{'figure':16s} {'build':>7s} {'draw+png':>9s} {'ours':>7s} {'usual':>7s} {'usual/ours':>11s}   "
          f"(cpu s, best of {args.repeat})")
    total_ours = total_usual = 0.0
    for name, plot in figures.items():
        build, draw, usual = [], [], []
        for _ in range(args.repeat):
            c0, _w = _clock()
            fig = plot(result)
            c1, _w = _clock()
            html._png(fig)
            c2, _w = _clock()
            build.append(c1 - c0)
            draw.append(c2 - c1)
            c0, _w = _clock()
            _usual_png(plot, result, html.DPI)
            usual.append(_clock()[0] - c0)
        ours = min(b + d for b, d in zip(build, draw))
        total_ours += ours
        total_usual += min(usual)
        print(f"{name:16s} {min(build):7.3f} {min(draw):9.3f} {ours:7.3f} {min(usual):7.3f} {min(usual) / ours:10.1f}x")
    print(f"{'all figures':16s} {'':7s} {'':9s} {total_ours:7.3f} {total_usual:7.3f} {total_usual / total_ours:10.1f}x")
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

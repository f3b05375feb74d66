"""The report's figures place their Axes themselves (``gridsim.report.layout``) instead of matplotlib's
constrained layout: every title, axis label, tick label and legend must still be inside the figure and clear of
the others, with long names, many regions, a river of three plants and events that share an hour.
``assert_laid_out`` is shared with tests/test_report.py (the map and the regions)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gridsim.report.layout import legend_width, text_size
from gridsim.report.restoration_plots import plot_crews, plot_gantt, plot_orders
from gridsim.report.river_plots import _event_label, plot_river
from gridsim.report.timeline_plots import plot_heatmap, plot_restoration, plot_timeline
from gridsim.results import Result

matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("error")

DPI = 130
LONG = "Verkhnodniprovska-Zaporizka North"


def _frame_texts(fig: Figure, renderer):
    """(what, bbox) of the texts that frame the plots: titles, axis and tick labels, legends, colour bars."""
    out = [("suptitle", t.get_window_extent(renderer)) for t in fig.texts if t.get_visible() and t.get_text()]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        for title in (ax.title, ax._left_title, ax._right_title):
            if title.get_text():
                out.append((f"axes {i} title", title.get_window_extent(renderer)))
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible():
                continue
            if axis.label.get_text():
                out.append((f"axes {i} {axis.axis_name} label", axis.label.get_window_extent(renderer)))
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if not lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    continue
                for label in (tick.label1, tick.label2):
                    if label.get_visible() and label.get_text():
                        out.append((f"axes {i} {axis.axis_name} tick {label.get_text()}",
                                    label.get_window_extent(renderer)))
        legend = ax.get_legend()
        if legend is not None:
            out.append((f"axes {i} legend", legend.get_window_extent(renderer)))
    return out


def assert_laid_out(fig: Figure, allowed: tuple[tuple[str, str], ...] = ()) -> None:
    """Draw ``fig`` as the report does; every framing text is inside the figure and overlaps no other one
    (tick labels of one axis may touch, as matplotlib lets them); legends outside an Axes stay clear of it."""
    fig.dpi = DPI
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox
    texts = _frame_texts(fig, renderer)
    assert texts
    for what, box in texts:
        assert box.x0 >= page.x0 - 1 and box.y0 >= page.y0 - 1 and box.x1 <= page.x1 + 1 and \
            box.y1 <= page.y1 + 1, f"{what} sticks out of the figure: {box} in {page}"
    for i, (what_a, a) in enumerate(texts):
        for what_b, b in texts[i + 1:]:
            same_axis = what_a.rsplit(" tick ", 1)[0] == what_b.rsplit(" tick ", 1)[0] and " tick " in what_a
            if same_axis or (what_a, what_b) in allowed:
                continue
            overlap = min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0)
            assert min(overlap) <= 1.0, f"{what_a} {a} overlaps {what_b} {b}"
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None and legend.get_bbox_to_anchor().x0 >= ax.bbox.x1 - 1:
            assert legend.get_window_extent(renderer).x0 >= ax.bbox.x1 - 1


def _timeline_result(regions: list[str], plants=("Upper", "Middle", "Kamiana Hora PSPP"), events=None) -> Result:
    hours = np.arange(72.0)
    rows = []
    for k, region in enumerate(regions):
        demand = 800 + 200 * np.sin(hours / 24 * 2 * np.pi) + 40 * k
        unserved = np.where((hours >= 19 + k % 3) & (hours < 30 + 2 * k), 0.08 * demand, 0.0)
        rows += [{"time_h": h, "region": region, "demand_mw": d, "served_mw": d - u, "unserved_mw": u}
                 for h, d, u in zip(hours, demand, unserved)]
    timeline = pd.DataFrame(rows)
    hydro = pd.DataFrame([{"plant": p, "time_h": h, "p_mw": 300 + 250 * np.sin(h / 7 + i), "spill_m3s": 50.0 * (h > 40),
                           "storage_hm3": 1100 + 60 * np.cos(h / 9 + i),
                           "pump_mw": 400.0 * (h < 6) if p.endswith("PSPP") else 0.0}
                          for i, p in enumerate(plants) for h in hours])
    hydro["p_mw"] = hydro["p_mw"].clip(lower=0.0)
    events = events if events is not None else [
        {"time_h": 19.0, "what": "strike", "asset": "plant: Dnipro-like HPP"},
        {"time_h": 19.0, "what": "strike", "asset": "substation: Dnipro-like HPP"},
        {"time_h": 21.0, "what": "strike", "asset": "line: Kyiv-Zaporizhzhia 750 kV"},
        {"time_h": 55.0, "what": "repaired", "asset": "substation: Dnipro-like HPP"}]
    summary = {"timeline": {"step_h": 1.0, "horizon_h": 72.0, "profile": "winter-weekday"}, "events": events,
               "energy_not_served_mwh": 12_345.0, "peak_unserved_mw": 1_289.0, "peak_at_h": 42.0,
               "regions_over_time": {r: {"restored_at_h": 30.0 + 2 * k} for k, r in enumerate(regions)},
               "water": {"hydro_energy_mwh": 98_086.0, "pumping_energy_mwh": 21_877.0},
               "demand_mw": 1.0, "served_mw": 1.0, "unserved_mw": 0.0}
    return Result("A strike on a long-named river scenario", "synthetic", summary, loads=pd.DataFrame(),
                  regions=pd.DataFrame(), islands=pd.DataFrame(), buses=pd.DataFrame(), branches=pd.DataFrame(),
                  generators=pd.DataFrame(), outages=pd.DataFrame(), timeline=timeline, hydro=hydro)


REGIONS = [LONG, "Stolychna", "Dubrava", "Yavirna", "Morivka", "Pryrichna", "Stepana", "Ozerna", "Hirna",
           "Lisovia", "Kalynova", "Sonyachna", "Berezhna", "Vitryana"]


@pytest.mark.parametrize("plot", [plot_timeline, plot_heatmap, plot_restoration, plot_river])
@pytest.mark.parametrize("regions", [REGIONS, ["Only"]])
def test_time_figures_keep_their_text_inside_and_apart(plot, regions):
    result = _timeline_result(regions)
    fig = plot(result)
    assert fig.get_layout_engine() is None            # placed by gridsim.report.layout, not constrained layout
    assert_laid_out(fig)


@pytest.mark.parametrize("plot", [plot_timeline, plot_heatmap, plot_restoration])
def test_time_figures_without_unserved_demand(plot):
    """Nothing unserved: no region legend, no bars; the layout still holds."""
    result = _timeline_result(["North", "South"])
    result.timeline["unserved_mw"] = 0.0
    result.timeline["served_mw"] = result.timeline["demand_mw"]
    assert_laid_out(plot(result))


def test_restoration_figures_keep_their_text_inside_and_apart():
    from types import SimpleNamespace

    result = _timeline_result(REGIONS)
    result.restoration = pd.DataFrame({
        "asset": ["substation: Dnipro-like HPP", "line: Kyiv-Zaporizhzhia 750 kV", "plant: " + LONG],
        "crew": [1, 2, 1], "strike_h": [19.0, 21.0, 19.0], "start_h": [19.0, 21.0, 31.0],
        "work_h": [12.0, 6.0, 20.0], "end_h": [31.0, 27.0, 51.0]})
    hours = np.arange(72.0)
    result.restoration_compare = pd.concat([pd.DataFrame({"order": order, "time_h": hours,
                                                          "unserved_mw": np.maximum(0, 900 - k * 100 - 12 * hours)})
                                            for k, order in enumerate(("chosen", "greedy", "listed"))])
    result.summary["restoration"] = {"method": "local", "chosen": 1.0e4, "greedy": 1.2e4, "listed_order": 1.5e4,
                                     "unit": "MWh"}
    for fig in (plot_gantt(result), plot_orders(result)):
        assert fig.get_layout_engine() is None
        assert_laid_out(fig)
    table = pd.DataFrame({"crews": [1, 2, 3], "chosen": [3.0e4, 2.0e4, 1.5e4], "greedy": [3.2e4, 2.1e4, 1.6e4],
                          "listed_order": [3.5e4, 2.5e4, 1.8e4], "no_waiting_reference": [1.2e4] * 3})
    scenario = SimpleNamespace(name="A long scenario name for the crews figure", restoration=SimpleNamespace(
        objective="ens"))
    assert_laid_out(plot_crews(table, scenario))


def test_river_with_one_plant_and_no_events():
    assert_laid_out(plot_river(_timeline_result(["A"], plants=("Only HPP",), events=[])))


def test_river_labels_events_of_one_hour_once_and_stacks_close_ones():
    """The two strikes at hour 19 hit one site: one label; the strike at 21 would run into it: a row lower."""
    fig = plot_river(_timeline_result(REGIONS))
    fig.dpi = DPI
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    top = fig.axes[0]
    labels = [t for t in top.texts if t.get_visible()]
    assert [t.get_text().strip() for t in labels] == [
        "strike: plant + substation: Dnipro-like HPP", "strike: line: Kyiv-Zaporizhzhia 750 kV",
        "repaired: substation: Dnipro-like HPP"]
    boxes = [t.get_window_extent(canvas.get_renderer()) for t in labels]
    for i, a in enumerate(boxes):
        assert top.bbox.y0 <= a.y0 and a.y1 <= top.bbox.y1 + 1       # inside the top panel
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    assert boxes[1].y1 <= boxes[0].y0 + 1                            # hour 21 sits below hour 19
    assert all(not t.get_visible() or not t.get_text() for ax in fig.axes[1:] for t in ax.texts)


def test_event_labels():
    assert _event_label("strike", ["plant: X"]) == "strike: plant: X"
    assert _event_label("strike", ["plant: X", "substation: X"]) == "strike: plant + substation: X"
    assert _event_label("strike", ["plant: X", "line: Y"]) == "strike: plant: X, line: Y"
    long = _event_label("strike", ["plant: " + "A" * 60])
    assert len(long) == 48 and long.endswith("…")


def test_measured_text_matches_what_matplotlib_draws():
    """The margins come from text_size and legend_width: within a pixel or two of the drawn extents."""
    fig = Figure(figsize=(6, 3), dpi=DPI)
    ax = fig.add_subplot()
    ax.plot([0, 1], label="storage (hm³)")
    ax.plot([0, 1], label=LONG)
    legend = ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    title = ax.set_title("Dnipro-like hydro plant strike: 1,289 MW", fontsize=11, fontweight="bold", loc="left")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = text_size(title.get_text(), 11, "bold")
    drawn = title.get_window_extent(renderer)
    assert drawn.width - 1 <= width * DPI <= 1.04 * drawn.width       # a little wider, never narrower
    assert height * DPI == pytest.approx(drawn.height, abs=2)
    assert legend_width([LONG, "storage (hm³)"], 7) * DPI >= legend.get_window_extent(renderer).width - 2


@pytest.mark.parametrize("name", ["Дніпровська ГЕС", "北京 变电站", "plant ⚡ 🔥", "Zürich Ölkraftwerk"])
def test_names_in_any_script_are_measured_and_laid_out(name):
    """A glyph the font does not have (CJK, emoji in DejaVu Sans) is measured as matplotlib draws it (a fallback
    font or its missing-glyph box): it once raised "No glyphs have been loaded" in a process that had drawn no
    text yet (so the measure is taken in a fresh one), and gave a stale glyph's width in one that had."""
    import subprocess
    import sys
    import warnings

    code = "import sys; from gridsim.report.layout import text_size; print(text_size(sys.argv[1], 11)[0])"
    done = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    width = float(done.stdout)
    fig = Figure(figsize=(6, 3), dpi=DPI)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)     # matplotlib: "Glyph ... missing from font(s)"
        title = fig.suptitle(name, fontsize=11)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        drawn = title.get_window_extent(canvas.get_renderer())
        assert drawn.width - 1 <= width * DPI <= 1.04 * drawn.width + 1
        assert text_size(name, 11)[0] == width          # the same in this process, whatever it drew before
        assert_laid_out(plot_heatmap(_timeline_result([name, "Stolychna"])))

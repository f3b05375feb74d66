"""The outage report: figures and the self-contained HTML page, on hand-built Results.

The 5-bus grid of ``make_result`` (demand 1150 MW, 350 MW unserved):

    B1 (330 kV, North) ── L12 (overloaded, 120 %) ── B2 (330 kV, North)        island 0, main, G1 nuclear
    B2 ══ T23 (trafo, knocked out) ══ B3 (110 kV, South)                       island 1, G3 hydro derated
    B2 ── L24 (tripped by the cascade) ── B4 (110 kV, South)                   island 2, dead, G4 gas out
    B3 ── L34 (knocked out) ── B4
    B2 ── L25 (knocked out with its substation) ── B5 (110 kV, South)          Sub 5 destroyed

Unserved: Ld2 100 MW network, Ld3 50 MW deficit, Ld4 120 MW cascade, Ld5 80 MW isolated.
"""

from __future__ import annotations

import base64
import re
import shutil

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gridsim.report import plot_cascade, plot_map, plot_regions, write_report
from gridsim.results import CAUSES, Result

matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("error")      # no warnings from the report, pandas or matplotlib

EVIL = "<script>alert('x')</script>"


def _loads(names_first: str = "Ld1") -> pd.DataFrame:
    rows = [  # name, bus, sub, region, island, prio, customers, demand, served, cause, MW by cause
        (names_first, "B1", "Sub 1", "North", 0, 2, 3000, 300.0, 300.0, "", {}),
        ("Ld2", "B2", "Sub 2", "North", 0, 1, 5000, 500.0, 400.0, "network", {"network": 100.0}),
        ("Ld3", "B3", "Sub 3", "South", 1, 2, 1500, 150.0, 100.0, "deficit", {"deficit": 50.0}),
        ("Ld4", "B4", "Sub 4", "South", 2, 3, 1200, 120.0, 0.0, "cascade", {"cascade": 120.0}),
        ("Ld5", "B5", "Sub 5", "South", -1, 2, 800, 80.0, 0.0, "isolated", {"isolated": 80.0}),
    ]
    df = pd.DataFrame([{
        "name": n, "bus": b, "substation": s, "region": r, "island": i, "priority": p, "customers": c,
        "demand_mw": d, "served_mw": sv, "unserved_mw": d - sv,
        **{f"unserved_{k}_mw": by.get(k, 0.0) for k in CAUSES}, "cause": cause,
    } for n, b, s, r, i, p, c, d, sv, cause, by in rows])
    return df.set_index("name")


def _regions(loads: pd.DataFrame) -> pd.DataFrame:
    cols = ["demand_mw", "served_mw", "unserved_mw", "customers"] + [f"unserved_{c}_mw" for c in CAUSES]
    reg = loads.groupby("region")[cols].sum()
    reg["unserved_pct"] = 100 * reg["unserved_mw"] / reg["demand_mw"]
    reg["customers_without_power"] = [0, 2000]      # North, South
    reg["x_km"], reg["y_km"] = [20.0, 85.0], [92.0, 12.0]
    return reg


def _buses() -> pd.DataFrame:
    return pd.DataFrame({
        "substation": ["Sub 1", "Sub 2", "Sub 3", "Sub 4", "Sub 5"],
        "region": ["North", "North", "South", "South", "South"],
        "vn_kv": [330.0, 330.0, 110.0, 110.0, 110.0],
        "x_km": [0.0, 50.0, 100.0, 60.0, 20.0], "y_km": [100.0, 80.0, 0.0, 30.0, 40.0],
        "island": [0, 0, 1, 2, -1], "energised": [True, True, True, False, False],
        "destroyed": [False, False, False, False, True], "vm_pu": [1.0, 0.98, 0.97, np.nan, np.nan],
    }, index=pd.Index(["B1", "B2", "B3", "B4", "B5"], name="name"))


def _branches() -> pd.DataFrame:
    rows = [  # name, kind, from, to, kv, in_service, outaged, tripped, p, loading
        ("L12", "line", "B1", "B2", 330.0, True, False, False, 700.0, 120.0),
        ("T23", "trafo", "B2", "B3", 330.0, False, True, False, np.nan, np.nan),
        ("L24", "line", "B2", "B4", 110.0, False, False, True, np.nan, np.nan),
        ("L34", "line", "B3", "B4", 110.0, False, True, False, np.nan, np.nan),
        ("L25", "line", "B2", "B5", 110.0, False, True, False, np.nan, np.nan),
    ]
    df = pd.DataFrame(rows, columns=["name", "kind", "from_bus", "to_bus", "vn_kv", "in_service", "outaged",
                                     "tripped", "p_from_mw", "loading_percent"]).set_index("name")
    df["region"] = "North"
    df["overloaded"] = df["loading_percent"].fillna(0) > 100
    return df


def _generators() -> pd.DataFrame:
    return pd.DataFrame({
        "plant": ["Nuclear 1", "Hydro 3", "Gas 4"], "fuel": ["nuclear", "hydro", "gas"],
        "kind": ["unit"] * 3, "region": ["North", "South", "South"], "bus": ["B1", "B3", "B4"],
        "max_p_mw": [1000.0, 200.0, 150.0], "available_mw": [1000.0, 100.0, 0.0], "p_mw": [700.0, 100.0, 0.0],
        "island": [0, 1, 2], "slack": [True, True, False],
    }, index=pd.Index(["G1", "G3", "G4"], name="name"))


@pytest.fixture
def make_result():
    """Factory: make_result(scenario_name=..., cascade=True, first_load=...) -> the 5-bus Result."""

    def make(scenario_name: str = "Test strike", cascade: bool = True, first_load: str = "Ld1",
             description: str = "Two lines and a substation lost.") -> Result:
        loads = _loads(first_load)
        islands = pd.DataFrame({
            "n_buses": [2, 1, 1], "demand_mw": [800.0, 150.0, 120.0], "capacity_mw": [1000.0, 100.0, 0.0],
            "served_mw": [700.0, 100.0, 0.0], "unserved_mw": [100.0, 50.0, 120.0], "slack": ["G1", "G3", ""],
            "status": ["converged", "fallback-dc", "dead"], "energised": [True, True, False],
        }, index=pd.Index([0, 1, 2], name="island"))
        outages = pd.DataFrame([
            ("Sub 5", "substation", "bus", "B5", "out", np.nan, np.nan),
            ("Sub 5", "substation", "line", "L25", "out", np.nan, np.nan),
            ("T23", "trafo", "trafo", "T23", "out", np.nan, np.nan),
            ("L34", "line", "line", "L34", "out", np.nan, np.nan),
            ("Gas 4", "plant", "gen", "G4", "out", 150.0, 0.0),
            ("Hydro 3", "plant", "gen", "G3", "derated", 200.0, 100.0),
        ], columns=["asset", "asset_kind", "element_kind", "element", "action", "capacity_before_mw",
                    "capacity_after_mw"])
        steps = pd.DataFrame({"step": [0, 1], "tripped": ["", "L24"], "n_tripped": [0, 1],
                              "unserved_mw": [230.0, 350.0], "unserved_cascade_mw": [0.0, 120.0]}) \
            if cascade else pd.DataFrame()
        summary = {"scenario": scenario_name, "description": description, "status": "fallback-dc",
                   "demand_mw": 1150.0, "served_mw": 800.0, "unserved_mw": 350.0}
        return Result(scenario_name=scenario_name, network_name="five-bus", summary=summary, loads=loads,
                      regions=_regions(loads), islands=islands, buses=_buses(), branches=_branches(),
                      generators=_generators(), outages=outages, cascade_steps=steps)

    return make


def _by_gid(fig: Figure, gid: str):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def _segments(fig: Figure, gid: str) -> int:
    return sum(len(c.get_segments()) for c in _by_gid(fig, gid))


# -- plots -----------------------------------------------------------------------------------------------
def test_map_draws_every_state(make_result):
    fig = plot_map(make_result())
    assert isinstance(fig, Figure)
    assert _segments(fig, "branches-island-0") == 1            # L12, the only live branch
    assert _segments(fig, "branches-overloaded") == 1          # L12 again, as an orange halo
    assert _segments(fig, "branches-outaged") == 3             # T23, L34, L25
    assert _segments(fig, "branches-tripped") == 1             # L24
    (destroyed,) = _by_gid(fig, "substations-destroyed")
    assert len(destroyed.get_offsets()) == 1
    (buses,) = _by_gid(fig, "buses")
    assert len(buses.get_offsets()) == 5
    (plants,) = _by_gid(fig, "plants")                         # nuclear full, hydro derated
    assert len(plants.get_offsets()) == 2
    (out,) = _by_gid(fig, "plants-out")
    assert len(out.get_offsets()) == 1                         # gas
    (ring,) = _by_gid(fig, "plants-damaged")
    assert len(ring.get_offsets()) == 2                        # gas out, hydro derated
    ax = fig.axes[0]
    assert "350 MW unserved" in ax.get_title(loc="left")
    assert "30.4 %" in ax.get_title(loc="left")
    labels = [t.get_text() for t in _by_gid(fig, "region-label")]
    assert "SOUTH" in labels and "250 MW off (71 %)" in labels and "100 MW off (12 %)" in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"branch knocked out", "branch tripped (cascade)", "substation destroyed", "plant out"} <= set(legend)
    assert "nuclear" in legend and "gas" in legend


def test_map_into_given_axes_and_no_pyplot_state(make_result):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = plot_map(make_result())
    plot_regions(make_result())
    assert plt.get_fignums() == before                        # nothing registered, nothing to close
    own = Figure()
    ax = own.add_subplot()
    assert plot_map(make_result(), ax=ax) is own


def test_map_tolerates_missing_values_and_skips_empty_units(make_result):
    result = make_result()
    result.branches["overloaded"] = pd.Series([True, np.nan, None, False, np.nan], index=result.branches.index,
                                              dtype=object)
    result.buses.loc["B3", "x_km"] = np.nan                  # a bus without coordinates: its branches go
    result.generators.loc["SC"] = {"plant": "Condenser", "fuel": "other", "bus": "B2", "max_p_mw": 0.0,
                                   "available_mw": 0.0}
    fig = plot_map(result)
    assert _segments(fig, "branches-overloaded") == 1
    assert _segments(fig, "branches-outaged") == 1           # L25; T23 and L34 end at B3
    (out,) = _by_gid(fig, "plants-out")
    assert len(out.get_offsets()) == 1                       # the condenser is no plant "out"


def test_map_escapes_mathtext_and_renders(make_result, tmp_path):
    fig = plot_map(make_result(scenario_name="cost $5 $x"))
    fig.savefig(tmp_path / "m.png")                           # would fail on an unescaped '$'
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_map_large_grid_is_thin_and_labels_only_regions():
    rng = np.random.default_rng(1)
    n = 2000
    names = [f"b{i}" for i in range(n)]
    buses = pd.DataFrame({"substation": names, "region": "R", "vn_kv": rng.choice([110.0, 330.0], n),
                          "x_km": rng.uniform(0, 800, n), "y_km": rng.uniform(0, 600, n), "island": 0,
                          "energised": True, "destroyed": False}, index=names)
    buses.loc[names[:5], "destroyed"] = True
    fb, tb = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    branches = pd.DataFrame({"kind": "line", "from_bus": [names[i] for i in fb], "to_bus": [names[i] for i in tb],
                             "vn_kv": 110.0, "in_service": True, "outaged": False, "tripped": False,
                             "loading_percent": 50.0, "overloaded": False}, index=[f"l{i}" for i in range(3000)])
    branches.iloc[:10, branches.columns.get_loc("outaged")] = True
    regions = pd.DataFrame({"demand_mw": [1.0], "unserved_mw": [0.0], "x_km": [400.0], "y_km": [300.0]},
                           index=["R"])
    gens = pd.DataFrame({"plant": ["P"], "fuel": ["coal"], "bus": ["b7"], "max_p_mw": [500.0],
                         "available_mw": [0.0]}, index=["G"])
    result = Result("big", "random", {"demand_mw": 1.0, "served_mw": 1.0, "unserved_mw": 0.0, "status": "converged"},
                    loads=pd.DataFrame(), regions=regions, islands=pd.DataFrame(), buses=buses,
                    branches=branches, generators=gens, outages=pd.DataFrame())
    fig = plot_map(result)
    ax = fig.axes[0]
    texts = [t for t in ax.texts]
    assert texts and {t.get_gid() for t in texts} == {"region-label", "map-subtitle"}
    assert max(max(c.get_linewidths()) for c in _by_gid(fig, "branches-island-0")) < 1.0
    assert _segments(fig, "branches-outaged") == 10


def test_regions_sorted_stacked_and_annotated(make_result):
    fig = plot_regions(make_result())
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["North", "South"]   # largest on top
    for cause in CAUSES:
        assert _by_gid(fig, f"cause-{cause}"), cause
    texts = [t.get_text() for t in ax.texts]
    assert any("250 MW" in t and "71.4 %" in t for t in texts)
    assert any("100 MW" in t and "12.5 %" in t for t in texts)
    assert "350 MW" in ax.get_title(loc="left")


def test_cascade_plot_or_none(make_result):
    fig = plot_cascade(make_result())
    ax = fig.axes[0]
    (points,) = _by_gid(fig, "cascade-points")
    assert list(points.get_ydata()) == [230.0, 350.0]
    assert any("L24" in t.get_text() for t in ax.texts)
    assert plot_cascade(make_result(cascade=False)) is None
    result = make_result()
    result.cascade_steps = pd.DataFrame({"tripped": ["L24; L12"]})    # no unserved column
    assert plot_cascade(result) is None
    result.cascade_steps = pd.DataFrame({"unserved_mw": [10.0, 20.0], "tripped": ["a; b", np.nan]})
    assert isinstance(plot_cascade(result), Figure)                 # no step column, names as text


@pytest.mark.parametrize("steps", [2, 6, 12])
def test_cascade_step_labels_end_inside_the_figure(make_result, steps):
    """The last step's label starts near the right edge: the margin makes room for it (it was cut off)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    result = make_result()
    names = [f"Stepna NPP - Sonyachne 330 kV #{k}; Ostrivna HPP - Velykohrad 330 kV" for k in range(steps)]
    result.cascade_steps = pd.DataFrame({"step": np.arange(1, steps + 1), "unserved_mw": 100.0 * np.arange(steps),
                                         "tripped": names})
    fig = plot_cascade(result)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    width = fig.get_size_inches()[0] * fig.dpi
    labels = [a for a in fig.axes[0].texts if a.get_gid() == "cascade-label"]
    assert len(labels) == steps
    for label in labels:
        box = label.get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= width, (label.get_text(), box.x1, width)
    assert fig.axes[0].get_position().x1 > 0.55          # room made, the plot not squeezed away


# -- the report ------------------------------------------------------------------------------------------
def test_write_report_writes_everything_self_contained(make_result, tmp_path):
    out = tmp_path / "report"
    written = write_report(make_result(), out)
    expected = {"summary.json", "loads.csv", "regions.csv", "islands.csv", "branches.csv", "buses.csv",
                "generators.csv", "outages.csv", "cascade.csv", "map.png", "regions.png", "cascade.png",
                "report.html"}
    assert set(written) == expected
    assert {p.name for p in out.iterdir()} == expected          # no temporary files left behind
    for name in ("map.png", "regions.png", "cascade.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    assert base64.b64decode(images[0]) == (out / "map.png").read_bytes()
    for text in ("1,150 MW", "800 MW", "350 MW (30.4 %)", "Two lines and a substation lost.", "five-bus",
                 "Sub 5", "L34", "fallback-dc", "120.0 %", "How to read this", "no generation is reachable",
                 "L24", "Ld4"):
        assert text in html, text


def test_report_sections_without_cascade(make_result, tmp_path):
    write_report(make_result(), tmp_path)                        # an earlier run with a cascade
    written = write_report(make_result(cascade=False), tmp_path)
    assert "cascade.png" not in written and not (tmp_path / "cascade.png").exists()
    html = written["report.html"].read_text("utf-8")
    assert html.count("data:image/png;base64,") == 2
    assert "<h2>Cascade</h2>" not in html


def test_report_escapes_data(make_result, tmp_path):
    result = make_result(scenario_name=EVIL, first_load=EVIL, description=EVIL)
    result.regions = result.regions.rename(index={"North": EVIL})
    html = write_report(result, tmp_path)["report.html"].read_text("utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;" in html


# -- "How to read this" and the island -1 row ---------------------------------------------------------------
def _howto_text(html: str) -> str:
    aside = re.search(r'<aside class="howto">(.*?)</aside>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", aside).split())


def test_how_to_read_this_keeps_each_cause_apart_from_its_text(make_result, tmp_path):
    from gridsim.report.html import CAUSE_NOTES

    text = _howto_text(write_report(make_result(), tmp_path)["report.html"].read_text("utf-8"))
    for cause, note in CAUSE_NOTES.items():
        assert f"{cause} {note.split()[0]}" in text and f"{cause}{note.split()[0]}" not in text, text


@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser")),
                    reason="needs headless Chromium")
def test_how_to_read_this_in_a_browser(make_result, tmp_path):
    """The page as Chromium lays it out: innerText follows the CSS, so a term that runs into its text shows."""
    import subprocess

    html = write_report(make_result(), tmp_path)["report.html"].read_text("utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</main>", '</main><pre id="probe"></pre><script>document.getElementById('
                                  '"probe").textContent = document.querySelector(".howto").innerText;</script>'))
    browser = next(shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b))
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=120)
    shown = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert shown, done.stderr[-500:]
    from gridsim.report.html import CAUSE_NOTES

    for cause, note in CAUSE_NOTES.items():
        first = note.split()[0]
        assert re.search(rf"{cause}\s+{first}", shown.group(1)), shown.group(1)


def test_destroyed_buses_are_counted_apart_from_islands(make_result, tmp_path):
    result = make_result()
    result.islands.loc[-1] = {"n_buses": 1, "demand_mw": 80.0, "capacity_mw": 0.0, "served_mw": 0.0,
                              "unserved_mw": 80.0, "slack": "", "status": "dead", "energised": False}
    for col in ("demand_mw", "served_mw", "unserved_mw"):
        assert result.islands[col].sum() == result.summary[col]
    html = write_report(result, tmp_path)["report.html"].read_text("utf-8")
    line = " ".join(re.sub(r"<[^>]+>", "", re.search(r"<p>Overall:(.*?)</p>", html).group(1)).split())
    assert "3 islands: 1 converged, 1 fallback-dc, 1 dead" in line and "out of service: 1 buses (island -1" in line


def test_island_table_has_a_destroyed_row_that_makes_it_add_up(run):
    import grids

    net = grids.three_bus()
    c = int(net.bus.index[net.bus["name"] == "C"][0])
    result = run(net, [{"substation": net.bus.at[c, "substation"]}])
    isl = result.islands
    assert isl.loc[-1, "n_buses"] == 1 and isl.loc[-1, "demand_mw"] == pytest.approx(120.0)
    assert "destroyed" in isl.loc[-1, "message"] and not isl.loc[-1, "energised"]
    for col in ("demand_mw", "served_mw", "unserved_mw"):
        assert isl[col].sum() == pytest.approx(result.summary[col])
    untouched = run(grids.three_bus())
    assert -1 not in untouched.islands.index


def test_write_report_into_a_folder_that_cannot_be_one_is_an_output_error(make_result, tmp_path):
    from gridsim.errors import OutputError

    (tmp_path / "file").write_text("x")
    for outdir, message in ((tmp_path / "file" / "out", "inside .*file, which is a file"),
                            (tmp_path / "file", "is a file, not a folder")):
        with pytest.raises(OutputError, match=message):
            write_report(make_result(), outdir)
    assert (tmp_path / "file").read_text() == "x"


def test_report_pngs_are_drawn_once_and_have_savefigs_pixels(make_result, monkeypatch):
    """_png draws a figure once (savefig with a layout engine draws it twice) and writes the pixels savefig
    gives (with matplotlib's own graphics contexts)."""
    import io

    from matplotlib.image import imread

    from gridsim.report.html import DPI, _png

    result = make_result()
    fig = plot_map(result)
    draws = []
    monkeypatch.setattr(Figure, "draw", lambda self, renderer, _orig=Figure.draw: (draws.append(1),
                                                                                 _orig(self, renderer))[1])
    ours = _png(fig)
    assert len(draws) == 1
    monkeypatch.undo()
    from matplotlib.backend_bases import GraphicsContextBase, RendererBase
    # savefig as in a process without pandapower.plotting, which replaces new_gc (see layout.png_bytes)
    monkeypatch.setattr(RendererBase, "new_gc", lambda self: GraphicsContextBase())
    buf = io.BytesIO()
    plot_map(result).savefig(buf, format="png", dpi=DPI, facecolor="white")
    assert np.array_equal(imread(io.BytesIO(ours)), imread(io.BytesIO(buf.getvalue())))
    assert fig.dpi == 100                                       # the figure's own dpi is restored
    from PIL import Image
    assert Image.open(io.BytesIO(ours)).info["dpi"] == pytest.approx((DPI, DPI), abs=0.01)


def test_map_and_regions_keep_their_text_inside_and_apart(make_result):
    """Placed without constrained layout (gridsim.report.layout): titles, axis and tick labels and legends stay
    inside the figure and clear of each other, with a two-line title and a long region name."""
    from test_report_layout import assert_laid_out

    result = make_result(scenario_name="A scenario whose name is long enough to wrap the map's title onto two lines")
    result.regions = result.regions.rename(index={"South": "Verkhnodniprovska-Zaporizka South"})
    for plot in (plot_map, plot_regions, plot_cascade):
        fig = plot(result)
        assert fig.get_layout_engine() is None
        assert_laid_out(fig)

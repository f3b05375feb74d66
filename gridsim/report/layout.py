"""Figure layout in inches from measured text, and one-draw PNG rendering, for the report's figures.

matplotlib's constrained layout finds the margins by measuring every tick label, title and legend of every Axes,
twice per draw, and ``savefig`` with a layout engine draws the figure once more before the real draw: four passes
over all the text of a figure. The report's figures have a known structure (a column of Axes, a legend to the
right, a title on top), so each plot function places its Axes once, with margins in inches computed from the few
strings that vary (tick labels, axis labels, titles, legend entries), measured with FreeType outside any drawing.
``png_bytes`` then draws the figure once and encodes its pixels.

The figures stay ordinary ``Figure`` objects: their Axes positions are set (``subplots_adjust``), so a caller's
``savefig`` gives the same picture.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager, get_font
from matplotlib.ft2font import LoadFlags
from matplotlib.ticker import FixedFormatter
from matplotlib.textpath import TextToPath
from matplotlib.transforms import ScaledTranslation

PT = 1.0 / 72.0                      # inches per point
#: space kept at the figure's edges (constrained layout's default w_pad/h_pad)
EDGE = 0.05
_TEXT = TextToPath()
HINTING_SLACK = 1.02


# -- measuring text --------------------------------------------------------------------------------------
def _points(size) -> float:
    return FontProperties(size=size).get_size_in_points()


@lru_cache(maxsize=None)
def _advance(char: str, weight: str) -> float:
    """Advance width of ``char`` in points per point of font size (unhinted)."""
    font = get_font(fontManager.findfont(FontProperties(weight=weight)))
    if not font.get_char_index(ord(char)):
        # no glyph in this font (e.g. CJK in DejaVu Sans): matplotlib's own measure, with its fallback fonts or
        # its box for a missing glyph (it warns that the glyph is missing, as it does when drawing it)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            width, _, _ = _TEXT.get_text_width_height_descent(char, FontProperties(size=100.0, weight=weight), False)
        return width / 100.0
    font.set_size(100.0, 72.0)
    return font.load_char(ord(char), flags=LoadFlags.NO_HINTING).linearHoriAdvance / 65536.0 / 100.0


@lru_cache(maxsize=64)
def _line_height(size: float, weight: str) -> tuple[float, float]:
    """Height and descent in points of a line of text at ``size`` (matplotlib's "lp" measure)."""
    _, height, descent = _TEXT.get_text_width_height_descent("lp", FontProperties(size=size, weight=weight), False)
    return height, descent


def _line_width(s: str, size: float, weight: str) -> float:
    """Width in points of one line: the sum of its characters' advances. Shaping (what matplotlib draws) differs
    only by kerning, which narrows a few pairs ("AV", "To"): within 0.3 % on names and numbers, never narrower."""
    return size * sum(_advance(c, weight) for c in s)


def text_size(s: str, size=None, weight: str = "normal") -> tuple[float, float]:
    """Width and height in inches of ``s`` (several lines allowed) drawn at ``size`` (points or a name such as
    "large"; default ``font.size``), as matplotlib lays it out (line spacing 1.2)."""
    size = _points(size if size is not None else matplotlib.rcParams["font.size"])
    lines = str(s).replace(r"\$", "$").split("\n")
    # unhinted advances; Agg hints each glyph at the output resolution, which makes texts up to ~1.5 % wider
    width = HINTING_SLACK * max(_line_width(line, size, weight) for line in lines)
    h, d = _line_height(size, weight)
    height = h + (len(lines) - 1) * 1.2 * (h - d)
    return width * PT, height * PT


def tick_labels(axis: Axis) -> list[str]:
    """The major tick labels ``axis`` will draw (the locator and formatter once, no Tick objects)."""
    fmt = axis.get_major_formatter()
    if isinstance(fmt, FixedFormatter):
        return [str(s) for s in fmt.seq]
    lo, hi = sorted(axis.get_view_interval())
    locs = [v for v in axis.get_majorticklocs() if lo - 1e-9 * abs(hi - lo) <= v <= hi + 1e-9 * abs(hi - lo)]
    return [str(s) for s in fmt.format_ticks(locs)]


def _tick_font(axis: Axis) -> float:
    # the first Tick is the template of the others (tick_params and set_ticks(..., fontsize=) update it)
    return axis.majorTicks[0].label1.get_fontsize()


def _tick_room(axis: Axis) -> float:
    """Inches the tick marks and their pad take outside the Axes."""
    tick = axis.majorTicks[0]
    return (tick.get_tick_padding() + tick.get_pad()) * PT


def yaxis_width(ax: Axes, labels: bool = True) -> float:
    """Inches the y axis takes beside the Axes: ticks, tick labels and the axis label (on their side)."""
    axis = ax.yaxis
    if not axis.get_visible():
        return 0.0
    size = _tick_font(axis)
    width = _tick_room(axis)
    if labels:
        width += max((text_size(s, size)[0] for s in tick_labels(axis)), default=0.0)
    if axis.label.get_text():
        width += axis.labelpad * PT + text_size(axis.label.get_text(), axis.label.get_fontsize())[1]
    return width


def xaxis_height(ax: Axes, labels: bool = True) -> float:
    """Inches the x axis takes below the Axes: ticks, tick labels and the axis label."""
    axis = ax.xaxis
    if not axis.get_visible():
        return 0.0
    height = _tick_room(axis)
    if labels:
        height += text_size("0", _tick_font(axis))[1]
    if axis.label.get_text():
        height += axis.labelpad * PT + text_size(axis.label.get_text(), axis.label.get_fontsize())[1]
    return height


def xaxis_overhang(ax: Axes) -> float:
    """Inches a centred x tick label at the right end of the Axes can reach beyond it (half the widest)."""
    axis = ax.xaxis
    if not axis.get_visible() or not axis.majorTicks[0].label1.get_visible():
        return 0.0
    return 0.5 * max((text_size(s, _tick_font(axis))[0] for s in tick_labels(axis)), default=0.0)


def title_height(ax: Axes, loc: str = "left", pad: float | None = None) -> float:
    """Inches the title at ``loc`` takes above the Axes with its ``pad`` (points; default ``axes.titlepad``)."""
    title = {"left": ax._left_title, "center": ax.title, "right": ax._right_title}[loc]
    if not title.get_text():
        return 0.0
    pad = matplotlib.rcParams["axes.titlepad"] if pad is None else pad
    return pad * PT + text_size(title.get_text(), title.get_fontsize(), title.get_fontweight())[1]


def legend_width(labels, fontsize=None, title: str | None = None, title_fontsize=None,
                 handlelength: float | None = None) -> float:
    """Inches a frameless legend of ``labels`` takes from its anchor (its pads, handles and longest entry)."""
    rc = matplotlib.rcParams
    size = _points(fontsize if fontsize is not None else rc["legend.fontsize"])
    handle = handlelength if handlelength is not None else rc["legend.handlelength"]
    text = max((text_size(s, size)[0] for s in labels), default=0.0)
    entries = (rc["legend.borderpad"] + handle + rc["legend.handletextpad"]) * size * PT + text
    if title:
        tsize = _points(title_fontsize if title_fontsize is not None else size)
        entries = max(entries, rc["legend.borderpad"] * size * PT + text_size(title, tsize)[0])
    return entries + (rc["legend.borderpad"] + rc["legend.borderaxespad"]) * size * PT


def place(fig: Figure, left: float, right: float, top: float, bottom: float, hgap: float = 0.0) -> None:
    """Put the figure's grid of Axes ``left``/``right``/``top``/``bottom`` inches from its edges, rows ``hgap``
    inches apart (``EDGE`` is added on every side)."""
    width, height = fig.get_size_inches()
    left, right, top, bottom = left + EDGE, right + EDGE, top + EDGE, bottom + EDGE
    gs = next((a.get_subplotspec().get_gridspec() for a in fig.axes if a.get_subplotspec()), None)
    rows = gs.nrows if gs is not None else 1
    cell = (height - top - bottom - (rows - 1) * hgap) / rows       # mean row height
    fig.subplots_adjust(left=left / width, right=1.0 - right / width, top=1.0 - top / height,
                        bottom=bottom / height, hspace=hgap / cell if rows > 1 and cell > 0 else 0.0)


def fit_axes(ax: Axes, right: float = 0.0) -> None:
    """Place the single Axes of its figure: its y axis left, title above, x axis below, ``right`` inches (a
    legend, at least the overhang of the last x tick label) on the right; then pin its axis labels."""
    place(ax.get_figure(root=True), left=yaxis_width(ax), right=max(right, xaxis_overhang(ax)),
          top=title_height(ax), bottom=xaxis_height(ax))
    pin_axis_labels(ax)


def pin_axis_labels(*axes: Axes) -> None:
    """Fix each Axes' x and y axis labels where matplotlib would put them (``labelpad`` beyond the tick labels),
    as an offset in inches from the Axes' edge (``set_label_coords``), so that drawing does not measure every
    tick label of the axis, and of its siblings, a second time to find the place. Call it once the figure's size
    and ticks are set."""
    for ax in axes:
        inches = ax.get_figure(root=True).dpi_scale_trans
        ya = ax.yaxis
        if ya.get_visible() and ya.label.get_text():
            side = ya.get_label_position()
            tick = ya.majorTicks[0]
            shown = (tick.label1 if side == "left" else tick.label2).get_visible()
            labels = max((text_size(s, _tick_font(ya))[0] for s in tick_labels(ya)), default=0.0) if shown else 0.0
            away = (_tick_room(ya) + labels if labels else 0.0) + ya.labelpad * PT
            edge, shift = (0.0, -away) if side == "left" else (1.0, away)
            ya.set_label_coords(edge, 0.5, ax.transAxes + ScaledTranslation(shift, 0.0, inches))
        xa = ax.xaxis
        if xa.get_visible() and xa.label.get_text() and xa.get_label_position() == "bottom":
            shown = xa.majorTicks[0].label1.get_visible() and tick_labels(xa)
            away = (_tick_room(xa) + text_size("0", _tick_font(xa))[1] if shown else 0.0) + xa.labelpad * PT
            xa.set_label_coords(0.5, 0.0, ax.transAxes + ScaledTranslation(0.0, -away, inches))


# -- rendering -------------------------------------------------------------------------------------------
def png_bytes(fig: Figure, dpi: float, compress_level: int = 1) -> bytes:
    """The figure drawn once with Agg at ``dpi`` on white, as a PNG (``encode_png``).

    Drawn with matplotlib's own graphics contexts: importing ``pandapower.plotting`` (which ``import pandapower``
    does) replaces ``RendererBase.new_gc`` for the whole process with one that rounds every line's caps, which
    turns dotted lines into dashes; a figure must not look different because of what else the process imported
    (the command line defers pandapower's ``__init__``, the report's second process never imports it)."""
    from matplotlib.backend_bases import GraphicsContextBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg     # as savefig does: only when drawing

    old_dpi = fig.dpi
    try:
        fig.dpi = dpi
        fig.patch.set_facecolor("white")
        canvas = FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()      # the one draw() uses (same size and dpi)
        renderer.new_gc = GraphicsContextBase   # matplotlib's own, even where a library replaced it
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
    finally:
        fig.dpi = old_dpi
    return encode_png(rgba, dpi, compress_level)


def encode_png(rgba: np.ndarray, dpi: float, compress_level: int = 1) -> bytes:
    """An 8-bit RGBA PNG of ``rgba`` (height x width x 4, uint8) with its resolution (pHYs) recorded. Each row is
    stored as its difference to the row above (PNG filter "Up": one vectorised subtraction, where PIL tries five
    filters per row); zlib level ``compress_level``."""
    height, width, _ = rgba.shape
    flat = rgba.reshape(height, 4 * width)
    raw = np.empty((height, 1 + 4 * width), dtype=np.uint8)
    raw[:, 0] = 2                                               # filter "Up" on every row
    raw[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=raw[1:, 1:])           # uint8: wraps modulo 256, as PNG wants
    ppm = int(round(dpi / 0.0254))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)),
        chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
        chunk(b"tEXt", b"Software\x00gridsim (matplotlib " + matplotlib.__version__.encode("ascii") + b")"),
        chunk(b"IDAT", zlib.compress(raw.tobytes(), compress_level)),
        chunk(b"IEND", b""),
    ])

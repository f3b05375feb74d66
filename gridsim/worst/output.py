"""worst.csv, the vulnerability curve and the map of the worst attack, written atomically."""

from __future__ import annotations

from pathlib import Path


def write_worst(worst, out_dir: str | Path, places: dict | None = None) -> dict[str, Path]:
    """worst.csv (``gridsim.worst.search.WORST_COLUMNS``), worst_curve.png and worst_map.png (the worst
    attack of the largest k on the grid, protected assets marked; needs the attack's re-simulated Result).
    ``places``: asset label -> (branch names, bus names), from ``gridsim.worst.assets.element_names``."""
    from gridsim._atomic import atomic_write_bytes, atomic_write_text
    from gridsim.report.ranking import png_bytes
    from gridsim.report.worst_plots import plot_vulnerability, plot_worst_map

    out = Path(out_dir)
    table = worst.table()
    written = {"worst.csv": atomic_write_text(out / "worst.csv", table.to_csv(index=False, float_format="%.10g"))}
    title = f"{worst.scenario.name}: worst case of k {worst.kind} assets lost together"
    written["worst_curve.png"] = atomic_write_bytes(out / "worst_curve.png",
                                                    png_bytes(plot_vulnerability(table, title=title)))
    last = max(worst.attacks, key=lambda a: a.k) if worst.attacks else None
    if last is not None and last.result is not None:
        fig = plot_worst_map(last.result, last, worst.protected, places if places is not None else worst.places,
                             worst.kind)
        written["worst_map.png"] = atomic_write_bytes(out / "worst_map.png", png_bytes(fig))
    return written

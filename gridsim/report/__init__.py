"""Figures and the self-contained HTML outage report of a Result."""

from gridsim.report.html import write_report
from gridsim.report.map import plot_map
from gridsim.report.plots import plot_cascade, plot_regions

__all__ = ["plot_cascade", "plot_map", "plot_regions", "write_report"]

"""Result: what one simulation produced, as tidy tables indexed by element name.

Units are in column names. Every table mirrors the input network's element names. ``to_dir`` writes the
machine-readable outputs (JSON and CSV) atomically; the report package adds figures and HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim._atomic import atomic_write_text

#: causes of unserved demand, in the order they are attributed
CAUSES = ("isolated", "deficit", "network", "cascade")


@dataclass
class Result:
    """The outcome of one scenario.

    Tables (pandas DataFrames):

    - ``loads`` (index: load name): ``bus``, ``substation``, ``region``, ``island`` (-1 when its bus is
      destroyed or de-energised without an island id), ``priority``, ``customers``, ``demand_mw``,
      ``served_mw``, ``unserved_mw``, ``unserved_<cause>_mw`` for every cause in CAUSES, and ``cause``
      (the main cause of its unserved demand, "" when fully served).
    - ``regions`` (index: region name): ``demand_mw``, ``served_mw``, ``unserved_mw``, ``unserved_pct``,
      ``unserved_<cause>_mw``, ``customers``, ``customers_without_power``, ``x_km``, ``y_km``.
    - ``islands`` (index: island id, int): ``n_buses``, ``demand_mw``, ``capacity_mw``, ``served_mw``,
      ``unserved_mw``, ``slack`` (unit name or ""), ``status`` (converged | fallback-dc | diverged | dead),
      ``energised`` (bool).
    - ``buses`` (index: bus name): ``substation``, ``region``, ``vn_kv``, ``x_km``, ``y_km``, ``island``,
      ``energised``, ``destroyed`` (bool: taken out by the scenario), ``vm_pu`` (NaN when not energised).
    - ``branches`` (index: branch name): ``kind`` (line | trafo), ``from_bus``, ``to_bus`` (bus names),
      ``vn_kv`` (highest voltage), ``region``, ``in_service``, ``outaged`` (removed by the scenario),
      ``tripped`` (removed by a cascade), ``p_from_mw``, ``loading_percent`` (NaN when not flowing),
      ``overloaded`` (bool, loading above 100 %).
    - ``generators`` (index: unit name): ``plant``, ``fuel``, ``kind``, ``region``, ``bus``, ``max_p_mw``
      (before damage), ``available_mw`` (after damage), ``p_mw`` (dispatch), ``island``, ``slack`` (bool).
    - ``outages``: one row per element the scenario touched: ``asset`` (as written in the scenario),
      ``asset_kind``, ``element_kind`` (bus, line, trafo, gen, load), ``element`` (its name), ``action``
      (out | derated), ``capacity_before_mw``, ``capacity_after_mw``.
    - ``cascade_steps``: one row per cascade step (empty unless response is cascade).
    - ``timeline``: one row per step and region (empty unless the scenario has a ``timeline``): ``step``,
      ``time_h`` (step start), ``region``, ``demand_mw``, ``served_mw``, ``unserved_mw``,
      ``unserved_<cause>_mw``, ``customers_without_power``; the other tables are then the snapshot at the
      step of peak unserved demand.
    - ``restoration`` (scenarios with a ``restoration`` block): the chosen repair schedule, one row per repair
      (``asset``, ``crew``, ``strike_h``, ``start_h``, ``end_h``, ``work_h``, ``mw_back_at_peak``), and
      ``restoration_compare``: total demand, served and unserved per step under the chosen, greedy and listed
      orders.
    - ``hydro`` (timelines on a network with a river, ``gridsim.water``): one row per river plant and step:
      ``plant``, ``time_h``, ``p_mw``, ``discharge_m3s``, ``inflow_m3s`` (natural plus arriving from upstream),
      ``spill_m3s``, ``storage_hm3`` (end of step), ``pump_mw``.

    ``summary`` is the JSON-ready dict written to summary.json.
    """

    scenario_name: str
    network_name: str
    summary: dict
    loads: pd.DataFrame
    regions: pd.DataFrame
    islands: pd.DataFrame
    buses: pd.DataFrame
    branches: pd.DataFrame
    generators: pd.DataFrame
    outages: pd.DataFrame
    cascade_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    timings_s: dict = field(default_factory=dict)
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline_timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    restoration: pd.DataFrame = field(default_factory=pd.DataFrame)
    restoration_compare: pd.DataFrame = field(default_factory=pd.DataFrame)
    hydro: pd.DataFrame = field(default_factory=pd.DataFrame)

    # -- convenience -------------------------------------------------------------------------------------
    @property
    def demand_mw(self) -> float:
        return float(self.summary["demand_mw"])

    @property
    def served_mw(self) -> float:
        return float(self.summary["served_mw"])

    @property
    def unserved_mw(self) -> float:
        return float(self.summary["unserved_mw"])

    @property
    def status(self) -> str:
        return str(self.summary["status"])

    # -- output ------------------------------------------------------------------------------------------
    def to_dir(self, outdir: str | Path) -> dict[str, Path]:
        """Write summary.json and the CSV tables to ``outdir`` atomically; return name -> path."""
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        written = {"summary.json": atomic_write_text(outdir / "summary.json",
                                                     json.dumps(_jsonable(self.summary), indent=2) + "\n")}
        tables = {
            "loads.csv": self.loads.rename_axis("name"),
            "regions.csv": self.regions.rename_axis("region"),
            "islands.csv": self.islands.rename_axis("island"),
            "branches.csv": self.branches.rename_axis("name"),
            "buses.csv": self.buses.rename_axis("name"),
            "generators.csv": self.generators.rename_axis("name"),
            "outages.csv": self.outages,
        }
        for fname, df in (("cascade.csv", self.cascade_steps), ("timeline.csv", self.timeline),
                          ("timeline_baseline.csv", self.baseline_timeline), ("restoration.csv", self.restoration),
                          ("restoration_orders.csv", self.restoration_compare),
                          ("hydro.csv", self.hydro)):
            if len(df):
                tables[fname] = df
            elif (outdir / fname).exists():
                (outdir / fname).unlink()     # left by an earlier run of another kind of scenario
        for fname, df in tables.items():
            index = fname in ("loads.csv", "regions.csv", "islands.csv", "branches.csv", "buses.csv",
                              "generators.csv")
            written[fname] = atomic_write_text(outdir / fname, df.to_csv(index=index, float_format="%.10g"))
        return written


def _jsonable(obj):
    """Convert numpy scalars/arrays and NaN inside nested dicts/lists to plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if np.isnan(v) else v
    return obj

"""River data: which hydro plant is below which, how long the water takes, reservoirs, inflows, heads.

A network declares its water plants in ``net["river"]``, a DataFrame with one row per plant (docs/water.md):

======================  ================================================================================
column                  meaning
======================  ================================================================================
``plant``               the plant (``gen.plant``) whose units turn this water into power
``downstream``          the plant next down the river ("" or missing: the water leaves the modelled river)
``travel_h``            hours the water takes from this plant to ``downstream``
``storage_min_hm3``     lowest storage operators may draw the reservoir to (hm³)
``storage_max_hm3``     highest storage (full supply level) (hm³)
``storage_init_hm3``    storage at hour 0 (hm³)
``inflow_m3s``          natural inflow between the plant upstream and this one (m³/s): a number, or a list
                        of hourly values from hour 0 (the last one held)
``mw_per_m3s``          power per unit of turbine discharge (MW per m³/s; about 9.81 x head (m) x
                        efficiency / 1000)
``pump_mw``             pumped storage only: pumping power (MW); 0 for a plain hydro plant
``efficiency``          pumped storage only: round-trip efficiency (energy back per energy pumped)
``in_service``          the dam stands (a ``dam:`` outage sets it False on the damaged copy)
======================  ================================================================================

Units: storage in hm³ (10⁶ m³), flows in m³/s, so a flow of ``q`` m³/s for ``h`` hours moves
``q * h * M3S_HOUR_HM3`` hm³. Pumped storage's upper reservoir is a row like any other (no inflow, no
downstream: its lower basin is taken as unlimited). MATPOWER and pandapower cases declare no river.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridsim.errors import NetworkError

#: hm³ moved by 1 m³/s during one hour
M3S_HOUR_HM3 = 3600.0 / 1e6
#: the columns of ``net["river"]`` with their defaults (None: required)
RIVER_COLUMNS: dict[str, object] = {
    "plant": None, "downstream": "", "travel_h": 0.0, "storage_min_hm3": 0.0, "storage_max_hm3": None,
    "storage_init_hm3": None, "inflow_m3s": 0.0, "mw_per_m3s": None, "pump_mw": 0.0, "efficiency": 0.75,
    "in_service": True,
}
#: the most hours of water travel between two plants gridsim accepts
MAX_TRAVEL_H = 24.0 * 30


def has_river(net) -> bool:
    river = net["river"] if "river" in net else None
    return isinstance(river, pd.DataFrame) and len(river) > 0


def river_table(net) -> pd.DataFrame:
    """``net["river"]`` checked and completed (defaults filled), indexed 0..n-1 in river order (every plant
    before the plants below it); raises NetworkError saying what is wrong and how to fix it."""
    raw = net["river"].copy()
    missing = [c for c, d in RIVER_COLUMNS.items() if d is None and c not in raw.columns]
    if missing:
        raise NetworkError(f"net['river'] lacks the column(s) {', '.join(missing)} (see docs/water.md)")
    for col, default in RIVER_COLUMNS.items():
        if col not in raw.columns:
            raw[col] = [default] * len(raw)
    raw["plant"] = raw["plant"].astype(str)
    raw["downstream"] = raw["downstream"].fillna("").astype(str)
    raw["in_service"] = raw["in_service"].fillna(True).astype(bool)
    for col in ("travel_h", "storage_min_hm3", "storage_max_hm3", "storage_init_hm3", "mw_per_m3s", "pump_mw",
                "efficiency"):
        raw[col] = pd.to_numeric(raw[col], errors="coerce")
    _check(raw, net)
    return raw.iloc[_river_order(raw)].reset_index(drop=True)


def _check(river: pd.DataFrame, net) -> None:
    def fail(row, message: str):
        raise NetworkError(f"net['river'], plant '{row.plant}': {message} (see docs/water.md)")

    if river["plant"].duplicated().any():
        raise NetworkError(f"net['river'] lists plant '{river['plant'][river['plant'].duplicated()].iloc[0]}' twice")
    plants = set(net.gen["plant"].astype(str)) if "plant" in net.gen else set()
    names = set(river["plant"])
    for row in river.itertuples():
        if row.plant not in plants:
            fail(row, "no unit of the network has this plant name (gen.plant)")
        if row.downstream and row.downstream not in names:
            fail(row, f"its downstream plant '{row.downstream}' is not in the river table")
        values = [row.travel_h, row.storage_min_hm3, row.storage_max_hm3, row.storage_init_hm3, row.mw_per_m3s,
                  row.pump_mw, row.efficiency]
        if not all(np.isfinite(v) for v in values):
            fail(row, "travel_h, storage_*_hm3, mw_per_m3s, pump_mw and efficiency must be numbers")
        if not 0 <= row.storage_min_hm3 <= row.storage_init_hm3 <= row.storage_max_hm3:
            fail(row, "expected 0 <= storage_min_hm3 <= storage_init_hm3 <= storage_max_hm3")
        if row.mw_per_m3s <= 0 or row.pump_mw < 0 or not 0 < row.efficiency <= 1:
            fail(row, "expected mw_per_m3s > 0, pump_mw >= 0 and 0 < efficiency <= 1")
        if not 0 <= row.travel_h <= MAX_TRAVEL_H:
            fail(row, f"travel_h must be between 0 and {MAX_TRAVEL_H:g} h")
        inflow = np.atleast_1d(np.asarray(row.inflow_m3s, dtype=float))
        if not len(inflow) or not np.isfinite(inflow).all() or (inflow < 0).any():
            fail(row, "inflow_m3s must be a number >= 0 or a list of them (hourly, from hour 0)")


def _river_order(river: pd.DataFrame) -> list[int]:
    """Positions of the rows, every plant before its downstream plant (NetworkError on a loop)."""
    down = dict(zip(river["plant"], river["downstream"]))
    depth: dict[str, int] = {}
    for plant in down:
        seen, p, n = set(), plant, 0
        while down.get(p):
            if p in seen:
                raise NetworkError(f"net['river']: the river runs in a loop through '{p}'")
            seen.add(p)
            p, n = down[p], n + 1
        depth[plant] = n
    return sorted(range(len(river)), key=lambda i: (-depth[river["plant"].iat[i]], i))


def inflow_series(river: pd.DataFrame, n_steps: int, step_h: float) -> np.ndarray:
    """Natural inflow (m³/s) per plant (rows) and step (columns): the value in force at each step's start."""
    out = np.zeros((len(river), n_steps))
    hours = np.floor(np.arange(n_steps) * step_h + 1e-9).astype(int)
    for i, value in enumerate(river["inflow_m3s"]):
        v = np.atleast_1d(np.asarray(value, dtype=float))
        out[i] = v[np.minimum(hours, len(v) - 1)]
    return out


def steady_release(river: pd.DataFrame, inflow: np.ndarray) -> np.ndarray:
    """Per plant, the flow leaving it before hour 0 (m³/s): the river in steady state, every plant passing on
    its natural inflow at hour 0 plus what reaches it from above."""
    out = np.zeros(len(river))
    pos = {p: i for i, p in enumerate(river["plant"])}
    for i in range(len(river)):          # river order: upstream plants first
        out[i] += inflow[i, 0] if inflow.shape[1] else 0.0
        down = river["downstream"].iat[i]
        if down:
            out[pos[down]] += out[i]
    return out

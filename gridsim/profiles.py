"""Demand and solar over time: the built-in daily demand shapes, CSV profiles, and the sun.

Demand factors multiply every load of the scenario (already at its ``load_level``): 1.0 is the scenario's
demand. The built-in shapes are hourly, relative to a winter weekday's evening peak (1.0 at 18:00), shaped
like the published daily load curves of Central/Eastern European systems (night trough about 60 % of the
evening peak, a morning shoulder, the evening peak; summer lower, with a midday plateau). Solar output is
a clear-sky half-sine between sunrise and sunset, with the season's noon output as a fraction of nameplate.
All of it is data, not code: a CSV replaces the demand shape, region by region if it has a ``region`` column,
and may give wind and solar availability hour by hour (``wind``, ``solar`` columns).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from gridsim.errors import ScenarioError
from gridsim.limits import clip, read_limited, resolve_inside

#: hourly demand factors (hour 0..23, hour h covers h:00-h+1:00)
SHAPES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "winter-weekday": (0.66, 0.63, 0.61, 0.60, 0.61, 0.65, 0.74, 0.85, 0.91, 0.92, 0.91, 0.90,
                       0.89, 0.88, 0.88, 0.89, 0.92, 0.98, 1.00, 0.99, 0.95, 0.88, 0.79, 0.71),
    "winter-weekend": (0.64, 0.61, 0.59, 0.58, 0.58, 0.59, 0.63, 0.69, 0.76, 0.82, 0.85, 0.86,
                       0.86, 0.84, 0.83, 0.84, 0.87, 0.93, 0.96, 0.95, 0.91, 0.85, 0.77, 0.69),
    "summer-weekday": (0.50, 0.47, 0.45, 0.45, 0.46, 0.50, 0.57, 0.65, 0.70, 0.72, 0.73, 0.74,
                       0.74, 0.73, 0.72, 0.72, 0.72, 0.73, 0.74, 0.75, 0.76, 0.72, 0.64, 0.56),
    "summer-weekend": (0.48, 0.45, 0.43, 0.42, 0.42, 0.44, 0.48, 0.53, 0.59, 0.63, 0.65, 0.66,
                       0.66, 0.65, 0.64, 0.64, 0.65, 0.67, 0.69, 0.70, 0.71, 0.68, 0.61, 0.54),
}
#: (sunrise h, sunset h, noon output as a fraction of nameplate) by month (1..12)
SUN = {1: (8.0, 16.3, 0.30), 2: (7.3, 17.3, 0.40), 3: (6.3, 18.2, 0.52), 4: (6.0, 19.8, 0.62),
       5: (5.2, 20.6, 0.70), 6: (4.8, 21.1, 0.72), 7: (5.1, 21.0, 0.72), 8: (5.8, 20.2, 0.68),
       9: (6.6, 19.0, 0.58), 10: (7.4, 17.9, 0.46), 11: (7.3, 16.3, 0.33), 12: (7.9, 16.0, 0.28)}
DEFAULT_START = datetime(2026, 1, 14)     # a winter Wednesday, midnight
MAX_PROFILE_ROWS = 200_000
MAX_PROFILE_BYTES = 20 * 1024 * 1024


def season(when: datetime) -> str:
    return "winter" if when.month in (10, 11, 12, 1, 2, 3) else "summer"


def day_shape(name: str, when: datetime) -> tuple[float, ...]:
    """The hourly shape in force on ``when``'s day (``auto``: its season and weekday)."""
    if name == "auto":
        name = f"{season(when)}-{'weekend' if when.weekday() >= 5 else 'weekday'}"
    return SHAPES[name]


def solar_fraction(when: datetime) -> float:
    """Solar output as a fraction of nameplate at ``when`` (clear sky)."""
    rise, set_, noon = SUN[when.month]
    h = when.hour + when.minute / 60.0
    if h <= rise or h >= set_:
        return 0.0
    return float(noon * np.sin(np.pi * (h - rise) / (set_ - rise)))


@dataclass
class Profile:
    """Demand factor per step, overall and per region (regions not listed use the overall factor)."""

    total: np.ndarray                     # per step
    by_region: dict[str, np.ndarray]      # region -> per step
    availability: dict[str, np.ndarray] = field(default_factory=dict)   # fuel (wind, solar) -> per step


def step_times(start: datetime | None, n_steps: int, step_h: float) -> list[datetime]:
    """The middle of each step, as a date and time."""
    t0 = start or DEFAULT_START
    return [t0 + timedelta(hours=(k + 0.5) * step_h) for k in range(n_steps)]


def demand_profile(spec: str, base_dir: Path, start: datetime | None, n_steps: int, step_h: float,
                   root: Path | None = None) -> Profile:
    """The demand factors of a built-in shape name or a CSV file (inside ``root`` when one is given: the
    scenario's network root)."""
    times = step_times(start, n_steps, step_h)
    if spec in SHAPES or spec == "auto":
        total = np.array([day_shape(spec, t)[t.hour] for t in times])
        return Profile(total, {})
    path = Path(base_dir) / spec
    if root is not None and path.exists() and resolve_inside(path, root) is None:
        raise ScenarioError(f"timeline.profile: {clip(path, 200)} is outside the network root {clip(root, 200)} "
                            "(--network-root): only files inside it are read")
    return _csv_profile(path, start or DEFAULT_START, times, step_h)


#: availability columns a profile CSV may carry besides ``factor`` (fractions of nameplate, 0..1)
AVAILABILITY_COLUMNS = ("wind", "solar")


def _csv_profile(path: Path, start: datetime, times: list[datetime], step_h: float) -> Profile:
    if not path.exists():
        raise ScenarioError(f"timeline.profile: no built-in profile or file named '{path.name}' ({path}); "
                            f"built-ins: {', '.join(['auto', *SHAPES])}")
    rows = _read_rows(path)
    expected = "columns hour (or timestamp), optional region, factor, and optional wind, solar"
    if not rows:
        raise ScenarioError(f"{path}: the profile has no rows; expected {expected}")
    keys = set(rows[0])
    if not ({"factor", *AVAILABILITY_COLUMNS} & keys) or not ({"hour", "timestamp"} & keys):
        raise ScenarioError(f"{path}: expected {expected}; got {', '.join(sorted(keys))}")
    series: dict[str, list[tuple[float, float]]] = {}
    extra: dict[str, list[tuple[float, float]]] = {c: [] for c in AVAILABILITY_COLUMNS if c in keys}
    for line, row in enumerate(rows, start=2):
        at = _row_hour(path, line, row, start)
        if row.get("factor", "") != "":
            factor = _row_number(path, line, row, "factor", 10.0)
            series.setdefault((row.get("region") or "").strip(), []).append((at, factor))
        for col in extra:
            if row.get(col, "") != "":
                extra[col].append((at, _row_number(path, line, row, col, 1.0)))
    hours = np.array([(t - start).total_seconds() / 3600.0 - 0.5 * step_h for t in times])
    values = {r: _lookup(sorted(pts), hours) for r, pts in series.items()}
    total = values.pop("", np.ones(len(times)))
    availability = {c: _lookup(sorted(pts), hours) for c, pts in extra.items() if pts}
    return Profile(total, values, availability)


def _row_hour(path: Path, line: int, row: dict, start: datetime) -> float:
    try:
        if row.get("timestamp"):
            at = (datetime.fromisoformat(row["timestamp"]) - start).total_seconds() / 3600.0
        else:
            at = float(row["hour"])
    except (ValueError, TypeError, KeyError):
        raise ScenarioError(f"{path}:{line}: expected an hour (a number) or an ISO timestamp; got "
                            f"{clip(dict(list(row.items())[:3]))}") from None
    if not np.isfinite(at):
        raise ScenarioError(f"{path}:{line}: the hour must be a finite number")
    return at


def _row_number(path: Path, line: int, row: dict, col: str, top: float) -> float:
    try:
        value = float(row[col])
    except (ValueError, TypeError):
        raise ScenarioError(f"{path}:{line}: {col} must be a number; got {clip(row[col])}") from None
    if not 0.0 <= value <= top:
        raise ScenarioError(f"{path}:{line}: {col} must be between 0 and {top:g}, got {value:g}")
    return value


def _lookup(points: list[tuple[float, float]], hours: np.ndarray) -> np.ndarray:
    """The factor in force at each hour: the last row at or before it; rows within one day repeat daily."""
    at = np.array([p[0] for p in points])
    f = np.array([p[1] for p in points])
    h = hours % 24.0 if at.max() < 24.0 else hours
    idx = np.searchsorted(at, h + 1e-9, side="right") - 1
    return f[np.clip(idx, 0, len(f) - 1)]


def _read_rows(path: Path) -> list[dict]:
    data = read_limited(path, MAX_PROFILE_BYTES, "MAX_PROFILE_BYTES", "profile file",
                        lambda msg: ScenarioError(f"{clip(path, 200)}: {msg}"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{clip(path, 200)}: a profile must be a UTF-8 CSV text file") from None
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for row in reader:
            rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
            if len(rows) > MAX_PROFILE_ROWS:
                raise ScenarioError(f"{path}: a profile has at most {MAX_PROFILE_ROWS:,} rows")
    return rows

"""Network files from others, checked before a third-party reader sees them.

A file that is not what its extension says, or that names more than a network needs, is a NetworkError that
names the file and what was expected, in gridsim's words, before matpowercaseframes or pandapower read it:

- ``check_matpower_text``: a MATPOWER ``.m`` case has ``mpc.baseMVA`` (a positive number) and the matrices
  ``mpc.bus`` (>= 13 columns), ``mpc.gen`` (>= 10) and ``mpc.branch`` (>= 13), every row as long as the first,
  every cell a number, unique bus numbers, and every generator and branch on a bus of the bus table.
- ``check_pandapower_json``: a pandapower ``.json`` file is one object saved by ``pandapower.to_json``
  (``"_class": "pandapowerNet"``) whose every ``_module`` (also inside the nested JSON strings that hold its
  tables) is one a pandapower network needs (``ALLOWED_MODULES``): pandapower imports any module a file names
  before its own allow-list looks at the object, so a file naming ``os`` or ``subprocess`` is refused here,
  unread by pandapower.
- ``check_pandapower_tables``: what pandapower built has the tables and columns a network needs, and every
  element sits on a bus that exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from gridsim.errors import NetworkError
from gridsim.limits import MAX_NAME_CHARS, clip, limit_text

#: module names a pandapower network file may name: these packages and their submodules
ALLOWED_MODULES: tuple[str, ...] = ("pandapower", "pandas", "numpy", "builtins", "geopandas", "shapely", "networkx")
#: classes that are code rather than data; a network does not need them
REFUSED_CLASSES = frozenset({"function", "method", "exec", "eval"})

#: matrix -> (fewest columns, what the columns start with), MATPOWER case format version 2
MATPOWER_MATRICES = {"bus": (13, "bus_i type Pd Qd Gs Bs area Vm Va baseKV zone Vmax Vmin"),
                     "gen": (10, "bus Pg Qg Qmax Qmin Vg mBase status Pmax Pmin"),
                     "branch": (13, "fbus tbus r x b rateA rateB rateC ratio angle status angmin angmax")}

_EXPECTED_M = ("expected a MATPOWER case: `mpc.baseMVA = <number>;` and the matrices `mpc.bus = [...];`, "
               "`mpc.gen = [...];` and `mpc.branch = [...];` (MATPOWER case format version 2)")


# -------------------------------------------------------------------------------------------------- MATPOWER

def check_matpower_text(text: str, path: Path) -> None:
    """Raise NetworkError unless ``text`` is a MATPOWER case gridsim can convert (see the module docstring)."""
    base = re.search(r"^\s*mpc\.baseMVA\s*=\s*([^;%\n]*);", text, re.M)
    if base is None:
        raise NetworkError(f"{path}: no `mpc.baseMVA = <number>;` line; {_EXPECTED_M}")
    if not _positive_number(base.group(1)):
        raise NetworkError(f"{path}:{_line(text, base.start(1))}: mpc.baseMVA is {clip(base.group(1).strip())!r}; "
                           "expected a positive number of MVA")
    tables = {name: _matrix(text, name, path) for name in MATPOWER_MATRICES}
    numbers = [int(row[0]) if float(row[0]).is_integer() else row[0] for _, row in tables["bus"]]
    if len(set(numbers)) != len(numbers) or not all(isinstance(n, int) and n > 0 for n in numbers):
        raise NetworkError(f"{path}: the bus numbers (column 1 of mpc.bus) must be distinct whole numbers > 0")
    known = set(numbers)
    for name, columns in (("gen", (0,)), ("branch", (0, 1))):
        for line, row in tables[name]:
            missing = [row[c] for c in columns if row[c] not in known]
            if missing:
                raise NetworkError(f"{path}:{line}: mpc.{name} names bus {missing[0]:g}, which is not in mpc.bus")


def _matrix(text: str, name: str, path: Path) -> list[tuple[int, list[float]]]:
    """(line, row) of ``mpc.<name> = [ ... ];``, every row checked; rows split as MATPOWER writes them."""
    match = re.search(rf"^\s*mpc\.{name}\s*=\s*\[(.*?)\]\s*;", text, re.M | re.S)
    if match is None:
        raise NetworkError(f"{path}: no `mpc.{name} = [...];` matrix; {_EXPECTED_M}")
    fewest, columns = MATPOWER_MATRICES[name]
    rows: list[tuple[int, list[float]]] = []
    first_line = _line(text, match.start(1))
    for offset, raw in enumerate(match.group(1).split("\n")):
        line = first_line + offset
        cells = raw.split("%")[0].replace(";", " ").split()   # one row per line, as the reader takes them
        if not cells:
            continue
        values = []
        for cell in cells:
            value = _number(cell)
            if value is None:
                raise NetworkError(f"{path}:{line}: mpc.{name} holds {clip(cell)!r}; expected numbers only, "
                                   "separated by spaces, one row per line")
            values.append(value)
        if len(values) < fewest:
            raise NetworkError(f"{path}:{line}: a row of mpc.{name} has {len(values)} columns; expected at "
                               f"least {fewest} ({columns})")
        if rows and len(values) != len(rows[0][1]):
            raise NetworkError(f"{path}:{line}: a row of mpc.{name} has {len(values)} columns, the first row "
                               f"{len(rows[0][1])}; every row needs the same number, one row per line")
        rows.append((line, values))
    if not rows and name != "gen":
        raise NetworkError(f"{path}: mpc.{name} is empty; a case needs at least one {name}")
    return rows


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None      # NaN is not a value a case can hold


def _positive_number(text: str) -> bool:
    value = _number(text.strip())
    return value is not None and 0 < value < float("inf")


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# ------------------------------------------------------------------------------------------------ pandapower

def check_pandapower_json(text: str, path: Path) -> None:
    """Raise NetworkError unless ``text`` is a pandapower network saved by ``pandapower.to_json`` that names
    only modules a network needs (see the module docstring). Nothing is imported."""
    expected = ("expected a pandapower network saved with pandapower.to_json (a JSON object with "
                "\"_module\": \"pandapower.auxiliary\" and \"_class\": \"pandapowerNet\")")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetworkError(f"{path}:{exc.lineno}: not valid JSON (column {exc.colno}); {expected}") from None
    except RecursionError:
        raise NetworkError(f"{path}: the JSON is nested too deeply; {expected}") from None
    if not isinstance(data, dict) or data.get("_class") != "pandapowerNet" \
            or data.get("_module") != "pandapower.auxiliary" or not isinstance(data.get("_object"), (dict, str)):
        found = (f"an object with the keys {', '.join(repr(clip(k)) for k in list(data)[:5])}"
                 if isinstance(data, dict) else f"a JSON {type(data).__name__}")
        raise NetworkError(f"{path}: {expected}; found {found}")
    try:
        for module, cls in _signatures(data):
            if not isinstance(module, str) or not _allowed(module):
                raise NetworkError(
                    f"{path}: names the Python module {clip(module)!r}, which a pandapower network does not need; "
                    f"gridsim reads only network files whose objects come from {', '.join(ALLOWED_MODULES)} "
                    "(the file was not handed to pandapower)")
            if cls in REFUSED_CLASSES:
                raise NetworkError(f"{path}: holds a Python {cls} ({clip(module)}), which is code, not network "
                                   "data; the file was not handed to pandapower")
    except RecursionError:
        raise NetworkError(f"{path}: the JSON is nested too deeply; {expected}") from None


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in ALLOWED_MODULES)


def _signatures(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (``_module``, ``_class``) in a decoded pandapower JSON document, including those in strings that
    hold JSON themselves (pandapower stores each table as a JSON string)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "_module" in item or "_class" in item:
                yield item.get("_module"), item.get("_class")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item[:1] in "{[" and "_module" in item:
            try:
                stack.append(json.loads(item))
            except json.JSONDecodeError:
                continue


#: table -> columns every pandapower network has and gridsim reads; bus-reference columns are checked too
NET_TABLES: dict[str, tuple[str, ...]] = {
    "bus": ("vn_kv", "in_service"),
    "load": ("bus", "p_mw", "q_mvar", "in_service"),
    "gen": ("bus", "p_mw", "vm_pu", "in_service"),
    "sgen": ("bus", "p_mw", "in_service"),
    "ext_grid": ("bus", "vm_pu", "in_service"),
    "line": ("from_bus", "to_bus", "length_km", "r_ohm_per_km", "x_ohm_per_km", "max_i_ka", "in_service"),
    "trafo": ("hv_bus", "lv_bus", "sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "in_service"),
}
_BUS_COLUMNS = ("bus", "from_bus", "to_bus", "hv_bus", "lv_bus")


def check_pandapower_tables(net: Any, path: Path) -> None:
    """Raise NetworkError unless ``net`` has the tables and columns of NET_TABLES, at least one bus, and
    every element on an existing bus."""
    what = "a pandapower network needs"
    for table, columns in NET_TABLES.items():
        df = net.get(table) if hasattr(net, "get") else None
        if not isinstance(df, pd.DataFrame):
            raise NetworkError(f"{path}: has no `{table}` table, which {what}")
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise NetworkError(f"{path}: the `{table}` table lacks the column(s) {', '.join(missing)}, which {what}")
    if not len(net["bus"]):
        raise NetworkError(f"{path}: the network has no buses")
    _names_bounded(net, path)
    buses = set(net["bus"].index)
    for table in NET_TABLES:
        df = net[table]
        for column in (c for c in _BUS_COLUMNS if c in df.columns):
            stray = df.index[~df[column].isin(buses)]
            if len(stray):
                raise NetworkError(f"{path}: {table} {stray[0]} is connected to bus {clip(df.at[stray[0], column])}, "
                                   "which is not in the bus table")


#: text columns whose values gridsim shows in tables, the report and messages
_NAME_COLUMNS = ("name", "substation", "region", "plant", "fuel", "kind")


def _names_bounded(net: Any, path: Path) -> None:
    """Names in the network are at most MAX_NAME_CHARS long, like the names a scenario can write."""
    for table in NET_TABLES:
        df = net[table]
        for column in (c for c in _NAME_COLUMNS if c in df.columns):
            lengths = df[column].map(lambda v: len(v) if isinstance(v, str) else 0)
            if len(lengths) and lengths.max() > MAX_NAME_CHARS:
                at = lengths.idxmax()
                raise NetworkError(f"{path}: {table} {at} has a {column} of {lengths[at]:,} characters; names "
                                   f"have {limit_text('MAX_NAME_CHARS', 'characters')}")

"""The name view of a network: the few columns name and selector resolution reads, as plain Python lists.

``gridsim.networks.naming`` resolves names on a ``NameTables``, whichever way it was made:

- ``name_tables(net)`` takes the columns from a pandapowerNet (``NAME_COLUMNS``, where the table has them);
- ``gridsim.networks.index`` stores the same view as JSON in the user's cache, so that ``gridsim validate``
  resolves a scenario's names without building the network or importing pandas and pandapower.

Values are kept as pandas' ``tolist()`` gives them (str, int, float, bool, None; NaN for a missing number), so
``str(value)`` is pandas' ``astype(str)`` and numbers compare as in the frame. This module imports neither
numpy nor pandas.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

#: table -> the columns naming reads (those the network's table has are kept; the others stay absent)
NAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "bus": ("name", "substation", "region", "vn_kv", "mp_bus"),
    "gen": ("name", "kind", "plant", "fuel", "region", "bus", "mp_gen_row"),
    "line": ("name", "from_bus", "to_bus", "region", "mp_branch_row"),
    "trafo": ("name", "hv_bus", "lv_bus", "vn_hv_kv", "region", "mp_branch_row"),
    "load": ("name", "bus", "region"),
    "river": ("plant",),
}

FORMAT = 1   # of ``NameTables.to_dict``; a stored view of another format is rebuilt
_REQUIRED = object()


def isna(value) -> bool:
    """pandas' ``isna`` for one value of a ``tolist()``: None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


class Table:
    """Rows of one element table: ``index`` (the pandapower index) and the columns it has."""

    __slots__ = ("index", "columns", "_pos")

    def __init__(self, index: list[int], columns: dict[str, list]):
        self.index = index
        self.columns = columns
        self._pos: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def col(self, column: str, default=_REQUIRED) -> list:
        """The column's values; ``default`` for every row where the table has no such column (KeyError without
        a default, as ``df[column]``)."""
        if column in self.columns:
            return self.columns[column]
        if default is _REQUIRED:
            raise KeyError(column)
        return [default] * len(self.index)

    def text(self, column: str, default=_REQUIRED) -> list[str]:
        """``col(column).astype(str)``."""
        return [str(v) for v in self.col(column, default)]

    def at(self, idx: int, column: str):
        """``df.at[idx, column]``."""
        if self._pos is None:
            self._pos = {i: p for p, i in enumerate(self.index)}
        return self.col(column)[self._pos[idx]]

    def lookup(self, labels: list, column: str, default=_REQUIRED) -> list:
        """``df[column].reindex(labels)``: the value at each label, NaN where the table has no such row."""
        if self._pos is None:
            self._pos = {i: p for p, i in enumerate(self.index)}
        values = self.col(column, default)
        return [values[self._pos[i]] if i in self._pos else math.nan for i in labels]

    def rows(self, keep: list[bool]) -> Table:
        """The rows where ``keep`` is true (``df[mask]``)."""
        picked = [p for p, k in enumerate(keep) if k]
        return Table([self.index[p] for p in picked], {c: [v[p] for p in picked] for c, v in self.columns.items()})


class NameTables:
    """bus, gen, line, trafo, load and river (``Table``), read like a pandapowerNet (``tables["bus"]``,
    ``tables.bus``, ``"river" in tables``)."""

    def __init__(self, tables: dict[str, Table]):
        self.tables = tables

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def __getattr__(self, name: str) -> Table:
        try:
            return self.__dict__["tables"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "tables": {name: {"index": t.index, "columns": t.columns}
                                             for name, t in self.tables.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> NameTables:
        """The view stored by ``to_dict`` (ValueError for anything else)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tables"), dict):
            raise ValueError("not a stored name view")
        tables = {}
        for name, t in data["tables"].items():
            index, columns = t["index"], t["columns"]
            if name not in NAME_COLUMNS or not isinstance(index, list) or not isinstance(columns, dict) or \
                    any(c not in NAME_COLUMNS[name] or not isinstance(v, list) or len(v) != len(index)
                        for c, v in columns.items()):
                raise ValueError(f"bad stored table {name!r}")
            tables[name] = Table(index, columns)
        if any(name not in tables for name in ("bus", "gen", "line", "trafo", "load")):
            raise ValueError("a stored name view lacks a table")
        return cls(tables)


def name_tables(net) -> NameTables:
    """The name view of ``net`` (a pandapowerNet, or a NameTables, returned as it is)."""
    if isinstance(net, NameTables):
        return net
    import pandas as pd   # loaded already: ``net`` is made of DataFrames

    tables = {}
    for name, columns in NAME_COLUMNS.items():
        df = net[name] if name in net else None
        if name == "river" and not (isinstance(df, pd.DataFrame) and "plant" in df.columns):
            continue                      # a network without a (usable) river table has no dams
        tables[name] = Table([int(i) for i in df.index.tolist()],
                             {c: _plain(df[c].tolist()) for c in columns if c in df.columns})
    return NameTables(tables)


def _plain(values: list) -> list:
    """Python scalars for JSON (an object column's numpy scalars become int/float/bool/str)."""
    return [v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v for v in values]

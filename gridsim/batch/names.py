"""Name resolution for thousands of cases: ``gridsim.outages.resolve_outage``, with a dictionary in front.

``gridsim.networks.naming`` resolves a plain name by comparing it with a whole column (~0.2-1 ms a name). A
case list names thousands of assets, so ``NameIndex`` groups those columns once, for the kinds whose
resolution *is* that column match (``naming._lookup`` through ``naming._by_column``, or the MATPOWER row
match of ``branch: N``), and answers a hit from the dictionary: the same ``Match`` ``resolve_name`` returns
(tests/test_batch_fast.py checks every name of the test networks). On MATPOWER networks ``line: "a-b"`` and
``"a-b#k"`` (``naming._matpower_pair``: a scan of every branch, ~10 ms a name on case2000) are answered from the
branches grouped by their bus pair. Everything else (selectors, misses, ambiguous pairs and their errors) goes to
``resolve_outage`` itself.
"""

from __future__ import annotations

from gridsim.networks import naming
from gridsim.networks.naming import Match
from gridsim.networks.nametables import NameTables, Table, isna, name_tables
from gridsim.outages import resolve_outage

#: kind -> (table of naming._lookup as a function of the name view, column, pandapower table)
_COLUMN_KINDS = {
    "plant": (lambda t: naming._unit_rows(t, "unit"), "plant", "gen"),
    "unit": (lambda t: naming._unit_rows(t, "unit"), "name", "gen"),
    "substation": (lambda t: t.bus, "substation", "bus"),
    "transformer": (lambda t: t.trafo, "name", "trafo"),
    "load": (lambda t: t.load, "name", "load"),
}


class NameIndex:
    """``resolve(outage, index)`` == ``resolve_outage(net, outage, index, source)``, faster for plain names. Both
    work on the network's name view (``gridsim.networks.nametables``), made once, on first use."""

    def __init__(self, net, source=None):
        self.net, self.source = net, source
        self._tables: NameTables | None = None
        self._by_kind: dict[str, dict] = {}

    @property
    def tables(self) -> NameTables:
        if self._tables is None:
            self._tables = name_tables(self.net)
        return self._tables

    def resolve(self, outage, index: int) -> list[Match]:
        if outage.kind != "select":
            hit = self.lookup(outage.kind, outage.target)
            if hit is not None:
                return [hit]
        return resolve_outage(self.tables, outage, index, self.source)

    def lookup(self, kind: str, target) -> Match | None:
        """The match of ``kind: target`` when the index answers it, else None (``resolve_outage`` decides)."""
        table = self._table(kind)
        if table is None:
            return None
        if kind == "line" and naming._matpower(self.tables):
            return _pair_match(table, target)
        return table.get(_key(kind, target))

    def _table(self, kind: str) -> dict | None:
        if kind not in self._by_kind:
            self._by_kind[kind] = self._build(kind)
        return self._by_kind[kind]

    def _build(self, kind: str) -> dict | None:
        t = self.tables
        if kind == "branch":
            return _branch_rows(t)
        if kind == "line" and naming._matpower(t):   # resolve_name tries MATPOWER pairs first
            return naming._bus_pairs(t)
        if kind == "line":
            spec = (lambda v: v.line, "name", "line")
        else:
            spec = _COLUMN_KINDS.get(kind)
        if spec is None:
            return None
        rows: Table = spec[0](t)
        groups: dict[str, list[int]] = {}
        for value, idx in zip(rows.text(spec[1], ""), rows.index):
            groups.setdefault(value, []).append(int(idx))
        return {v: Match(kind, v, [(spec[2], i) for i in idx]) for v, idx in groups.items()}


def _key(kind: str, target):
    if kind != "branch":
        return str(target)
    try:
        return int(target)
    except (TypeError, ValueError):
        return None


def _branch_rows(t: NameTables) -> dict:
    """``branch: N`` -> the line (else transformer) rows with ``mp_branch_row == N``, as ``naming._lookup``."""
    out: dict = {}
    for table in ("line", "trafo"):
        rows = t[table]
        if "mp_branch_row" not in rows:
            continue
        groups: dict[int, list[int]] = {}
        first_name: dict[int, str] = {}
        for row, idx, name in zip(rows.col("mp_branch_row"), rows.index, rows.text("name", "")):
            if isna(row):
                continue
            key = int(row)
            if key not in groups:
                groups[key] = []
                first_name[key] = name
            groups[key].append(int(idx))
        for key, idx in groups.items():
            if key in out:                       # the line table wins
                continue
            out[key] = Match("branch", f"branch {key} ({first_name[key]})", [(table, i) for i in idx])
    return out


def _pair_match(pairs: dict, target) -> Match | None:
    """``naming._matpower_pair``'s match of ``"a-b"`` / ``"a-b#k"`` from ``naming._bus_pairs``, or None where it
    would raise (no such pair, an ambiguous pair, a circuit number out of range) or the text is not a pair."""
    m = naming._PAIR.match(str(target))
    if not m:
        return None
    a, b, circuit = int(m.group(1)), int(m.group(2)), m.group(3)
    found = pairs.get((min(a, b), max(a, b)))
    if not found:
        return None
    if circuit is None:
        if len(found) != 1:
            return None
        chosen = found[0]
    else:
        k = int(circuit)
        if not 1 <= k <= len(found):
            return None
        chosen = found[k - 1]
    _, table, idx, name = chosen
    return Match("line", name, [(table, idx)])

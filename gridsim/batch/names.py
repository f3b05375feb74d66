"""Name resolution for thousands of cases: ``gridsim.outages.resolve_outage``, with a dictionary in front.

``gridsim.networks.naming`` resolves a plain name by comparing it with a whole column (~0.2-1 ms a name). A
case list names thousands of assets, so ``NameIndex`` groups those columns once, for the kinds whose
resolution *is* that column match (``naming._lookup`` through ``naming._by_column``, or the MATPOWER row
match of ``branch: N``), and answers a hit from the dictionary: the same ``Match`` ``resolve_name`` returns
(tests/test_batch_fast.py checks every name of the test networks). Everything else (selectors, MATPOWER
``line: "a-b"`` pairs, misses and their did-you-mean errors) goes to ``resolve_outage`` itself.
"""

from __future__ import annotations

from gridsim.networks import naming
from gridsim.networks.naming import Match
from gridsim.outages import resolve_outage

#: kind -> (table of naming._lookup as a function of the net, column, pandapower table)
_COLUMN_KINDS = {
    "plant": (lambda net: naming._units(net, "unit"), "plant", "gen"),
    "unit": (lambda net: naming._units(net, "unit"), "name", "gen"),
    "substation": (lambda net: net.bus, "substation", "bus"),
    "transformer": (lambda net: net.trafo, "name", "trafo"),
    "load": (lambda net: net.load, "name", "load"),
}


class NameIndex:
    """``resolve(outage, index)`` == ``resolve_outage(net, outage, index, source)``, faster for plain names."""

    def __init__(self, net, source=None):
        self.net, self.source = net, source
        self._by_kind: dict[str, dict] = {}

    def resolve(self, outage, index: int) -> list[Match]:
        if outage.kind != "select":
            table = self._table(outage.kind)
            key = _key(outage.kind, outage.target)
            if table is not None and key in table:
                return [table[key]]
        return resolve_outage(self.net, outage, index, self.source)

    def _table(self, kind: str) -> dict | None:
        if kind not in self._by_kind:
            self._by_kind[kind] = self._build(kind)
        return self._by_kind[kind]

    def _build(self, kind: str) -> dict | None:
        net = self.net
        if kind == "branch":
            return _branch_rows(net)
        if kind == "line" and not naming._is_matpower(net):   # resolve_name tries MATPOWER pairs first
            spec = (lambda n: n.line, "name", "line")
        else:
            spec = _COLUMN_KINDS.get(kind)
        if spec is None:
            return None
        df = spec[0](net)
        values = naming._col(df, spec[1]).astype(str)
        return {str(v): Match(kind, str(v), [(spec[2], int(i)) for i in idx])
                for v, idx in df.groupby(values, sort=False).groups.items()}


def _key(kind: str, target):
    if kind != "branch":
        return str(target)
    try:
        return int(target)
    except (TypeError, ValueError):
        return None


def _branch_rows(net) -> dict:
    """``branch: N`` -> the line (else transformer) rows with ``mp_branch_row == N``, as ``naming._lookup``."""
    out: dict = {}
    for table in ("line", "trafo"):
        df = net[table]
        if "mp_branch_row" not in df.columns:
            continue
        groups: dict[int, list[int]] = {}
        first_name: dict[int, str] = {}
        for row, idx, name in zip(df["mp_branch_row"].to_numpy(dtype=float), df.index.to_numpy(),
                                  df["name"].to_numpy()):
            if row != row:                       # NaN rows
                continue
            key = int(row)
            if key not in groups:
                groups[key] = []
                first_name[key] = str(name)
            groups[key].append(int(idx))
        for key, idx in groups.items():
            if key in out:                       # the line table wins
                continue
            out[key] = Match("branch", f"branch {key} ({first_name[key]})", [(table, i) for i in idx])
    return out

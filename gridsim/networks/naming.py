"""Names and selectors -> element indices.

Every outage in a scenario names an asset (``plant: X``, ``line: "11-14"``, ``select: {...}``); this module
turns it into the pandapower elements it stands for, or raises a ScenarioError that says what exists and
what was probably meant. It reads only the data-contract columns (docs/architecture.md), through the name view
of ``gridsim.networks.nametables``: a pandapowerNet and the cached name index of ``gridsim.networks.index``
resolve alike, and this module imports neither numpy nor pandas.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field

from gridsim.errors import ScenarioError, did_you_mean
from gridsim.networks.nametables import NameTables, Table, isna, name_tables

#: asset kinds a scenario may name, with a word for messages
ASSET_WORDS = {
    "plant": "plant", "unit": "unit", "interconnector": "interconnector", "substation": "substation",
    "line": "line", "transformer": "transformer", "bus": "bus", "branch": "branch",
    "generator": "generator", "load": "load", "dam": "dam",
}

_PAIR = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*(?:#\s*(\d+))?\s*$")


@dataclass
class Match:
    """What one outage entry (or one selector hit) refers to."""

    asset_kind: str                      # plant, unit, substation, line, ...
    asset: str                           # the asset's name as gridsim knows it
    elements: list[tuple[str, int]] = field(default_factory=list)   # (pandapower table, index)


def resolve_outage(net, outage, index: int, source=None) -> list[Match]:
    """The assets one scenario outage entry refers to (ScenarioError with location if none). ``net`` is a
    pandapowerNet or its name view."""
    where = {"file": str(source) if source else None, "line": getattr(outage, "line", None),
             "key": f"outages[{index}].{outage.kind}"}
    if outage.kind == "select":
        return resolve_selector(net, outage.select, where)
    return [resolve_name(net, outage.kind, outage.target, where)]


# -- the view --------------------------------------------------------------------------------------------------
def _unit_rows(t: NameTables, kind: str) -> Table:
    return t.gen.rows([(k if not isna(k) else "unit") == kind for k in t.gen.col("kind", "unit")])


def _matpower(t: NameTables) -> bool:
    return "mp_bus" in t.bus and any(not isna(v) for v in t.bus.col("mp_bus"))


# -- lookups by name -----------------------------------------------------------------------------------------
def _by_column(df: Table, column: str, value, table: str, kind: str) -> list[Match]:
    text = str(value)
    hits = [i for i, v in zip(df.index, df.text(column, "")) if v == text]
    if not hits:
        return []
    return [Match(kind, text, [(table, int(i)) for i in hits])]


def _candidates(net, kind: str) -> list[str]:
    """Names a user could have meant for an asset kind (for did-you-mean and listings)."""
    t = name_tables(net)
    if kind == "plant":
        return sorted(set(_unit_rows(t, "unit").text("plant")))
    if kind == "unit":
        return _unit_rows(t, "unit").text("name")
    if kind == "interconnector":
        ic = _unit_rows(t, "interconnector")
        return sorted(set(ic.text("plant")) | set(ic.text("name")))
    if kind == "substation":
        return sorted(set(t.bus.text("substation", "")))
    if kind == "line":
        names = t.line.text("name")
        if _matpower(t):
            names += t.trafo.text("name")
        return names
    if kind in ("transformer", "bus", "load"):
        return t[{"transformer": "trafo"}.get(kind, kind)].text("name")
    if kind == "dam":
        return _river(t).text("plant")
    return []


def _river(t: NameTables) -> Table:
    """The network's river table (``gridsim.water.river``), empty when it declares none."""
    return t["river"] if "river" in t else Table([], {"plant": []})


def _lookup(t: NameTables, kind: str, target) -> list[Match]:
    """Find the elements an asset name refers to (no error handling)."""
    if kind == "plant":
        return _by_column(_unit_rows(t, "unit"), "plant", target, "gen", kind)
    if kind == "unit":
        return _by_column(_unit_rows(t, "unit"), "name", target, "gen", kind)
    if kind == "interconnector":
        ic = _unit_rows(t, "interconnector")
        return _by_column(ic, "plant", target, "gen", kind) or _by_column(ic, "name", target, "gen", kind)
    if kind == "substation":
        return _by_column(t.bus, "substation", target, "bus", kind)
    if kind == "transformer":
        return _by_column(t.trafo, "name", target, "trafo", kind)
    if kind == "load":
        return _by_column(t.load, "name", target, "load", kind)
    if kind == "dam":          # the reservoir, and the plant's units that lose their head with it
        hits = _by_column(_river(t), "plant", target, "river", kind)
        units = _by_column(_unit_rows(t, "unit"), "plant", target, "gen", kind)
        return [Match(kind, str(target), hits[0].elements + (units[0].elements if units else []))] if hits else []
    if kind == "line":
        return _by_column(t.line, "name", target, "line", kind)
    if kind == "bus":
        if _matpower(t):
            try:
                number = int(target)
            except (TypeError, ValueError):
                return []
            hits = [i for i, v in zip(t.bus.index, t.bus.col("mp_bus")) if v == number]
            return [Match(kind, str(number), [("bus", int(i)) for i in hits])] if hits else []
        return _by_column(t.bus, "name", target, "bus", kind)
    if kind in ("branch", "generator"):
        return _row_lookup(t, kind, target)
    raise ValueError(f"unknown asset kind {kind!r}")


def _row_lookup(t: NameTables, kind: str, target) -> list[Match]:
    """``branch: N`` / ``generator: N``: the elements of MATPOWER table row N."""
    table_cols = ([("line", "mp_branch_row"), ("trafo", "mp_branch_row")] if kind == "branch"
                  else [("gen", "mp_gen_row")])
    try:
        row = int(target)
    except (TypeError, ValueError):
        return []
    for table, col in table_cols:
        df = t[table]
        if col in df:
            hits = [i for i, v in zip(df.index, df.col(col)) if v == row]
            if hits:
                name = str(df.at(hits[0], "name"))
                return [Match(kind, f"{kind} {row} ({name})", [(table, int(i)) for i in hits])]
    return []


def _bus_pairs(t: NameTables) -> dict[tuple[int, int], list[tuple[int, str, int, str]]]:
    """(lower, higher MATPOWER bus number) -> the branches joining them, ``(branch row, table, index, name)``
    in branch-row order: circuit ``#k`` is the k-th."""
    out: dict[tuple[int, int], list] = {}
    for table, fcol, tcol in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
        df = t[table]
        if not len(df):
            continue
        f = [t.bus.at(i, "mp_bus") for i in df.col(fcol)]
        to = [t.bus.at(i, "mp_bus") for i in df.col(tcol)]
        for k, (idx, row, name) in enumerate(zip(df.index, df.col("mp_branch_row", 0), df.col("name"))):
            try:
                a, b = int(f[k]), int(to[k])
            except (TypeError, ValueError):     # no bus number (NaN): no name matches it
                continue
            if a == f[k] and b == to[k]:
                out.setdefault((min(a, b), max(a, b)), []).append((int(row), table, int(idx), str(name)))
    for found in out.values():
        found.sort()
    return out


def _matpower_pair(t: NameTables, text: str, where: dict) -> list[Match] | None:
    """``line: "11-14"`` / ``"15-21#2"`` on a MATPOWER network: match by bus numbers, either direction."""
    m = _PAIR.match(str(text))
    if not m or not _matpower(t):
        return None
    a, b, circuit = int(m.group(1)), int(m.group(2)), m.group(3)
    found = _bus_pairs(t).get((min(a, b), max(a, b)), [])
    if not found:
        raise ScenarioError(f"no branch between buses {a} and {b}", **where)
    if circuit is None:
        if len(found) > 1:
            listing = ", ".join(f"'{n}' (branch {r})" for r, _, _, n in found)
            raise ScenarioError(
                f"line '{text}' is ambiguous: buses {a} and {b} are joined by {len(found)} circuits: "
                f"{listing}; name one circuit, e.g. '{a}-{b}#2', or use 'branch: N'", **where)
        chosen = found[0]
    else:
        k = int(circuit)
        if not 1 <= k <= len(found):
            raise ScenarioError(f"line '{text}': buses {a} and {b} have {len(found)} circuit(s), "
                                f"so the circuit number must be 1..{len(found)}", **where)
        chosen = found[k - 1]
    row, table, idx, name = chosen
    return [Match("line", name, [(table, idx)])]


def resolve_name(net, kind: str, target, where: dict | None = None) -> Match:
    """Resolve ``kind: target`` to one Match or raise ScenarioError (with did-you-mean). ``net`` is a
    pandapowerNet or its name view."""
    t = name_tables(net)
    where = where or {}
    if kind == "line":
        pair = _matpower_pair(t, target, where)
        if pair is not None:
            return pair[0]
    hits = _lookup(t, kind, target)
    if not hits and kind == "line" and _matpower(t):
        hits = _by_column(t.trafo, "name", target, "trafo", kind)
    if hits:
        return hits[0]
    _unknown(t, kind, target, where)


def _unknown(t: NameTables, kind: str, target, where: dict):
    """Raise the ScenarioError for a name that names nothing: what exists and what was probably meant."""
    word = ASSET_WORDS.get(kind, kind)
    if kind in ("branch", "generator"):
        col, tables = ("mp_branch_row", ("line", "trafo")) if kind == "branch" else ("mp_gen_row", ("gen",))
        # rows are numbered across the tables (a branch row is a line or a transformer): the table's length is
        # the highest row number, not the sum of the tables' highest numbers
        n = max((int(max(v for v in t[x].col(col) if not isna(v))) for x in tables
                 if col in t[x] and any(not isna(v) for v in t[x].col(col))), default=0)
        if n == 0:
            raise ScenarioError(f"'{kind}: N' names a MATPOWER table row, but this network was not loaded "
                                f"from a MATPOWER file; name the {'line' if kind == 'branch' else 'unit'} "
                                f"instead", **where)
        raise ScenarioError(f"unknown {word} {target!r}: expected a row number 1..{n}", **where)
    if kind == "bus" and _matpower(t):
        raise ScenarioError(f"unknown bus {target!r}: expected a MATPOWER bus number"
                            f"{did_you_mean(str(target), t.bus.text('mp_bus'))}", **where)
    cands = _candidates(t, kind)
    circuits = [c for c in cands if c.startswith(f"{target} #")]
    if circuits:
        listing = ", ".join(f"'{c}'" for c in circuits)
        raise ScenarioError(
            f"'{target}' has {len(circuits)} circuits: {listing}. Name one, in quotes: in YAML ' #' starts a "
            f"comment, so write {kind}: \"{circuits[0]}\"", **where)
    hint = did_you_mean(str(target), cands)
    if not hint:
        other = _other_kinds(t, kind, target)
        if other:
            article = "an" if other[0] in "aeio" else "a"      # an interconnector, a unit
            hint = f"; '{target}' is {article} {other}, write '{other}: {target}'"
        elif cands:
            sample = ", ".join(f"'{c}'" for c in cands[:5])
            hint = f"; known {word}s include {sample}" + (" …" if len(cands) > 5 else "")
            hint += " (gridsim network <name> lists them all)"
        else:
            hint = f"; this network has no {word}s"
    raise ScenarioError(f"unknown {word} '{target}'{hint}", **where)


def _other_kinds(t: NameTables, kind: str, target) -> str | None:
    for other in ("plant", "unit", "interconnector", "substation", "line", "transformer", "load"):
        if other != kind and _lookup(t, other, target):
            return other
    return None


# -- selectors -------------------------------------------------------------------------------------------------
#: selector kind -> (unit kind or table, bus column, grouping column)
_SELECTOR_TABLES = {
    "plant": ("unit", "bus", "plant"), "unit": ("unit", "bus", "name"),
    "interconnector": ("interconnector", "bus", "plant"), "substation": ("bus", None, "substation"),
    "line": ("line", "from_bus", "name"), "transformer": ("trafo", "hv_bus", "name"), "load": ("load", "bus", "name"),
}


def _isclose(a, b: float) -> bool:
    """``numpy.isclose`` for one value."""
    a = float(a)
    return not math.isnan(a) and abs(a - b) <= 1e-8 + 1e-5 * abs(b)


def resolve_selector(net, sel, where: dict | None = None) -> list[Match]:
    """Every asset matched by a selector (``kind`` plus optional fuel, region, voltage_kv, name glob). ``net`` is
    a pandapowerNet or its name view."""
    t = name_tables(net)
    where = where or {}
    kind = sel.kind
    if kind not in _SELECTOR_TABLES:
        raise ScenarioError(f"selector kind '{kind}' is not supported", **where)
    source, bus_col, group = _SELECTOR_TABLES[kind]
    df = _unit_rows(t, source) if source in ("unit", "interconnector") else t[source]
    table = "gen" if source in ("unit", "interconnector") else source
    mask = [True] * len(df)
    for keep in _selector_masks(t, df, kind, bus_col, sel, where):
        mask = [m and k for m, k in zip(mask, keep)]
    names = df.text(group, "")
    pattern = getattr(sel, "name", None)
    if pattern is not None:
        mask = [m and fnmatch.fnmatchcase(n, pattern) for m, n in zip(mask, names)]
    hit = [(i, n) for i, n, m in zip(df.index, names, mask) if m]
    if kind == "substation" and getattr(sel, "voltage_kv", None) is not None:
        # a substation matched by voltage is taken whole (all its buses)
        subs = {n for _, n in hit}
        hit = [(i, n) for i, n in zip(t.bus.index, t.bus.text("substation", "")) if n in subs]
    if not hit:
        raise ScenarioError(f"selector {sel_text(sel)} matches no {kind}", **where)
    groups: dict[str, list[int]] = {}
    for i, n in hit:
        groups.setdefault(n, []).append(i)
    return [Match(kind, name, [(table, int(i)) for i in idx]) for name, idx in groups.items()]


def _selector_masks(t: NameTables, df: Table, kind: str, bus_col: str | None, sel, where: dict):
    """The row masks of a selector's fuel, region and voltage (each checked against what exists)."""
    fuel = getattr(sel, "fuel", None)
    region = getattr(sel, "region", None)
    voltage = getattr(sel, "voltage_kv", None)
    if fuel is not None:
        if kind not in ("plant", "unit", "interconnector"):
            raise ScenarioError(f"'fuel' applies to plants, units and interconnectors, not {kind}s", **where)
        fuels = df.text("fuel", "")
        if fuel not in set(fuels):
            raise ScenarioError(f"no {kind} has fuel '{fuel}'{did_you_mean(fuel, sorted(set(fuels)))}"
                                f" (fuels here: {', '.join(sorted(set(fuels)))})", **where)
        yield [f == fuel for f in fuels]
    if region is not None:
        regions = (df.text("region") if "region" in df
                   else [str(v) for v in t.bus.lookup(df.col(bus_col), "region", "")])
        known = sorted(set(t.bus.text("region", "")))
        if region not in known:
            raise ScenarioError(f"unknown region '{region}'{did_you_mean(region, known)}"
                                f" (regions: {', '.join(known)})", **where)
        yield [r == region for r in regions]
    if voltage is not None:
        if kind == "substation":
            vn = t.bus.col("vn_kv")
        elif kind == "transformer":
            vn = df.col("vn_hv_kv")
        else:
            vn = t.bus.lookup(df.col(bus_col), "vn_kv", "")
        yield [_isclose(v, float(voltage)) for v in vn]


def sel_text(sel) -> str:
    parts = [f"{k}: {getattr(sel, k)}" for k in ("kind", "fuel", "region", "voltage_kv", "name")
             if getattr(sel, k, None) is not None]
    return "{" + ", ".join(parts) + "}"

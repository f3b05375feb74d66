"""Names and selectors -> element indices.

Every outage in a scenario names an asset (``plant: X``, ``line: "11-14"``, ``select: {...}``); this module
turns it into the pandapower elements it stands for, or raises a ScenarioError that says what exists and
what was probably meant. It reads only the data-contract columns (docs/architecture.md).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridsim.errors import ScenarioError, did_you_mean

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


def _col(df: pd.DataFrame, name: str, default="") -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(default, index=df.index)


def _units(net, kind: str) -> pd.DataFrame:
    gen = net.gen
    return gen[_col(gen, "kind", "unit").fillna("unit") == kind]


def _is_matpower(net) -> bool:
    return "mp_bus" in net.bus.columns and net.bus["mp_bus"].notna().any()


# -- lookups by name -----------------------------------------------------------------------------------------
def _by_column(df: pd.DataFrame, column: str, value: str, table: str, kind: str) -> list[Match]:
    hits = df.index[_col(df, column).astype(str) == str(value)]
    if len(hits) == 0:
        return []
    return [Match(kind, str(value), [(table, int(i)) for i in hits])]


def _candidates(net, kind: str) -> list[str]:
    """Names a user could have meant for an asset kind (for did-you-mean and listings)."""
    if kind == "plant":
        return sorted(set(_units(net, "unit")["plant"].astype(str)))
    if kind == "unit":
        return list(_units(net, "unit")["name"].astype(str))
    if kind == "interconnector":
        ic = _units(net, "interconnector")
        return sorted(set(ic["plant"].astype(str)) | set(ic["name"].astype(str)))
    if kind == "substation":
        return sorted(set(_col(net.bus, "substation").astype(str)))
    if kind == "line":
        names = list(net.line["name"].astype(str))
        if _is_matpower(net):
            names += list(net.trafo["name"].astype(str))
        return names
    if kind == "transformer":
        return list(net.trafo["name"].astype(str))
    if kind == "bus":
        return list(net.bus["name"].astype(str))
    if kind == "load":
        return list(net.load["name"].astype(str))
    if kind == "dam":
        return list(_river(net)["plant"].astype(str))
    return []


def _river(net) -> pd.DataFrame:
    """The network's river table (``gridsim.water.river``), empty when it declares none."""
    river = net["river"] if "river" in net else None
    return river if isinstance(river, pd.DataFrame) and "plant" in river.columns else pd.DataFrame(columns=["plant"])


def _lookup(net, kind: str, target) -> list[Match]:
    """Find the elements an asset name refers to (no error handling)."""
    if kind == "plant":
        units = _units(net, "unit")
        return _by_column(units, "plant", target, "gen", kind)
    if kind == "unit":
        return _by_column(_units(net, "unit"), "name", target, "gen", kind)
    if kind == "interconnector":
        ic = _units(net, "interconnector")
        return _by_column(ic, "plant", target, "gen", kind) or _by_column(ic, "name", target, "gen", kind)
    if kind == "substation":
        return _by_column(net.bus, "substation", target, "bus", kind)
    if kind == "transformer":
        return _by_column(net.trafo, "name", target, "trafo", kind)
    if kind == "load":
        return _by_column(net.load, "name", target, "load", kind)
    if kind == "dam":          # the reservoir, and the plant's units that lose their head with it
        hits = _by_column(_river(net), "plant", target, "river", kind)
        units = _by_column(_units(net, "unit"), "plant", target, "gen", kind)
        return [Match(kind, str(target), hits[0].elements + (units[0].elements if units else []))] if hits else []
    if kind == "line":
        return _by_column(net.line, "name", target, "line", kind)
    if kind == "bus":
        if _is_matpower(net):
            try:
                number = int(target)
            except (TypeError, ValueError):
                return []
            hits = net.bus.index[net.bus["mp_bus"] == number]
            return [Match(kind, str(number), [("bus", int(i)) for i in hits])] if len(hits) else []
        return _by_column(net.bus, "name", target, "bus", kind)
    if kind in ("branch", "generator"):
        table_cols = ([("line", "mp_branch_row"), ("trafo", "mp_branch_row")] if kind == "branch"
                      else [("gen", "mp_gen_row")])
        try:
            row = int(target)
        except (TypeError, ValueError):
            return []
        for table, col in table_cols:
            df = net[table]
            if col in df.columns:
                hits = df.index[df[col] == row]
                if len(hits):
                    name = str(df.at[hits[0], "name"])
                    return [Match(kind, f"{kind} {row} ({name})", [(table, int(i)) for i in hits])]
        return []
    raise ValueError(f"unknown asset kind {kind!r}")


def _matpower_pair(net, text: str, where: dict) -> list[Match] | None:
    """``line: "11-14"`` / ``"15-21#2"`` on a MATPOWER network: match by bus numbers, either direction."""
    m = _PAIR.match(str(text))
    if not m or not _is_matpower(net):
        return None
    a, b, circuit = int(m.group(1)), int(m.group(2)), m.group(3)
    mp = net.bus["mp_bus"]
    found = []   # (branch row, table, index, name)
    for table, fcol, tcol in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
        df = net[table]
        if not len(df):
            continue
        f = mp.loc[df[fcol]].to_numpy()
        t = mp.loc[df[tcol]].to_numpy()
        sel = ((f == a) & (t == b)) | ((f == b) & (t == a))
        rows = _col(df, "mp_branch_row", 0).to_numpy()
        for idx, row, name in zip(df.index[sel], rows[sel], df["name"][sel]):
            found.append((int(row), table, int(idx), str(name)))
    found.sort()
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
    """Resolve ``kind: target`` to one Match or raise ScenarioError (with did-you-mean)."""
    where = where or {}
    if kind == "line":
        pair = _matpower_pair(net, target, where)
        if pair is not None:
            return pair[0]
    hits = _lookup(net, kind, target)
    if not hits and kind == "line" and _is_matpower(net):
        hits = _by_column(net.trafo, "name", target, "trafo", kind)
    if hits:
        return hits[0]
    word = ASSET_WORDS.get(kind, kind)
    if kind in ("branch", "generator"):
        col, table = ("mp_branch_row", ("line", "trafo")) if kind == "branch" else ("mp_gen_row", ("gen",))
        # rows are numbered across the tables (a branch row is a line or a transformer): the table's length is
        # the highest row number, not the sum of the tables' highest numbers
        n = max((int(net[t][col].max()) for t in table if col in net[t].columns and net[t][col].notna().any()),
                default=0)
        if n == 0:
            raise ScenarioError(f"'{kind}: N' names a MATPOWER table row, but this network was not loaded "
                                f"from a MATPOWER file; name the {'line' if kind == 'branch' else 'unit'} "
                                f"instead", **where)
        raise ScenarioError(f"unknown {word} {target!r}: expected a row number 1..{n}", **where)
    if kind == "bus" and _is_matpower(net):
        raise ScenarioError(f"unknown bus {target!r}: expected a MATPOWER bus number"
                            f"{did_you_mean(str(target), net.bus['mp_bus'].astype(str))}", **where)
    cands = _candidates(net, kind)
    circuits = [c for c in cands if c.startswith(f"{target} #")]
    if circuits:
        listing = ", ".join(f"'{c}'" for c in circuits)
        raise ScenarioError(
            f"'{target}' has {len(circuits)} circuits: {listing}. Name one, in quotes: in YAML ' #' starts a "
            f"comment, so write {kind}: \"{circuits[0]}\"", **where)
    hint = did_you_mean(str(target), cands)
    if not hint:
        other = _other_kinds(net, kind, target)
        if other:
            hint = f"; '{target}' is a {other}, write '{other}: {target}'"
        elif cands:
            sample = ", ".join(f"'{c}'" for c in cands[:5])
            hint = f"; known {word}s include {sample}" + (" …" if len(cands) > 5 else "")
            hint += " (gridsim network <name> lists them all)"
        else:
            hint = f"; this network has no {word}s"
    raise ScenarioError(f"unknown {word} '{target}'{hint}", **where)


def _other_kinds(net, kind: str, target) -> str | None:
    for other in ("plant", "unit", "interconnector", "substation", "line", "transformer", "load"):
        if other != kind and _lookup(net, other, target):
            return other
    return None


# -- selectors -------------------------------------------------------------------------------------------------
def _bus_values(net, buses: pd.Series, column: str) -> np.ndarray:
    return _col(net.bus, column).reindex(buses.to_numpy()).to_numpy()


def resolve_selector(net, sel, where: dict | None = None) -> list[Match]:
    """Every asset matched by a selector (``kind`` plus optional fuel, region, voltage_kv, name glob)."""
    where = where or {}
    kind = sel.kind
    fuel = getattr(sel, "fuel", None)
    region = getattr(sel, "region", None)
    voltage = getattr(sel, "voltage_kv", None)
    pattern = getattr(sel, "name", None)

    if kind in ("plant", "unit", "interconnector"):
        df = _units(net, "unit" if kind != "interconnector" else "interconnector")
        table, bus_col = "gen", "bus"
        group = "plant" if kind in ("plant", "interconnector") else "name"
    elif kind == "substation":
        df, table, bus_col, group = net.bus, "bus", None, "substation"
    elif kind == "line":
        df, table, bus_col, group = net.line, "line", "from_bus", "name"
    elif kind == "transformer":
        df, table, bus_col, group = net.trafo, "trafo", "hv_bus", "name"
    elif kind == "load":
        df, table, bus_col, group = net.load, "load", "bus", "name"
    else:
        raise ScenarioError(f"selector kind '{kind}' is not supported", **where)

    mask = pd.Series(True, index=df.index)
    if fuel is not None:
        if kind not in ("plant", "unit", "interconnector"):
            raise ScenarioError(f"'fuel' applies to plants, units and interconnectors, not {kind}s", **where)
        fuels = _col(df, "fuel").astype(str)
        if fuel not in set(fuels):
            raise ScenarioError(f"no {kind} has fuel '{fuel}'{did_you_mean(fuel, sorted(set(fuels)))}"
                                f" (fuels here: {', '.join(sorted(set(fuels)))})", **where)
        mask &= fuels == fuel
    if region is not None:
        regions = (_col(df, "region").astype(str) if "region" in df.columns
                   else pd.Series(_bus_values(net, df[bus_col], "region"), index=df.index).astype(str))
        known = sorted(set(_col(net.bus, "region").astype(str)))
        if region not in known:
            raise ScenarioError(f"unknown region '{region}'{did_you_mean(region, known)}"
                                f" (regions: {', '.join(known)})", **where)
        mask &= regions == region
    if voltage is not None:
        if kind == "substation":
            vn = net.bus["vn_kv"]
        elif kind == "transformer":
            vn = df["vn_hv_kv"]
        else:
            vn = pd.Series(_bus_values(net, df[bus_col], "vn_kv"), index=df.index)
        mask &= np.isclose(vn.astype(float), float(voltage))
    names = _col(df, group).astype(str)
    if pattern is not None:
        mask &= names.map(lambda n: fnmatch.fnmatchcase(n, pattern))
    hit = df[mask]
    if kind == "substation" and voltage is not None:
        # a substation matched by voltage is taken whole (all its buses)
        subs = set(_col(hit, "substation").astype(str))
        hit = net.bus[_col(net.bus, "substation").astype(str).isin(subs)]
        names = _col(net.bus, "substation").astype(str)
    if hit.empty:
        raise ScenarioError(f"selector {sel_text(sel)} matches no {kind}", **where)
    out = []
    for name, idx in hit.groupby(names.loc[hit.index], sort=False).groups.items():
        out.append(Match(kind, str(name), [(table, int(i)) for i in idx]))
    return out


def sel_text(sel) -> str:
    parts = [f"{k}: {getattr(sel, k)}" for k in ("kind", "fuel", "region", "voltage_kv", "name")
             if getattr(sel, k, None) is not None]
    return "{" + ", ".join(parts) + "}"

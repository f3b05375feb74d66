"""An attack resolved against a network: the assets weapons can hit, the probability that a weapon picks
each, and the interception probability per weapon type and asset.

``plan_attack(scenario, net)`` resolves every target entry with the outage rules (``gridsim.outages``):
a named asset (``plant: X``) is one asset; a selector's weight is spread evenly over the assets it matches
(``resolve_selector``: one asset per plant, substation, line, ...). An asset listed by several entries adds
their shares. Defended zones (a region, an asset or a selector) set the interception probability of the
assets they cover, per weapon type; where zones overlap, an asset gets the highest probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gridsim.errors import ScenarioError, did_you_mean
from gridsim.networks.nametables import isna, name_tables
from gridsim.scenario.schema import DERATABLE

if TYPE_CHECKING:     # numpy is imported where arrays are made: `gridsim validate` resolves an attack without it
    import numpy as np


@dataclass(frozen=True)
class Asset:
    """One asset a weapon can hit, written as the outage item that takes it out (``{kind: name}``)."""

    kind: str          # outage kind: plant, unit, substation, line, transformer, interconnector, bus, ...
    name: str | int    # as the outage item names it
    region: str
    by_selector: bool = False   # its name alone does not name exactly these elements (MATPOWER circuits)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, str(self.name))

    @property
    def label(self) -> str:
        return f"{self.kind}: {self.name}"

    @property
    def deratable(self) -> bool:
        return self.kind in DERATABLE

    def outage_item(self) -> dict:
        """The scenario outage item that hits this asset: ``{kind: name}``, or a selector on the exact name where
        that is ambiguous (parallel circuits sharing a name) or the kind has no key of its own (a load)."""
        if self.kind == "load" or self.by_selector:
            return {"select": {"kind": self.kind, "name": _glob_literal(str(self.name))}}
        return {self.kind: self.name}


@dataclass(frozen=True)
class AttackPlan:
    """Everything the sampler needs, as arrays (n_types, n_assets, n_weapons)."""

    types: tuple[str, ...]
    weapon_type: np.ndarray        # type index of each weapon, in the order of attack.weapons
    assets: tuple[Asset, ...]
    target_p: np.ndarray           # probability that a weapon picks each asset (sums to 1)
    intercept: np.ndarray          # (n_types, n_assets) probability that a weapon aimed there is intercepted
    derate_range: np.ndarray       # (n_types, 2) capacity left after a hit: uniform in [low, high]
    repair_range: np.ndarray       # (n_types, 2) hours to repair (nan: not repaired)
    at_h: float
    timeline: bool

    @property
    def cum_p(self) -> np.ndarray:
        import numpy as np

        cum = np.cumsum(self.target_p)
        cum[-1] = 1.0
        return cum

    def covered(self, unit_p: dict[str, float], assets: list[int]) -> np.ndarray:
        """The interception matrix with one more air-defence unit (``unit_p`` per type) over ``assets``."""
        import numpy as np

        out = self.intercept.copy()
        for t, name in enumerate(self.types):
            if name in unit_p and len(assets):
                out[t, assets] = np.maximum(out[t, assets], unit_p[name])
        return out


def resolve_attack(scenario, net) -> tuple[list[Asset], list[float], list[list[int]]]:
    """The attack's assets, the weight of the targets on each, and per defended zone the assets it covers;
    ScenarioError, located in the file, for a target or zone that names nothing (``gridsim validate``)."""
    attack = scenario.attack
    if attack is None:
        raise ScenarioError("the scenario has no `attack:` block", file=_file(scenario))
    net = name_tables(net)     # names, regions and buses are all a plan reads (a net or its cached name index)
    assets, shares = _targets(scenario, net)
    order = list(shares)
    index = {k: i for i, k in enumerate(order)}
    zones = [_zone_assets(scenario, net, zone, z, [assets[k] for k in order], index)
             for z, zone in enumerate(attack.interception.defended)]
    return [assets[k] for k in order], [shares[k] for k in order], zones


def plan_attack(scenario, net) -> AttackPlan:
    """The attack of ``scenario`` resolved on ``net`` (the scenario's prepared network). ScenarioError, located
    in the file, for a target or zone that names nothing."""
    import numpy as np

    assets, shares, zones = resolve_attack(scenario, net)
    attack = scenario.attack
    total = float(sum(shares))
    types = tuple(attack.types)
    intercept = np.array([[attack.interception.default[t]] * len(assets) for t in types], dtype=float)
    intercept = intercept.reshape(len(types), len(assets))
    for zone, covered in zip(attack.interception.defended, zones):
        for t, name in enumerate(types):
            if name in zone.intercept and covered:
                intercept[t, covered] = np.maximum(intercept[t, covered], zone.intercept[name])
    weapon_type = np.concatenate([np.full(w.count, t, dtype=np.int64) for t, w in enumerate(attack.weapons)])
    derate = np.array([attack.damage_of(t).derate for t in types], dtype=float).reshape(len(types), 2)
    repair = np.array([attack.damage_of(t).repair_h or (np.nan, np.nan) for t in types],
                      dtype=float).reshape(len(types), 2)
    return AttackPlan(types, weapon_type, tuple(assets), np.array([share / total for share in shares]), intercept,
                      derate, repair, attack.at_h, scenario.timeline is not None)


def _file(scenario) -> str | None:
    return str(scenario.source) if scenario.source else None


def _where(scenario, key: str) -> dict:
    return {"file": _file(scenario), "line": scenario.line_of(key), "key": key}


def _matches(scenario, net, outage, key: str) -> list[Asset]:
    """The assets of one outage-style item (a target or a zone's asset)."""
    from gridsim.networks.naming import resolve_name, resolve_selector

    where = _where(scenario, key)
    if outage.kind == "select":
        return [Asset(m.asset_kind, m.asset, _region(net, m), not _names_itself(net, m))
                for m in resolve_selector(net, outage.select, where)]
    m = resolve_name(net, outage.kind, outage.target, where)
    return [Asset(outage.kind, outage.target, _region(net, m))]


def _targets(scenario, net) -> tuple[dict, dict]:
    assets: dict[tuple[str, str], Asset] = {}
    shares: dict[tuple[str, str], float] = {}
    for i, target in enumerate(scenario.attack.targets):
        hit = _matches(scenario, net, target.asset, f"attack.targets[{i}]")
        for a in hit:
            assets.setdefault(a.key, a)
            shares[a.key] = shares.get(a.key, 0.0) + target.weight / len(hit)
    return assets, shares


def _zone_assets(scenario, net, zone, z: int, assets: list[Asset], index: dict) -> list[int]:
    key = f"attack.interception.defended[{z}]"
    if zone.region is not None:
        known = sorted({str(r) for r in net.bus.col("region") if not isna(r)}) if "region" in net.bus else []
        if zone.region not in known:
            raise ScenarioError(f"unknown region '{zone.region}'{did_you_mean(zone.region, known)} (regions: "
                                f"{', '.join(known) or 'none in this network'})", **_where(scenario, key))
        return [i for i, a in enumerate(assets) if a.region == zone.region]
    return sorted({index[a.key] for a in _matches(scenario, net, zone.asset, key) if a.key in index})


def _names_itself(net, match) -> bool:
    """Whether ``{kind: name}`` takes out exactly the elements a selector matched under that name."""
    from gridsim.networks.naming import resolve_name

    if match.asset_kind == "load":
        return False
    try:
        return sorted(resolve_name(net, match.asset_kind, match.asset).elements) == sorted(match.elements)
    except ScenarioError:
        return False


def _glob_literal(name: str) -> str:
    """A shell-style pattern that matches ``name`` only (``*``, ``?`` and ``[`` bracketed)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _region(net, match) -> str:
    """The region of a matched asset: its first element's bus (a line's from-bus, a transformer's HV side)."""
    table, idx = match.elements[0]
    column = {"bus": None, "line": "from_bus", "trafo": "hv_bus", "impedance": "from_bus"}.get(table, "bus")
    bus = idx if column is None else net[table].at(idx, column)
    if "region" not in net.bus:
        return ""
    region = net.bus.at(bus, "region")
    return "" if isna(region) else str(region)

"""The ``attack`` block of a scenario: a salvo of weapons against air defence, run as a Monte Carlo
(``gridsim.salvo``). See docs/salvo.md for the meaning of every key.

```yaml
attack:
  weapons: [{type: cruise, count: 30}, {type: drone, count: 60}]
  interception:
    default: {cruise: 0.75, drone: 0.85}
    defended: [{region: Stolychna, cruise: 0.95, drone: 0.95}]
  targets: [{select: {kind: substation, voltage_kv: 750}, weight: 3}, {plant: Chornozem TPP, weight: 1}]
  damage: {default: {derate: [0.0, 0.5], repair_h: [24, 240]}, drone: {derate: [0.5, 0.9]}}
  air_defence_unit: {cruise: 0.9, drone: 0.95}
draws: 2000
seed: 7
```
Weapon types are the user's names; every other key that names a type is checked against them (with a
did-you-mean). Sizes are bounded like the rest of the input (``LIMITS`` below, docs/scenarios.md#limits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gridsim.errors import did_you_mean
from gridsim.limits import MAX_NAME_CHARS, clip
from gridsim.scenario.wording import show

if TYPE_CHECKING:   # the models are completed by ``rebuild`` once gridsim.scenario.schema defines Outage
    from gridsim.scenario.schema import Outage

MAX_DRAWS = 1_000_000
MAX_WEAPONS = 10_000
MAX_WEAPON_TYPES = 50
MAX_TARGETS = 1_000
MAX_DEFENDED = 1_000
#: limit name -> (value, what it bounds), as ``gridsim.limits.LIMITS``
LIMITS: dict[str, tuple[int, str]] = {
    "MAX_DRAWS": (MAX_DRAWS, "Monte Carlo draws (`draws`, `--draws`)"),
    "MAX_WEAPONS": (MAX_WEAPONS, "weapons in a salvo (the sum of `attack.weapons[].count`)"),
    "MAX_WEAPON_TYPES": (MAX_WEAPON_TYPES, "items in `attack.weapons`"),
    "MAX_TARGETS": (MAX_TARGETS, "items in `attack.targets`"),
    "MAX_DEFENDED": (MAX_DEFENDED, "items in `attack.interception.defended`"),
}
#: keys of a defended zone that say where it is (the others are weapon types with their probability)
ZONE_PLACES: tuple[str, ...] = ("region", "select", "plant", "unit", "substation", "line", "transformer",
                                "interconnector", "bus", "branch", "generator")
#: the key of ``damage`` (and nothing else) that is not a weapon type
DEFAULT = "default"


def _error(message: str, subkey: str | None = None) -> PydanticCustomError:
    return PydanticCustomError("gridsim", "{message}", {"message": message, "subkey": subkey})


def _limit(name: str, unit: str) -> str:
    return f"at most {LIMITS[name][0]:,} {unit} ({name}, see docs/salvo.md#limits)"


def _probability(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise _error(f"the interception probability of {clip(key)} must be a number from 0 to 1, got "
                     f"{show(value)}", subkey=key)
    return float(value)


def _mapping(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise _error(f"expected a mapping ({what}), got {show(value)}")
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise _error(f"expected a list of {what}, one item per line starting with '- ', got {show(value)}")
    return value


def whole_number(value: Any, name: str, low: int, high: int) -> Any:
    """``value`` if it is a whole number from ``low`` to ``high``, else a clear error (for ``count``,
    ``draws``, ``seed``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(f"expected a whole number for {name}, got {show(value)}")
    if not low <= value <= high:
        which = {"count": "MAX_WEAPONS", "draws": "MAX_DRAWS"}.get(name)
        bound = _limit(which, "").replace("  ", " ") if which else f"at most {high:,}"
        raise _error(f"{name} must be at least {low:,} and {bound.strip()}, got {value:,}")
    return value


def _pair(value: Any, name: str) -> Any:
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise _error(f"{name} is a range `[low, high]` of two numbers, got {clip(repr(value))}"
                     if isinstance(value, list) else f"{name} is a range `[low, high]` of two numbers, got "
                     f"{show(value)}")
    return tuple(float(v) for v in value)


class Weapon(BaseModel):
    """One weapon type of the salvo and how many of it are launched."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$",
                      description="the weapon type's name (yours: `cruise`, `drone`, ...; letters, digits, `_`, `-`)")
    count: int = Field(strict=True, ge=0, le=MAX_WEAPONS, description="weapons of this type in the salvo")

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        return _mapping(data, "`{type: <name>, count: <number>}`")

    @field_validator("count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        return whole_number(value, "count", 0, MAX_WEAPONS)


class DefendedZone(BaseModel):
    """Air-defence coverage over a region or a set of assets, with its own interception probability per type
    (types not listed keep the default). Where zones overlap, an asset gets the highest probability."""

    model_config = ConfigDict(extra="forbid")

    region: str | None = Field(None, max_length=MAX_NAME_CHARS, description="every target asset in this region")
    asset: Outage | None = Field(None, description="an asset (`substation: Y`, `plant: X`) or `select: {...}`, "
                                                   "as in outages")
    intercept: dict[str, float] = Field(default_factory=dict, description="weapon type -> probability (0..1)")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        data = _mapping(data, "a region or asset and the probabilities per weapon type")
        if "intercept" in data:
            return data
        places = [k for k in data if k in ZONE_PLACES]
        if len(places) != 1:
            raise _error("a defended zone names one place: `region: <name>`, `select: {...}` or an asset "
                         f"(`substation: <name>`, `plant: <name>`, ...); got {len(places)}")
        place = places[0]
        out: dict[str, Any] = {"intercept": {k: _probability(str(k), v) for k, v in data.items() if k != place}}
        if place == "region":
            out["region"] = data[place]
        else:
            out["asset"] = {place: data[place]}
        return out


class Interception(BaseModel):
    """The probability that one weapon of a type is intercepted, by default and where air defence covers."""

    model_config = ConfigDict(extra="forbid")

    default: dict[str, float] = Field(default_factory=dict, description=(
        "weapon type -> probability that one weapon of the type is intercepted (0..1), everywhere"))
    defended: list[DefendedZone] = Field(default_factory=list, max_length=MAX_DEFENDED, description=(
        "zones with their own probabilities: `{region: X, cruise: 0.95}` or an asset or `select:`"))

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        return _mapping(data, "`default: {<type>: <probability>}` and `defended: [...]`")

    @field_validator("defended", mode="before")
    @classmethod
    def _zones(cls, value: Any) -> Any:
        return _list(value, "defended zones like `{region: <name>, <type>: <probability>}`")

    @field_validator("default", mode="before")
    @classmethod
    def _default(cls, value: Any) -> Any:
        return {str(k): _probability(str(k), v) for k, v in _mapping(value, "weapon type: probability").items()}


class DamageRange(BaseModel):
    """What one hit does: the fraction of capacity that remains (uniform in ``derate``) and the repair time
    in hours (uniform in ``repair_h``; timelines only)."""

    model_config = ConfigDict(extra="forbid")

    derate: tuple[float, float] = Field((0.0, 0.0), description=(
        "[low, high]: capacity fraction left after a hit, drawn uniformly (plants, units, interconnectors; "
        "substations, lines and transformers are out when hit)"))
    repair_h: tuple[float, float] | None = Field(None, description=(
        "[low, high]: hours until the hit asset is back, drawn uniformly (timelines; omitted: not repaired)"))

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        return _mapping(data, "`{derate: [low, high], repair_h: [low, high]}`")

    @field_validator("derate", "repair_h", mode="before")
    @classmethod
    def _pairs(cls, value: Any, info) -> Any:
        return value if value is None and info.field_name == "repair_h" else _pair(value, info.field_name)

    @field_validator("derate")
    @classmethod
    def _derate(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0.0 <= lo <= hi < 1.0:
            raise _error(f"derate is [low, high] with 0 ≤ low ≤ high < 1, got [{lo:g}, {hi:g}]")
        return value

    @field_validator("repair_h")
    @classmethod
    def _repair(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0.0 < value[0] <= value[1] <= 100_000:
            raise _error(f"repair_h is [low, high] hours with 0 < low ≤ high ≤ 100000, got "
                         f"[{value[0]:g}, {value[1]:g}]")
        return value


class Target(BaseModel):
    """One entry of the weighted target list: an asset (``plant: X``) or a selector (``select: {...}``) as
    in outages, with a weight; a selector's weight is spread evenly over the assets it matches."""

    model_config = ConfigDict(extra="forbid")

    asset: Outage = Field(description="the outage-style item: `plant: <name>`, `select: {...}`, ...")
    weight: float = Field(1.0, gt=0, le=1e9, allow_inf_nan=False, description="relative weight of this entry")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        data = _mapping(data, "a target like `{select: {kind: plant, fuel: coal}, weight: 2}`")
        if "asset" in data:
            return data
        from gridsim.scenario.schema import OUTAGE_OPTIONS

        extra = [k for k in data if k in OUTAGE_OPTIONS]
        if extra:
            raise _error(f"a target takes no {extra[0]}: the damage of a hit comes from attack.damage",
                         subkey=extra[0])
        return {"asset": {k: v for k, v in data.items() if k != "weight"},
                **({"weight": data["weight"]} if "weight" in data else {})}


class Attack(BaseModel):
    """A salvo: weapon types and counts, the air defence they meet, what they aim at, what a hit does."""

    model_config = ConfigDict(extra="forbid")

    weapons: list[Weapon] = Field(min_length=1, max_length=MAX_WEAPON_TYPES,
                                  description="weapon types and counts: `[{type: cruise, count: 30}, ...]`")
    interception: Interception = Field(default_factory=Interception,
                                       description="interception probabilities (`default`, `defended`)")
    targets: list[Target] = Field(min_length=1, max_length=MAX_TARGETS, description=(
        "weighted target list; each weapon that gets through picks one asset"))
    damage: dict[str, DamageRange] = Field(default_factory=dict, description=(
        "`default` and per weapon type: `{derate: [low, high], repair_h: [low, high]}`; omitted: destroyed, "
        "not repaired"))
    air_defence_unit: dict[str, float] | None = Field(None, description=(
        "the interception probability per weapon type that one more air-defence unit gives what it covers "
        "(`gridsim defend`)"))
    at_h: float = Field(0.0, ge=0, le=8760, allow_inf_nan=False,
                        description="strike time in hours from the start (timelines)")

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        return _mapping(data, "weapons:, interception:, targets:, damage:")

    @field_validator("weapons", mode="before")
    @classmethod
    def _weapons(cls, value: Any) -> Any:
        return _list(value, "weapons like `{type: cruise, count: 30}`")

    @field_validator("targets", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        return _list(value, "targets like `{select: {kind: plant, fuel: coal}, weight: 2}`")

    @field_validator("damage", mode="before")
    @classmethod
    def _damage(cls, value: Any) -> Any:
        return _mapping(value, "`default:` or a weapon type, each `{derate: [low, high], repair_h: [low, high]}`")

    @field_validator("air_defence_unit", mode="before")
    @classmethod
    def _unit(cls, value: Any) -> Any:
        if value is None:
            return value
        return {str(k): _probability(str(k), v) for k, v in _mapping(value, "weapon type: probability").items()}

    @model_validator(mode="after")
    def _types_known(self) -> Attack:
        types = [w.type for w in self.weapons]
        dup = next((t for t in types if types.count(t) > 1), None)
        if dup is not None:
            raise _error(f"weapon type '{clip(dup)}' is listed twice; give one count per type", "weapons")
        total = sum(w.count for w in self.weapons)
        if total > MAX_WEAPONS:
            raise _error(f"a salvo of {total:,} weapons is too large: {_limit('MAX_WEAPONS', 'weapons')}",
                         "weapons")
        _check_keys(self.interception.default, types, "interception.default")
        missing = [t for t in types if t not in self.interception.default]
        if missing:
            raise _error(f"interception.default gives no probability for weapon type '{missing[0]}'; add "
                         f"`{missing[0]}: <0..1>` (0: never intercepted)", "interception")
        for i, zone in enumerate(self.interception.defended):
            _check_keys(zone.intercept, types, f"interception.defended[{i}]")
        _check_keys(self.damage, [*types, DEFAULT], "damage")
        if self.air_defence_unit is not None:
            _check_keys(self.air_defence_unit, types, "air_defence_unit")
        return self

    @property
    def types(self) -> list[str]:
        return [w.type for w in self.weapons]

    @property
    def n_weapons(self) -> int:
        return sum(w.count for w in self.weapons)

    def damage_of(self, weapon_type: str) -> DamageRange:
        return self.damage.get(weapon_type) or self.damage.get(DEFAULT) or DamageRange()


def _check_keys(mapping: dict, allowed: list[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise _error(f"unknown weapon type '{clip(key)}'{did_you_mean(str(key), allowed)} (the salvo's "
                         f"types: {', '.join(t for t in allowed if t != DEFAULT)})", f"{where}.{key}")


def rebuild(outage_model: type) -> None:
    """Complete the models that hold outage-style items (called by gridsim.scenario.schema, which defines
    ``Outage`` and imports this module first)."""
    for model in (DefendedZone, Interception, Target, Attack):
        model.model_rebuild(_types_namespace={"Outage": outage_model})


def check_draws(draws: int | None, seed: int | None, attack: Attack | None) -> None:
    """``draws`` and ``seed`` belong to an attack (called by the Scenario's validator)."""
    if attack is None and (draws is not None or seed is not None):
        raise _error("draws and seed set up the Monte Carlo of an attack: add an `attack:` block or remove "
                     "them", "draws" if draws is not None else "seed")

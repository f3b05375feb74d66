"""The scenario schema as pydantic models (Selector, Outage, Scenario) with field descriptions and units.

Models validate both the YAML form of an outage (one kind key per item, when validated with the
``YAML_FORM`` context flag, as the loader does) and the model form used from Python. The docs' schema
reference and ``gridsim schema`` are generated from these descriptions (see ``reference.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator,
                      model_validator)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from gridsim.limits import (MAX_NAME_CHARS, MAX_NUMBER_DIGITS, MAX_OUTAGES, MAX_PATH_CHARS, MAX_TEXT_CHARS,
                            limit_text)
from gridsim.scenario.attack import MAX_DRAWS, Attack, check_draws, rebuild, whole_number
from gridsim.scenario.time import Restoration, Restore, Timeline
from gridsim.scenario.wording import show, unknown_key

OutageKind = Literal["plant", "unit", "substation", "line", "transformer", "interconnector",
                     "bus", "branch", "generator", "dam", "select"]
SelectorKind = Literal["plant", "unit", "substation", "line", "transformer", "interconnector", "load"]
Fuel = Literal["nuclear", "coal", "gas", "hydro", "pumped_storage", "solar", "wind", "import", "other"]

OUTAGE_KINDS: tuple[str, ...] = get_args(OutageKind)
SELECTOR_KINDS: tuple[str, ...] = get_args(SelectorKind)
FUELS: tuple[str, ...] = get_args(Fuel)
#: outage kinds (and selector kinds) whose capacity can be derated instead of removed
DERATABLE: tuple[str, ...] = ("plant", "unit", "interconnector", "generator")
#: optional keys of an outage item besides its one kind key
OUTAGE_OPTIONS: tuple[str, ...] = ("derate", "at_h", "repair_h", "restore")

#: kind key -> (what its value is, what it takes out); the docs and the JSON schema are made from this
KIND_DOCS: dict[str, tuple[str, str]] = {
    "plant": ("name", "every unit of the plant"),
    "unit": ("name", "one generating unit"),
    "substation": ("name", "all buses of the substation and every line, transformer, unit and load "
                           "connected to them"),
    "line": ("name, or `\"from-to\"`", "one line; MATPOWER networks: `\"11-14\"` (bus numbers), "
                                      "`\"15-21#2\"` for the second circuit"),
    "transformer": ("name", "one transformer"),
    "interconnector": ("name", "one interconnector (an import modelled as a generator)"),
    "bus": ("number", "MATPOWER bus number: the bus and everything connected to it (the whole substation)"),
    "branch": ("number", "MATPOWER: 1-based row of the branch table (a line or a transformer)"),
    "generator": ("number", "MATPOWER: 1-based row of the generator table"),
    "dam": ("name", "the dam of a plant on a river (network data `river`, docs/water.md): the reservoir is lost, "
                    "its stored water goes down the river at once (timelines) and the plant's units, without "
                    "head, give nothing until it is repaired"),
    "select": ("selector mapping", "every asset that matches the selector (see the Selector table)"),
}

#: field name -> the limit (gridsim.limits) its length is held to; messages name the limit
FIELD_LIMITS: dict[str, str] = {"name": "MAX_NAME_CHARS", "region": "MAX_NAME_CHARS", "target": "MAX_NAME_CHARS",
                                "description": "MAX_TEXT_CHARS", "network": "MAX_PATH_CHARS",
                                "outages": "MAX_OUTAGES"}

YAML_FORM = "yaml_form"  # validation-context flag: outages are in the YAML form, never the model form


def _error(message: str, subkey: str | None = None) -> PydanticCustomError:
    """A validation error whose message is shown verbatim; ``subkey`` refines the location below the loc."""
    return PydanticCustomError("gridsim", "{message}", {"message": message, "subkey": subkey})


def _number(description: str, default: Any = ..., **bounds: float) -> Any:
    return Field(default, description=description, strict=True, allow_inf_nan=False, **bounds)


class Selector(BaseModel):
    """Every asset of one kind that matches all the given criteria (omitted criteria match everything)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    kind: SelectorKind = Field(description="kind of asset to match: " + ", ".join(SELECTOR_KINDS))
    fuel: Fuel | None = Field(None, description="fuel of the units (plant, unit, interconnector only): "
                                                + ", ".join(FUELS))
    region: str | None = Field(None, max_length=MAX_NAME_CHARS, description="region name (MATPOWER networks: "
                                                                            "`area N`)")
    voltage_kv: float | None = _number("nominal voltage in kV: of the bus a unit or load is connected to, "
                                       "a line's from-bus, a transformer's high-voltage side; a substation "
                                       "matches when any of its buses has it", None, gt=0)
    name: str | None = Field(None, max_length=MAX_NAME_CHARS,
                             description="shell-style glob on the asset name (`*`, `?`, `[abc]`), e.g. `\"*HPP*\"`")

    @model_validator(mode="after")
    def _fuel_only_for_generation(self) -> Selector:
        if self.fuel is not None and self.kind not in ("plant", "unit", "interconnector"):
            raise _error(f"fuel applies to plant, unit and interconnector selections, not to a {self.kind}; "
                         "remove it", subkey="fuel")
        return self


def _outage_json_schema(schema: dict[str, Any], cls: type) -> None:
    """Describe the YAML form (one kind key per item) rather than the internal kind/target fields."""
    props = schema.get("properties", {})
    selector = next((s for s in props.get("select", {}).get("anyOf", []) if "$ref" in s), {"type": "object"})
    variants = []
    for kind, (_, text) in KIND_DOCS.items():
        if kind == "select":
            value: dict[str, Any] = {**selector, "description": text}
        else:
            value = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
                     "description": f"{KIND_DOCS[kind][0]}: {text}"}
        properties = {kind: value}
        for option in OUTAGE_OPTIONS:
            if option != "derate" or kind in DERATABLE or kind == "select":
                properties[option] = props[option]
        variants.append({"type": "object", "title": kind, "properties": properties, "required": [kind],
                         "additionalProperties": False})
    schema.clear()
    schema.update(title="Outage", type="object", oneOf=variants,
                  description="One outage: a mapping with exactly one kind key (" + ", ".join(OUTAGE_KINDS)
                              + ") and optional " + ", ".join(OUTAGE_OPTIONS) + ".")


class Outage(BaseModel):
    """One asset, or every asset a selector matches, taken out or derated.

    In YAML an outage is a mapping with exactly one kind key (``plant: X``, ``bus: 11``,
    ``select: {kind: plant, fuel: hydro}``) plus optional ``derate``, ``at_h``, ``repair_h``; the model stores
    it as ``kind`` + ``target`` (or ``select``). Both ``Outage(plant="X")`` and
    ``Outage(kind="plant", target="X")`` work from Python.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_outage_json_schema)

    kind: OutageKind = Field(description="what is hit: " + ", ".join(OUTAGE_KINDS))
    target: str | int | None = Field(None, description="name or number of the asset (None for select)")
    select: Selector | None = Field(None, description="criteria for kind select")
    derate: float | None = _number(
        "fraction of capacity that remains available (0.4: 40 % left); plant, unit, "
        "interconnector, generator and select of plants/units/interconnectors only; omit to take the "
        "asset out completely", None, ge=0, lt=1)
    at_h: float = _number("strike time in hours from the start; for timelines (a single snapshot ignores "
                          "it)", 0.0, ge=0)
    repair_h: float | None = _number("repair time in hours after the strike; for timelines (omit: not "
                                     "repaired within the horizon; a single snapshot ignores it)", None, gt=0)
    restore: list[Restore] | None = Field(None, max_length=100, description=(
        "partial repairs for timelines: `[{after_h: 24, derate: 0.6}, {after_h: 60}]` (hours after the "
        "strike; `derate` is the fraction back from then on, omitted: fully back)"))
    line: SkipJsonSchema[int | None] = Field(None, description="1-based line of the item in the scenario "
                                                               "file (set by the loader, for messages)")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml_form(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Outage):
            return data
        if not isinstance(data, dict):
            raise _error(f"expected an outage mapping like `plant: <name>`, got {show(data)}")
        yaml_form = bool(info.context and info.context.get(YAML_FORM))
        if "kind" in data and not yaml_form:
            return data  # the model form, from Python
        allowed = OUTAGE_KINDS + OUTAGE_OPTIONS
        unknown = [k for k in data if k not in allowed]
        if unknown:
            key = str(unknown[0])
            if key in ("kind", "target"):
                raise _error("write the kind of asset as the key, e.g. `- plant: <name>` (not `kind:`/"
                             "`target:`)", subkey=key)
            raise _error(unknown_key(key, allowed, f"an outage is `<kind>: <name>` with kind one of "
                                      f"{', '.join(OUTAGE_KINDS)}, plus optional {', '.join(OUTAGE_OPTIONS)}"),
                         subkey=key)
        kinds = [k for k in data if k in OUTAGE_KINDS]
        if not kinds:
            raise _error(f"an outage needs one kind key ({', '.join(OUTAGE_KINDS)}), e.g. `- plant: <name>`")
        if len(kinds) > 1:
            raise _error(f"an outage names exactly one asset but this one has '{kinds[0]}' and '{kinds[1]}'; "
                         "write them as separate items", subkey=kinds[1])
        kind = kinds[0]
        model = {"kind": kind, **{k: data[k] for k in OUTAGE_OPTIONS if k in data}}
        model["select" if kind == "select" else "target"] = data[kind]
        return model

    @field_validator("target", mode="before")
    @classmethod
    def _target_type(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _error(f"expected a name or a whole number, got {show(value)}")
        if isinstance(value, str) and not value.strip():
            raise _error("expected a name, got an empty text")
        if isinstance(value, str) and len(value) > MAX_NAME_CHARS:
            raise _error(f"a name of {len(value):,} characters is too long: names have "
                         f"{limit_text('MAX_NAME_CHARS', 'characters')}; got {show(value)}")
        if isinstance(value, int) and value < 0:
            raise _error(f"expected a name or a number ≥ 0, got {show(value)}")
        if isinstance(value, int) and value >= 10**MAX_NUMBER_DIGITS:
            raise _error(f"an asset number has {limit_text('MAX_NUMBER_DIGITS', 'digits')}; got {show(value)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Outage:
        if self.kind == "select":
            if self.select is None:
                raise _error("expected a selector mapping like `{kind: plant, fuel: hydro}`", subkey="select")
            if self.target is not None:
                raise _error("a select outage takes no target", subkey="target")
        else:
            if self.select is not None:
                raise _error(f"`select` criteria go with kind select, not {self.kind}", subkey="select")
            if self.target is None:
                raise _error(f"expected the {KIND_DOCS[self.kind][0]} of the {self.kind} to take out, "
                             f"got nothing", subkey="target")
            if self.kind in ("branch", "generator") and isinstance(self.target, int) and self.target < 1:
                raise _error(f"{self.kind} rows are numbered from 1, got {self.target}", subkey="target")
        hit = self.select.kind if self.select is not None else self.kind
        if self.restore:
            times = [r.after_h for r in self.restore]
            if any(b <= a for a, b in zip(times, times[1:])):
                raise _error("restore steps must come in order of after_h", subkey="restore")
            if hit not in DERATABLE and any(r.derate is not None for r in self.restore):
                raise _error(f"a {hit} is either in service or out: its restore steps take no derate",
                             subkey="restore")
            if self.repair_h is not None and self.repair_h < times[-1]:
                raise _error(f"repair_h ({self.repair_h:g}) comes before the last restore step "
                             f"({times[-1]:g} h)", subkey="repair_h")
        if self.derate is not None and hit not in DERATABLE:
            raise _error(f"derate applies to plant, unit, interconnector and generator outages (or a select of "
                         f"plants, units or interconnectors); a {hit} is either in service or out: remove "
                         "derate", subkey="derate")
        return self

    @property
    def label(self) -> str:
        """The outage as written in a scenario, e.g. ``plant: Dnipro-like HPP`` or ``select: {kind: plant}``."""
        if self.select is not None:
            criteria = ", ".join(f"{k}: {v}" for k, v in self.select.model_dump(exclude_none=True).items())
            return f"select: {{{criteria}}}"
        return f"{self.kind}: {self.target}"

    def yaml_form(self) -> dict[str, Any]:
        """The mapping a scenario file would hold for this outage (inverse of the YAML conversion)."""
        out: dict[str, Any] = {self.kind: self.select.model_dump(exclude_none=True)
                               if self.select is not None else self.target}
        for option in OUTAGE_OPTIONS:
            value = getattr(self, option)
            if value != Outage.model_fields[option].default:
                out[option] = [r.model_dump(exclude_none=True) for r in value] if option == "restore" else value
        return out


rebuild(Outage)


class Scenario(BaseModel):
    """A what-if: which network, at which demand, solved how, with which assets knocked out."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS,
                      description="short title used in reports and output names")
    description: str = Field("", max_length=MAX_TEXT_CHARS, description="free text: what happens and why")
    network: str = Field("dnipro-like", min_length=1, max_length=MAX_PATH_CHARS, description=(
        "the grid: a built-in name (`dnipro-like`), `pandapower:<case>` (e.g. `pandapower:case118`), or a "
        "path to a MATPOWER `.m` or pandapower `.json` file (relative paths: relative to the scenario file)"))
    load_level: float = _number("demand as a fraction of peak demand (1.0: peak; scales every load's MW and "
                                "Mvar)", 1.0, gt=0, le=3)
    solver: Literal["ac", "dc"] = Field("ac", description=(
        "power flow: `ac` (AC power flow, falling back to DC per island that does not converge) or `dc`"))
    shedding: Literal["proportional", "priority"] = Field("proportional", description=(
        "how a supply deficit is shared in an island: `proportional` (every load loses the same fraction) or "
        "`priority` (interruptible loads first, critical loads last)"))
    response: Literal["optimal", "none", "cascade"] = Field("optimal", description=(
        "how the system relieves overloaded branches: `optimal` (operators redispatch and shed the least "
        "priority-weighted demand that keeps every branch within its rating), `none` (overloads are only "
        "reported), `cascade` (no operator action: branches above `trip_threshold_pct` trip, islands "
        "re-form, repeat until nothing else trips)"))
    rating: Literal["rate_a", "rate_b", "rate_c"] = Field("rate_a", description=(
        "branch rating (MVA) that limits flows: `rate_a` (long-term), `rate_b` (short-term), `rate_c` "
        "(emergency)"))
    emergency_factor: float = _number("multiplies the rating (dimensionless); above 1 allows short-term "
                                      "emergency loading", 1.0, ge=1)
    trip_threshold_pct: float = _number("cascade only: branches loaded above this percentage of their "
                                        "(factored) rating trip, in %", 120.0, gt=100)
    availability: dict[Fuel, float] = Field(default_factory=dict, description=(
        "available fraction (0..1) of nameplate capacity by fuel, e.g. `{solar: 0.0, wind: 0.3}`; overrides "
        "the network's own table fuel by fuel (the built-in grid: a winter evening peak, see "
        "docs/metrics.md; MATPOWER and pandapower networks: 1.0 for every fuel)"))
    timeline: Timeline | None = Field(None, description="simulate over time (see the Timeline table); "
                                                        "omitted: one snapshot with every outage present")
    restoration: Restoration | None = Field(None, description=(
        "decide the repair order with a number of crews (see the Restoration table; needs a timeline); "
        "omitted: every repair starts at its strike"))
    baseline: str | None = Field(None, min_length=1, max_length=MAX_PATH_CHARS, description=(
        "another scenario file whose outages are already present from hour 0 (damage from earlier strikes); "
        "the result says what this scenario adds to it (timelines only)"))
    outages: list[Outage] = Field(default_factory=list, max_length=MAX_OUTAGES,
                                  description="assets knocked out or derated, in order (see the Outage tables)")
    protected: list[str] = Field(default_factory=list, max_length=MAX_OUTAGES, description=(
        "`gridsim worst` only: names of assets the attacker cannot hit (hardened or defended), as the search "
        "names them (e.g. `15-21`; `substation: 3` in a mixed search); see docs/worst.md"))
    attack: Attack | None = Field(None, description=(
        "a salvo against air defence, run as a Monte Carlo (weapons, interception, targets, damage; see "
        "docs/salvo.md); `outages` are then damage present in every draw"))
    draws: int | None = Field(None, strict=True, ge=1, le=MAX_DRAWS, description=(
        "Monte Carlo draws of the attack (omitted: 1000)"))
    seed: int | None = Field(None, strict=True, ge=0, lt=2**63, description=(
        "random seed of the attack's draws: the same seed gives the same numbers for any number of workers "
        "(omitted: 0)"))

    _source: Path | None = PrivateAttr(None)
    _base_dir: Path | None = PrivateAttr(None)
    _network_root: Path | None = PrivateAttr(None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("availability")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        for fuel, frac in value.items():
            if isinstance(frac, bool) or not 0.0 <= float(frac) <= 1.0:
                raise _error(f"availability of {fuel} must be a number from 0 to 1, got {show(frac)}", fuel)
        return value

    @model_validator(mode="after")
    def _restoration_needs_time(self) -> Scenario:
        if self.restoration is not None:
            if self.timeline is None:
                raise _error("a restoration block decides repair times over a timeline: add `timeline: "
                             "{horizon_h: ...}`", "restoration")
            if not any(o.repair_h is not None for o in self.outages):
                raise _error("a restoration block needs outages with repair_h (the crew work time)",
                             "restoration")
        return self

    @field_validator("draws", "seed", mode="before")
    @classmethod
    def _whole(cls, value: Any, info: ValidationInfo) -> Any:
        return value if value is None else whole_number(value, info.field_name, int(info.field_name == "draws"),
                                                        MAX_DRAWS if info.field_name == "draws" else 2**63 - 1)

    @model_validator(mode="after")
    def _draws_need_attack(self) -> Scenario:
        check_draws(self.draws, self.seed, self.attack)
        if self.attack is not None and self.restoration is not None:
            raise _error("an attack is a Monte Carlo of repairs drawn per hit; it does not combine with a "
                         "restoration block: remove one", "restoration")
        return self

    @field_validator("outages", mode="before")
    @classmethod
    def _empty_outages(cls, value: Any) -> Any:
        return [] if value is None else value  # `outages:` with nothing under it

    @property
    def source(self) -> Path | None:
        """The scenario file, or None when the scenario was not loaded from a file."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Folder relative network paths are resolved against: the file's folder, else the working directory
        when the scenario was loaded (or now, for a scenario built in Python)."""
        if self._base_dir is not None:
            return self._base_dir
        return self._source.parent if self._source is not None else Path.cwd()

    @property
    def network_root(self) -> Path | None:
        """The folder network files must lie in (``load_scenario(..., network_root=)``, ``gridsim run
        --network-root``), None when unconfined; pass it on as ``build_network(..., network_root=)``."""
        return self._network_root

    def line_of(self, key_path: str) -> int | None:
        """1-based line of ``key_path`` (``"load_level"``, ``"outages[2]"``, ``"outages[0].derate"``) in the
        scenario file; a key that is not written falls back to its nearest written parent; None when nothing
        on the path was written (or the scenario did not come from YAML)."""
        return nearest_line(self._lines, key_path)


def nearest_line(lines: dict[str, int], path: str) -> int | None:
    """The line recorded for ``path`` in ``lines`` (key path -> 1-based line, as the loader records them), else
    for its nearest recorded parent (``outages[1].derate`` -> ``outages[1]`` -> ``outages``); None if none."""
    while path:
        if path in lines:
            return lines[path]
        path = _parent(path)
    return None


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""

"""The scenario schema (pydantic models) and its YAML loader: the only module that reads YAML.

``load_scenario(path)`` / ``loads_scenario(text)`` turn a scenario file into a :class:`Scenario`. Every problem
with the input, from a missing file to a misspelled enum value, raises :class:`~gridsim.errors.ScenarioError`
with the file, the line, the key path (``outages[1].derate``, 0-based indices) and what was expected; nothing
else escapes. The docs' schema reference (``schema_markdown``) and ``gridsim schema`` (``scenario_json_schema``)
are generated from the field descriptions below, so they cannot drift from the code.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo,
                      field_validator, model_validator)
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from gridsim.errors import ScenarioError, did_you_mean

OutageKind = Literal["plant", "unit", "substation", "line", "transformer", "interconnector",
                     "bus", "branch", "generator", "select"]
SelectorKind = Literal["plant", "unit", "substation", "line", "transformer", "interconnector", "load"]
Fuel = Literal["nuclear", "coal", "gas", "hydro", "pumped_storage", "solar", "wind", "import", "other"]

OUTAGE_KINDS: tuple[str, ...] = get_args(OutageKind)
SELECTOR_KINDS: tuple[str, ...] = get_args(SelectorKind)
FUELS: tuple[str, ...] = get_args(Fuel)
#: outage kinds (and selector kinds) whose capacity can be derated instead of removed
DERATABLE: tuple[str, ...] = ("plant", "unit", "interconnector", "generator")
#: optional keys of an outage item besides its one kind key
OUTAGE_OPTIONS: tuple[str, ...] = ("derate", "at_h", "repair_h")

#: kind key -> (what its value is, what it takes out); the docs and the JSON schema are made from this
_KIND_DOCS: dict[str, tuple[str, str]] = {
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
    "select": ("selector mapping", "every asset that matches the selector (see the Selector table)"),
}

_YAML_FORM = "yaml_form"  # validation-context flag: outages are in the YAML form, never the model form


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
    region: str | None = Field(None, description="region name (MATPOWER networks: `area N`)")
    voltage_kv: float | None = _number("nominal voltage in kV: of the bus a unit or load is connected to, "
                                       "a line's from-bus, a transformer's high-voltage side; a substation "
                                       "matches when any of its buses has it", None, gt=0)
    name: str | None = Field(None, description="shell-style glob on the asset name (`*`, `?`, `[abc]`), "
                                               "e.g. `\"*HPP*\"`")

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
    for kind, (_, text) in _KIND_DOCS.items():
        if kind == "select":
            value: dict[str, Any] = {**selector, "description": text}
        else:
            value = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
                     "description": f"{_KIND_DOCS[kind][0]}: {text}"}
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
    line: SkipJsonSchema[int | None] = Field(None, description="1-based line of the item in the scenario "
                                                               "file (set by the loader, for messages)")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml_form(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Outage):
            return data
        if not isinstance(data, dict):
            raise _error(f"expected an outage mapping like `plant: <name>`, got {_show(data)}")
        yaml_form = bool(info.context and info.context.get(_YAML_FORM))
        if "kind" in data and not yaml_form:
            return data  # the model form, from Python
        allowed = OUTAGE_KINDS + OUTAGE_OPTIONS
        unknown = [k for k in data if k not in allowed]
        if unknown:
            key = str(unknown[0])
            if key in ("kind", "target"):
                raise _error("write the kind of asset as the key, e.g. `- plant: <name>` (not `kind:`/"
                             "`target:`)", subkey=key)
            raise _error(_unknown_key(key, allowed, f"an outage is `<kind>: <name>` with kind one of "
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
            raise _error(f"expected a name or a whole number, got {_show(value)}")
        if isinstance(value, str) and not value.strip():
            raise _error("expected a name, got an empty text")
        if isinstance(value, int) and value < 0:
            raise _error(f"expected a name or a number ≥ 0, got {value}")
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
                raise _error(f"expected the {_KIND_DOCS[self.kind][0]} of the {self.kind} to take out, "
                             f"got nothing", subkey="target")
            if self.kind in ("branch", "generator") and isinstance(self.target, int) and self.target < 1:
                raise _error(f"{self.kind} rows are numbered from 1, got {self.target}", subkey="target")
        hit = self.select.kind if self.select is not None else self.kind
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
                out[option] = value
        return out


class Scenario(BaseModel):
    """A what-if: which network, at which demand, solved how, with which assets knocked out."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str = Field(min_length=1, description="short title used in reports and output names")
    description: str = Field("", description="free text: what happens and why")
    network: str = Field("dnipro-like", min_length=1, description=(
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
    outages: list[Outage] = Field(default_factory=list, description="assets knocked out or derated, in order "
                                                                    "(see the Outage tables)")

    _source: Path | None = PrivateAttr(None)
    _base_dir: Path | None = PrivateAttr(None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

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

    def line_of(self, key_path: str) -> int | None:
        """1-based line of ``key_path`` (``"load_level"``, ``"outages[2]"``, ``"outages[0].derate"``) in the
        scenario file; a key that is not written falls back to its nearest written parent; None when nothing
        on the path was written (or the scenario did not come from YAML)."""
        return _nearest_line(self._lines, key_path)


# ---------------------------------------------------------------------------------------------- loading

def load_scenario(path: str | PathLike[str]) -> Scenario:
    """Read a scenario YAML file. Raises ScenarioError (and nothing else) for any problem with it."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("scenario file not found", file=str(file)) from None
    except IsADirectoryError:
        raise ScenarioError("is a directory, expected a scenario .yaml file", file=str(file)) from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read the file: {exc}", file=str(file)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the "
                            "file as UTF-8", file=str(file), line=line) from None
    return _parse(text, label=str(file), source=file.absolute(), base_dir=file.absolute().parent)


def loads_scenario(text: str, source: str = "<string>", *, base_dir: str | PathLike[str] | None = None
                   ) -> Scenario:
    """Parse scenario YAML from a string. ``source`` names it in error messages; relative network paths
    resolve against ``base_dir`` (default: the current working directory)."""
    if not isinstance(text, str):
        raise ScenarioError(f"expected YAML text, got {_show(text)}", file=source)
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    return _parse(text, label=source, source=None, base_dir=folder.absolute())


def _parse(text: str, *, label: str, source: Path | None, base_dir: Path) -> Scenario:
    root, reader = _compose(text, label)
    if root is None:
        raise ScenarioError("the file is empty; a scenario needs at least `name:`", file=label)
    try:
        data = reader.build(root, "")
    except RecursionError:
        raise ScenarioError("the YAML is nested too deeply", file=label) from None
    if data is None:
        raise ScenarioError("the file holds no keys; a scenario needs at least `name:`",
                            file=label, line=root.start_mark.line + 1)
    if not isinstance(data, dict):
        raise ScenarioError(f"expected a mapping of keys (name:, network:, outages:, ...) at the top level, "
                            f"got {_show(data)}", file=label, line=root.start_mark.line + 1)
    try:
        scenario = Scenario.model_validate(data, context={_YAML_FORM: True})
    except ValidationError as exc:
        raise _translate(exc, data, reader.lines, label) from None
    scenario._source, scenario._base_dir, scenario._lines = source, base_dir, reader.lines
    for i, outage in enumerate(scenario.outages):
        outage.line = reader.lines.get(f"outages[{i}]")
    return scenario


def _compose(text: str, label: str) -> tuple[yaml.Node | None, _NodeReader]:
    """The YAML node tree (nodes keep their marks, hence line numbers), with syntax errors located."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        return loader.get_single_node(), _NodeReader(loader, label)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        if "'\\t'" in problem:
            problem += " (indent with spaces, not tabs)"
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise ScenarioError(f"invalid YAML{where}: {problem}", file=label,
                            line=mark.line + 1 if mark is not None else None) from None
    except yaml.YAMLError as exc:  # ReaderError: characters YAML does not allow
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else None
        raise ScenarioError(f"invalid YAML: {exc}", file=label, line=line) from None
    except RecursionError:
        raise ScenarioError("the YAML is nested too deeply", file=label) from None
    finally:
        if loader is not None:
            loader.dispose()


_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp", "binary")}


def _tag(node: yaml.Node) -> str:
    return str(node.tag).replace(_TAG, "!!")


class _NodeReader:
    """Builds plain Python data from a node tree, recording the 1-based line of every key path.

    Rejects duplicate keys, merge keys and unusual tags; aliases are built once (no exponential blow-up)
    and recursive aliases are an error.
    """

    def __init__(self, loader: yaml.SafeLoader, label: str):
        self.loader, self.label = loader, label
        self.lines: dict[str, int] = {}
        self._built: dict[int, Any] = {}
        self._active: set[int] = set()

    def error(self, message: str, node: yaml.Node, path: str) -> ScenarioError:
        return ScenarioError(message, file=self.label, line=node.start_mark.line + 1, key=path or None)

    def build(self, node: yaml.Node, path: str) -> Any:
        if id(node) in self._built:
            return self._built[id(node)]
        if id(node) in self._active:
            raise self.error("a YAML alias refers to the mapping or list that contains it", node, path)
        self._active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            value: Any = self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            value = self._sequence(node, path)
        else:
            value = self._scalar(node, path)
        self._active.discard(id(node))
        self._built[id(node)] = value
        return value

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            raise self.error(f"unsupported YAML tag {_tag(node)}; write a plain mapping", node, path)
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise self.error("YAML merge keys ('<<') are not supported; write the keys out", key_node, path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("a key must be plain text, not a list or mapping", key_node, path)
            key = str(key_node.value)  # as written: `yes:` is the key 'yes', not True
            sub = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in out:
                raise self.error(f"duplicate key '{key}' (first at line {first[key]}); keep only one",
                                 key_node, sub)
            first[key] = line
            self.lines.setdefault(sub, line)
            out[key] = self.build(value_node, sub)
        return out

    def _sequence(self, node: yaml.SequenceNode, path: str) -> list[Any]:
        if node.tag != _TAG + "seq":
            raise self.error(f"unsupported YAML tag {_tag(node)}; write a plain list", node, path)
        items = []
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            self.lines.setdefault(sub, item.start_mark.line + 1)
            items.append(self.build(item, sub))
        return items

    def _scalar(self, node: yaml.Node, path: str) -> Any:
        if node.tag == _TAG + "value":  # a plain `=`: YAML 1.1's value key, text to anyone writing it
            return str(node.value)
        if node.tag not in _SCALAR_TAGS:
            raise self.error(f"unsupported YAML tag {_tag(node)}", node, path)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, TypeError, OverflowError) as exc:
            raise self.error(f"cannot read the value {str(node.value)[:60]!r} ({exc})", node, path) from None


# ------------------------------------------------------------------------------------ error translation

def _translate(exc: ValidationError, data: dict[str, Any], lines: dict[str, int], label: str) -> ScenarioError:
    """One ScenarioError for all validation problems: the first in the file leads, the rest follow."""
    problems = []
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        loc = tuple(err["loc"]) + ((ctx["subkey"],) if ctx.get("subkey") else ())
        path = _yaml_path(loc, data)
        line = _nearest_line(lines, path)
        problems.append((line or 0, path, _message(err, loc), line))
    problems.sort(key=lambda p: p[0])
    _, path, message, line = problems[0]
    for _, other_path, other_message, other_line in problems[1:6]:
        message += f"\n  also {f'line {other_line}: ' if other_line else ''}{other_path}: {other_message}"
    if len(problems) > 6:
        message += f"\n  and {len(problems) - 6} more problems"
    return ScenarioError(message, file=label, line=line, key=path or None)


def _yaml_path(loc: tuple[Any, ...], data: Any) -> str:
    """``('outages', 1, 'target')`` -> ``outages[1].plant``: the key path as written in the YAML."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        part = str(part)
        if part == "target" and isinstance(node, dict):
            part = next((k for k in node if k in OUTAGE_KINDS), part)
        out = f"{out}.{part}" if out else part
        node = node.get(part) if isinstance(node, dict) else None
    return out


def _nearest_line(lines: dict[str, int], path: str) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = _parent(path)
    return None


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _field_at(loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the last key of ``loc`` and that key's field (None where loc leaves the schema)."""
    model: type[BaseModel] | None = Scenario
    field = None
    keys = [str(part) for part in loc if not isinstance(part, int)]
    for i, part in enumerate(keys):
        field = model.model_fields.get(part) if model is not None else None
        if i == len(keys) - 1:
            return model, field
        inner = _unwrap(field.annotation) if field is not None else None
        if get_origin(inner) is list:
            inner = get_args(inner)[0]
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return model, field


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, type(int | None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _message(err: Any, loc: tuple[Any, ...]) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "gridsim":
        return str(ctx.get("message"))
    model, field = _field_at(loc)
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model is not None else []
        allowed = [k for k in allowed if k != "line"]
        return _unknown_key(name, allowed, "expected one of " + ", ".join(allowed))
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{_show(value)} is not one of {', '.join(options)}{did_you_mean(str(value), options)}"
    if kind == "missing":
        return f"required key is missing: expected {_expected(name, field)}"
    if kind == "string_too_short":
        return "expected a non-empty text"
    hint = ""
    if isinstance(value, str) and field is not None and _unwrap(field.annotation) is float:
        if value.strip().endswith("%") and not name.endswith("_pct"):
            hint = " (write a fraction: 0.9 means 90 %)"
        elif _is_number(value):
            hint = " (remove the quotes)"
    return f"expected {_expected(name, field)}, got {_show(value)}{hint}"


def _unknown_key(key: str, allowed: tuple[str, ...] | list[str], help_text: str) -> str:
    """"unknown key 'plnat'; did you mean 'plant'? (an outage is ...)" or "unknown key 'x'; expected ..."."""
    suggestion = did_you_mean(key, allowed)
    return f"unknown key '{key}'{suggestion} ({help_text})" if suggestion else f"unknown key '{key}'; {help_text}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _expected(name: str, field: FieldInfo | None) -> str:
    """What a field accepts, in words: "a number between 0 and 1 (0 ≤ derate < 1)", "one of ac, dc"."""
    if field is None:
        return "a valid value"
    annotation = _unwrap(field.annotation)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(get_args(annotation))
    if annotation is float:
        return "a number" + _bounds(name, field, words=True)
    if annotation is str:
        return "text"
    if annotation is Selector:
        return "a selector mapping like {kind: plant, fuel: hydro}"
    if get_origin(annotation) is list:
        return "a list of outages, one item per line starting with '- '"
    return "a name or a whole number"


def _bounds(name: str, field: FieldInfo, *, words: bool) -> str:
    low = high = None
    for m in field.metadata:
        if isinstance(m, (annotated_types.Gt, annotated_types.Ge)):
            low = (f"{float(getattr(m, 'gt', getattr(m, 'ge', 0))):g}", "<" if isinstance(m, annotated_types.Gt)
                   else "≤")
        if isinstance(m, (annotated_types.Lt, annotated_types.Le)):
            high = (f"{float(getattr(m, 'lt', getattr(m, 'le', 0))):g}", "<" if isinstance(m, annotated_types.Lt)
                    else "≤")
    formula = f"{low[0] + ' ' + low[1] + ' ' if low else ''}{name}{' ' + high[1] + ' ' + high[0] if high else ''}"
    if not words:
        if low and high:
            return formula
        if low or high:
            return f"{'>' if low[1] == '<' else '≥'} {low[0]}" if low else f"{high[1]} {high[0]}"
        return ""
    if low and high:
        return f" between {low[0]} and {high[0]} ({formula})"
    if low:
        return f" {'greater than' if low[1] == '<' else 'at least'} {low[0]}"
    if high:
        return f" {'below' if high[1] == '<' else 'at most'} {high[0]}"
    return ""


def _show(value: Any) -> str:
    """A value as a user would recognise it from their YAML."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else "a huge number"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


# --------------------------------------------------------------------------------- schema as data

def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the scenario YAML, as printed by ``gridsim schema``."""
    schema = Scenario.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "gridsim scenario"}


def schema_markdown() -> str:
    """The reference tables of docs/scenarios.md, rendered from the models' field descriptions."""
    out = ["### Scenario: top-level keys", "", *_table(Scenario, skip=()), "",
           "### Outage: one item of `outages`", "",
           "Each item is a mapping with exactly one of these kind keys:", "",
           "| key | value | takes out |", "|---|---|---|"]
    out += [f"| `{kind}` | {_cell(value)} | {_cell(text)} |" for kind, (value, text) in _KIND_DOCS.items()]
    out += ["", "and optionally:", "", *_table(Outage, skip=("kind", "target", "select", "line")), "",
            "### Selector: the mapping under `select`", "", *_table(Selector, skip=()), ""]
    return "\n".join(out)


def _table(model: type[BaseModel], skip: tuple[str, ...]) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        rows.append(f"| `{name}` | {_cell(_type_text(name, field))} | {_cell(_default_text(field))} | "
                    f"{_cell(field.description or '')} |")
    return rows


def _type_text(name: str, field: FieldInfo) -> str:
    annotation = _unwrap(field.annotation)
    if get_origin(annotation) is Literal:
        return " | ".join(f"`{a}`" for a in get_args(annotation))
    if annotation is float:
        bounds = _bounds(name, field, words=False)
        return f"number, {bounds}" if bounds else "number"
    if get_origin(annotation) is list:
        return "list of outages"
    return {str: "text"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return "`[]`"
    if field.default is None:
        return "none"
    if field.default == "":
        return '`""`'
    return f"`{field.default}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

"""Schema as data: the JSON Schema printed by ``gridsim schema`` and the reference tables of
docs/scenarios.md, both generated from the models' field descriptions so they cannot drift."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gridsim.limits import LIMITS
from gridsim.scenario.schema import KIND_DOCS, Outage, Scenario, Selector
from gridsim.scenario.time import Restore, Timeline
from gridsim.scenario.wording import bounds_text, unwrap_optional


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
    out += [f"| `{kind}` | {_cell(value)} | {_cell(text)} |" for kind, (value, text) in KIND_DOCS.items()]
    out += ["", "and optionally:", "", *_table(Outage, skip=("kind", "target", "select", "line")), "",
            "### Selector: the mapping under `select`", "", *_table(Selector, skip=()), "",
            "### Restore: one item of an outage's `restore`", "", *_table(Restore, skip=()), "",
            "### Timeline: the mapping under `timeline`", "", *_table(Timeline, skip=()), "", *_limits(), ""]
    return "\n".join(out)


def _limits() -> list[str]:
    rows = ["### Limits", "",
            "Every input is bounded; going over a limit is an error (exit code 2) that names the limit, raised "
            "before the rest of the input is read or run. Only regular files are read: a device (`/dev/zero`), "
            "a FIFO or a socket given as a scenario or network file is an error before anything is read.", "",
            "| limit | value | bounds |", "|---|---|---|"]
    rows += [f"| `{name}` | {value:,} | {_cell(text)} |" for name, (value, text) in LIMITS.items()]
    return rows


def _table(model: type[BaseModel], skip: tuple[str, ...]) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        rows.append(f"| `{name}` | {_cell(_type_text(name, field))} | {_cell(_default_text(field))} | "
                    f"{_cell(field.description or '')} |")
    return rows


def _type_text(name: str, field: FieldInfo) -> str:
    longest = next((m.max_length for m in field.metadata if isinstance(m, annotated_types.MaxLen)), None)
    text = _base_type_text(name, field)
    if longest is None:
        return text
    return f"{text}, at most {longest:,} {'items' if text.startswith('list') else 'characters'}"


def _base_type_text(name: str, field: FieldInfo) -> str:
    annotation = unwrap_optional(field.annotation)
    if get_origin(annotation) is Literal:
        return " | ".join(f"`{a}`" for a in get_args(annotation))
    if annotation is float:
        bounds = bounds_text(name, field, words=False)
        return f"number, {bounds}" if bounds else "number"
    if get_origin(annotation) is list:
        item = get_args(annotation)[0]
        return "list of restore steps" if item is Restore else ("list of names" if item is str else "list of outages")
    if annotation is Timeline:
        return "mapping (see Timeline)"
    if getattr(annotation, "__name__", "") == "datetime":
        return "date and time"
    if get_origin(annotation) is dict:
        return "mapping of fuel to number"
    return {str: "text"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return f"`{field.default_factory()}`"
    if field.default is None:
        return "none"
    if field.default == "":
        return '`""`'
    return f"`{field.default}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

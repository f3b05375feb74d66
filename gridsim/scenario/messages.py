"""Pydantic validation errors -> one ScenarioError with the file, the line, the key path as written in the
YAML (``outages[1].derate``, 0-based indices) and what was expected, in words."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from gridsim.errors import ScenarioError, did_you_mean
from gridsim.limits import limit_text
from gridsim.scenario.schema import FIELD_LIMITS, OUTAGE_KINDS, Scenario, Selector, nearest_line
from gridsim.scenario.wording import bounds_text, show, unknown_key, unwrap_optional


def translate(exc: ValidationError, data: dict[str, Any], lines: dict[str, int], label: str) -> ScenarioError:
    """One ScenarioError for all validation problems: the first in the file leads, the rest follow."""
    problems = []
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        loc = tuple(p for p in err["loc"] if p != "[key]")   # a mapping key's error: at the key itself
        loc += (ctx["subkey"],) if ctx.get("subkey") else ()
        if err["type"] == "missing" and _written_in_other_case(loc, data):
            continue   # the unknown-key problem of the miscased key says it, with the did-you-mean
        path = _yaml_path(loc, data)
        line = nearest_line(lines, path)
        problems.append((line or 0, path, _message(err, loc), line))
    problems.sort(key=lambda p: p[0])
    _, path, message, line = problems[0]
    for _, other_path, other_message, other_line in problems[1:6]:
        message += f"\n  also {f'line {other_line}: ' if other_line else ''}{other_path}: {other_message}"
    if len(problems) > 6:
        message += f"\n  and {len(problems) - 6} more problems"
    return ScenarioError(message, file=label, line=line, key=path or None)


def _written_in_other_case(loc: tuple[Any, ...], data: Any) -> bool:
    """Whether the mapping that misses the key ``loc[-1]`` holds it in another case (``Name:`` for ``name:``)."""
    node = data
    for part in loc[:-1]:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            part = str(part)
            if part == "target" and isinstance(node, dict):
                part = next((k for k in node if k in OUTAGE_KINDS), part)
            node = node.get(part) if isinstance(node, dict) else None
    name = str(loc[-1]).lower() if loc else ""
    return isinstance(node, dict) and any(str(k).lower() == name and k != loc[-1] for k in node)


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


def _field_at(loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the last key of ``loc`` and that key's field (None where loc leaves the schema)."""
    model: type[BaseModel] | None = Scenario
    field = None
    keys = [str(part) for part in loc if not isinstance(part, int)]
    for i, part in enumerate(keys):
        field = model.model_fields.get(part) if model is not None else None
        if i == len(keys) - 1:
            return model, field
        inner = unwrap_optional(field.annotation) if field is not None else None
        if get_origin(inner) is list:
            inner = get_args(inner)[0]
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return model, field


def _message(err: Any, loc: tuple[Any, ...]) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "gridsim":
        return str(ctx.get("message"))
    model, field = _field_at(loc)
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model is not None else []
        allowed = [k for k in allowed if k != "line"]
        return unknown_key(name, allowed, "expected one of " + ", ".join(allowed))
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{show(value)} is not one of {', '.join(options)}{did_you_mean(str(value), options)}"
    if kind == "missing":
        return f"required key is missing: expected {_expected(name, field)}"
    if kind == "string_too_short":
        return "expected a non-empty text"
    if kind in ("string_too_long", "too_long"):
        size = len(value) if isinstance(value, (list, tuple)) else len(str(value))
        unit = "characters" if kind == "string_too_long" else "items"
        limit = FIELD_LIMITS.get(name)
        allowed = limit_text(limit, unit) if limit else f"at most {ctx.get('max_length')} {unit}"
        got = f"; got {show(value)}" if not isinstance(value, (list, tuple)) else ""
        return f"too long: {size:,} {unit}, {name} has {allowed}{got}"
    hint = ""
    if isinstance(value, str) and field is not None and unwrap_optional(field.annotation) is float:
        if value.strip().endswith("%") and not name.endswith("_pct"):
            hint = " (write a fraction: 0.9 means 90 %)"
        elif _is_number(value):
            hint = " (remove the quotes)"
    return f"expected {_expected(name, field)}, got {show(value)}{hint}"


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
    annotation = unwrap_optional(field.annotation)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(get_args(annotation))
    if annotation is float:
        return "a number" + bounds_text(name, field, words=True)
    if annotation is str:
        return "text"
    if annotation is Selector:
        return "a selector mapping like {kind: plant, fuel: hydro}"
    if get_origin(annotation) is list:
        what = "names" if get_args(annotation) and get_args(annotation)[0] is str else "outages"
        return f"a list of {what}, one item per line starting with '- '"
    return "a name or a whole number"

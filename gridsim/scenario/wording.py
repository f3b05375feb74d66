"""How scenario values and field constraints read to a user: the words shared by the schema's validators,
the validation messages and the schema reference. Depends on nothing else in the package."""

from __future__ import annotations

from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo

from gridsim.errors import did_you_mean
from gridsim.limits import MAX_QUOTE_CHARS, clip


def show(value: Any) -> str:
    """A value as a user would recognise it from their YAML."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) <= MAX_QUOTE_CHARS:
            return repr(value)
        return f"{value[:MAX_QUOTE_CHARS - 3] + '...'!r} ({len(value):,} characters)"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else "a huge number"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def unknown_key(key: str, allowed: tuple[str, ...] | list[str], help_text: str) -> str:
    """"unknown key 'plnat'; did you mean 'plant'? (an outage is ...)" or "unknown key 'x'; expected ...";
    a key that differs from a known key only in case: "unknown key 'Name'; keys are case-sensitive: did you
    mean 'name'?"."""
    same = [a for a in allowed if a.lower() == str(key).lower()]
    if same:
        return f"unknown key '{clip(key)}'; keys are case-sensitive: did you mean '{same[0]}'?"
    suggestion = did_you_mean(key, allowed)
    shown = clip(key)
    return f"unknown key '{shown}'{suggestion} ({help_text})" if suggestion else f"unknown key '{shown}'; {help_text}"


def unwrap_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, type(int | None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def bounds_text(name: str, field: FieldInfo, *, words: bool) -> str:
    """A number field's bounds: in words for messages (" between 0 and 1 (0 ≤ derate < 1)"), or as a formula
    for the reference tables ("0 ≤ derate < 1", "> 0"); "" when unbounded."""
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

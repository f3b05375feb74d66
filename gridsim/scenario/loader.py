"""Reading scenario YAML: the only place gridsim reads YAML.

``load_scenario(path)`` / ``loads_scenario(text)`` compose the YAML node tree with PyYAML's SafeLoader (nodes
keep their marks, hence line numbers), build plain data while recording the line of every key path, validate
it against the schema and translate any problem into a ScenarioError; nothing else escapes.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gridsim.errors import ScenarioError
from gridsim.scenario.messages import translate
from gridsim.scenario.schema import YAML_FORM, Scenario
from gridsim.scenario.wording import show


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
        raise ScenarioError(f"expected YAML text, got {show(text)}", file=source)
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
                            f"got {show(data)}", file=label, line=root.start_mark.line + 1)
    try:
        scenario = Scenario.model_validate(data, context={YAML_FORM: True})
    except ValidationError as exc:
        raise translate(exc, data, reader.lines, label) from None
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

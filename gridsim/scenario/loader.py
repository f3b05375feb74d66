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
from gridsim.limits import MAX_OUTAGES, MAX_SCENARIO_BYTES, clip, limit_text, read_limited
from gridsim.scenario.messages import translate
from gridsim.scenario.schema import YAML_FORM, Scenario
from gridsim.scenario.wording import show


def load_scenario(path: str | PathLike[str], *, network_root: str | PathLike[str] | None = None) -> Scenario:
    """Read a scenario YAML file. Raises ScenarioError (and nothing else) for any problem with it.

    Only a regular file of at most MAX_SCENARIO_BYTES is read (gridsim.limits). With ``network_root``, a
    network given as a file path must lie inside that folder (after resolving ``..`` and symlinks), and the
    scenario keeps the root (``Scenario.network_root``) for building its network.
    """
    file = Path(path)
    try:
        raw = read_limited(file, MAX_SCENARIO_BYTES, "MAX_SCENARIO_BYTES", "scenario .yaml file",
                           lambda message: ScenarioError(message, file=str(file)))
    except ValueError as exc:   # e.g. a NUL character in the path
        raise ScenarioError(f"cannot read the file: {exc}", file=clip(file)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the "
                            "file as UTF-8", file=str(file), line=line) from None
    scenario = _parse(text, label=str(file), source=file.absolute(), base_dir=file.absolute().parent)
    return confine_network(scenario, network_root, str(file))


def loads_scenario(text: str, source: str = "<string>", *, base_dir: str | PathLike[str] | None = None,
                   network_root: str | PathLike[str] | None = None) -> Scenario:
    """Parse scenario YAML from a string. ``source`` names it in error messages; relative network paths
    resolve against ``base_dir`` (default: the current working directory); ``network_root`` as in
    :func:`load_scenario`."""
    if not isinstance(text, str):
        raise ScenarioError(f"expected YAML text, got {show(text)}", file=source)
    if len(text) > MAX_SCENARIO_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"the text is longer than a scenario may be: {limit_text('MAX_SCENARIO_BYTES', 'bytes')}",
                            file=source)
    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    return confine_network(_parse(text, label=source, source=None, base_dir=folder.absolute()), network_root,
                           source)


def confine_network(scenario: Scenario, network_root: str | PathLike[str] | None, label: str) -> Scenario:
    """Check that the scenario's network file lies inside ``network_root`` and record the root on the scenario
    (a no-op without a root). Raises ScenarioError located at ``network:``, NetworkError when the root is no
    folder."""
    if network_root is None:
        return scenario
    from gridsim.errors import NetworkError
    from gridsim.networks import network_file

    if not Path(network_root).is_dir():
        raise NetworkError(f"network root {clip(network_root, 200)} is not a folder")
    try:
        network_file(scenario.network, scenario.base_dir, network_root)
    except NetworkError as exc:
        raise ScenarioError(str(exc), file=label, line=scenario.line_of("network"), key="network") from None
    scenario._network_root = Path(network_root).resolve()
    return scenario


def _parse(text: str, *, label: str, source: Path | None, base_dir: Path) -> Scenario:
    root, reader = _compose(text, label)
    _check_outage_count(root, label)
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


def _check_outage_count(root: yaml.Node | None, label: str) -> None:
    """At most MAX_OUTAGES outage items, checked on the node tree before anything is built or validated."""
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "outages" and isinstance(value, yaml.SequenceNode) \
                and len(value.value) > MAX_OUTAGES:
            raise ScenarioError(f"too many outage items: {len(value.value):,}; a scenario has "
                                f"{limit_text('MAX_OUTAGES', 'items')} (use `select:` to take out many assets "
                                "with one item)", file=label, line=key.start_mark.line + 1, key="outages")


class _TagMarkingLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that marks every node written with an explicit tag (``!!binary``, ``!!str``, ``!x``,
    ``!``) with ``explicit_tag``: the composed node keeps only the resolved tag, which cannot tell ``!!str 5``
    from ``"5"``."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        event = self.peek_event()
        tag = getattr(event, "tag", None) if not isinstance(event, yaml.AliasEvent) else None
        node = super().compose_node(parent, index)
        if tag is not None and node is not None:
            node.explicit_tag = tag
        return node


def _compose(text: str, label: str) -> tuple[yaml.Node | None, _NodeReader]:
    """The YAML node tree (nodes keep their marks, hence line numbers), with syntax errors located."""
    loader = None
    try:
        loader = _TagMarkingLoader(text)
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
    return clip(str(getattr(node, "explicit_tag", None) or node.tag).replace(_TAG, "!!"))


class _NodeReader:
    """Builds plain Python data from a node tree, recording the 1-based line of every key path.

    Rejects duplicate keys, merge keys and every explicit tag (only plain scalars, lists and mappings are
    accepted); aliases are built once (no exponential blow-up) and recursive aliases are an error.
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
        self._untagged(node, path)
        if isinstance(node, yaml.MappingNode):
            value: Any = self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            value = self._sequence(node, path)
        else:
            value = self._scalar(node, path)
        self._active.discard(id(node))
        self._built[id(node)] = value
        return value

    def _untagged(self, node: yaml.Node, path: str) -> None:
        if getattr(node, "explicit_tag", None) is not None:
            what = {yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}.get(type(node), "value")
            raise self.error(f"unsupported YAML tag {_tag(node)}: a scenario holds only plain values, lists and "
                             f"mappings; remove the tag and write the {what} itself", node, path)

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
            self._untagged(key_node, path)
            key = str(key_node.value)  # as written: `yes:` is the key 'yes', not True
            sub = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in out:
                raise self.error(f"duplicate key '{clip(key)}' (first at line {first[key]}); keep only one",
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
            reason = "too many digits" if node.tag in (_TAG + "int", _TAG + "float") else clip(exc, 120)
            raise self.error(f"cannot read the value {clip(node.value)!r} ({reason})", node, path) from None

"""The scenario schema and loader: every form users write, every error they can make, and the guarantee that
nothing but ScenarioError escapes the loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsim.errors import ScenarioError
from gridsim.scenario import (DERATABLE, OUTAGE_KINDS, OUTAGE_OPTIONS, Outage, Scenario, Selector,
                              load_scenario, loads_scenario, scenario_json_schema, schema_markdown)

DOCS = Path(__file__).parent.parent / "docs" / "scenarios.md"

EXAMPLE = """\
name: Dnipro-like hydro plant strike
description: The largest plant of the river cascade and its switchyard are destroyed.
network: dnipro-like        # built-in name
load_level: 0.9
solver: dc
shedding: priority
response: cascade
rating: rate_b
emergency_factor: 1.2
trip_threshold_pct: 130
outages:
  - plant: Dnipro-like HPP
  - unit: Zorya NPP G2
  - substation: Lower Slavna HPP
  - line: Yavir NPP - Kalynivsk 750 kV
  - transformer: Zorya NPP AT1
  - interconnector: Zakhid Interconnector
  - plant: Chornozem TPP
    derate: 0.4
    at_h: 2
    repair_h: 48
  - select: {kind: plant, fuel: hydro, region: Pryrichna}
  - bus: 11
  - branch: 19
  - line: "11-14"
  - line: "15-21#2"
  - generator: 7
  - select:
      kind: line
      voltage_kv: 330
      name: "*Slavna*"
"""

EXPECTED_OUTAGES = [
    ("plant", "Dnipro-like HPP", 12), ("unit", "Zorya NPP G2", 13), ("substation", "Lower Slavna HPP", 14),
    ("line", "Yavir NPP - Kalynivsk 750 kV", 15), ("transformer", "Zorya NPP AT1", 16),
    ("interconnector", "Zakhid Interconnector", 17), ("plant", "Chornozem TPP", 18), ("select", None, 22),
    ("bus", 11, 23), ("branch", 19, 24), ("line", "11-14", 25), ("line", "15-21#2", 26),
    ("generator", 7, 27), ("select", None, 28),
]


def load_error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, source="s.yaml")
    return info.value


# ------------------------------------------------------------------------------------------ valid input

def test_full_example_parses_to_the_right_model(tmp_path):
    path = tmp_path / "strike.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    sc = load_scenario(path)
    assert (sc.name, sc.network, sc.load_level, sc.solver, sc.shedding, sc.response, sc.rating) == (
        "Dnipro-like hydro plant strike", "dnipro-like", 0.9, "dc", "priority", "cascade", "rate_b")
    assert sc.description.startswith("The largest plant")
    assert (sc.emergency_factor, sc.trip_threshold_pct) == (1.2, 130.0)
    assert [(o.kind, o.target, o.line) for o in sc.outages] == EXPECTED_OUTAGES
    derated = sc.outages[6]
    assert (derated.derate, derated.at_h, derated.repair_h) == (0.4, 2.0, 48.0)
    assert sc.outages[7].select == Selector(kind="plant", fuel="hydro", region="Pryrichna")
    assert sc.outages[13].select == Selector(kind="line", voltage_kv=330.0, name="*Slavna*")
    assert all(o.at_h == 0 and o.repair_h is None for i, o in enumerate(sc.outages) if i != 6)
    assert sc.source == path.absolute()
    assert sc.base_dir == tmp_path.absolute()


def test_defaults_need_only_a_name():
    sc = loads_scenario("name: quiet day\n")
    assert sc.model_dump() == {
        "name": "quiet day", "description": "", "network": "dnipro-like", "load_level": 1.0, "solver": "ac",
        "shedding": "proportional", "response": "optimal", "rating": "rate_a", "emergency_factor": 1.0,
        "trip_threshold_pct": 120.0, "availability": {}, "timeline": None, "restoration": None, "baseline": None,
        "outages": [], "protected": [], "attack": None, "draws": None, "seed": None}
    assert loads_scenario("name: x\noutages:\n").outages == []


@pytest.mark.parametrize("item, kind, target, derate", [
    ("plant: P", "plant", "P", None),
    ("unit: G1", "unit", "G1", None),
    ("substation: S", "substation", "S", None),
    ("line: L", "line", "L", None),
    ("transformer: T", "transformer", "T", None),
    ("interconnector: IC", "interconnector", "IC", None),
    ("plant: P\n    derate: 0.4", "plant", "P", 0.4),
    ("unit: G1\n    derate: 0", "unit", "G1", 0.0),
    ("interconnector: IC\n    derate: 0.5", "interconnector", "IC", 0.5),
    ("generator: 3\n    derate: 0.25", "generator", 3, 0.25),
    ("bus: 11", "bus", 11, None),
    ("branch: 19", "branch", 19, None),
    ("line: 11-14", "line", "11-14", None),
    ("line: \"15-21#2\"", "line", "15-21#2", None),
    ("generator: 7", "generator", 7, None),
    ("line: 12", "line", 12, None),
    ("substation: \"11\"", "substation", "11", None),
])
def test_every_outage_form(item, kind, target, derate):
    outage = loads_scenario(f"name: x\noutages:\n  - {item}\n").outages[0]
    assert (outage.kind, outage.target, outage.select, outage.derate, outage.line) == (kind, target, None, derate, 3)


@pytest.mark.parametrize("selector, derate", [
    ({"kind": "plant", "fuel": "hydro"}, None),
    ({"kind": "unit", "fuel": "coal", "region": "area 2"}, 0.5),
    ({"kind": "interconnector"}, 0.0),
    ({"kind": "substation", "voltage_kv": 750.0, "region": "North"}, None),
    ({"kind": "line", "name": "*Slavna*"}, None),
    ({"kind": "transformer", "name": "Zorya NPP AT?"}, None),
    ({"kind": "load", "region": "Hirna"}, None),
])
def test_every_selector_form(selector, derate):
    item = {"select": selector, **({"derate": derate} if derate is not None else {})}
    outage = loads_scenario(yaml.safe_dump({"name": "x", "outages": [item]})).outages[0]
    assert (outage.kind, outage.target, outage.derate) == ("select", None, derate)
    assert outage.select.model_dump(exclude_none=True) == selector


def test_python_api_takes_both_forms_and_round_trips():
    assert Outage(plant="P") == Outage(kind="plant", target="P")
    sc = Scenario(name="x", outages=[Outage(unit="G1", derate=0.3), {"bus": 11},
                                     {"select": {"kind": "plant", "fuel": "gas"}}])
    assert [o.label for o in sc.outages] == ["unit: G1", "bus: 11", "select: {kind: plant, fuel: gas}"]
    assert sc.outages[0].yaml_form() == {"unit": "G1", "derate": 0.3}
    for o in sc.outages:
        assert Outage.model_validate(o.yaml_form()) == o
    assert Scenario.model_validate(sc.model_dump()) == sc
    # a dict with `kind` is the model form from Python, so the YAML line number survives a dump
    assert Outage.model_validate({"kind": "line", "target": "11-14", "line": 7}).line == 7


def test_line_of_and_outage_lines():
    sc = loads_scenario(EXAMPLE)
    assert sc.line_of("name") == 1
    assert sc.line_of("load_level") == 4
    assert sc.line_of("outages") == 11
    assert sc.line_of("outages[2]") == 14
    assert sc.line_of("outages[6].derate") == 19
    assert sc.line_of("outages[6].repair_h") == 21
    assert sc.line_of("outages[13].select.voltage_kv") == 30
    assert sc.line_of("outages[0].derate") == 12          # not written: its outage's line
    assert sc.line_of("rating") == 8
    assert sc.line_of("nonexistent") is None
    assert sc.line_of("") is None
    assert [o.line for o in sc.outages] == [line for _, _, line in EXPECTED_OUTAGES]
    assert Scenario(name="x").line_of("name") is None     # built in Python: no file, no lines


def test_base_dir_for_text_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = loads_scenario("name: x\nnetwork: cases/case14.m\n")
    assert sc.source is None and sc.base_dir == tmp_path.absolute()
    assert loads_scenario("name: x\n", base_dir="sub").base_dir == (tmp_path / "sub").absolute()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.yaml").write_text("name: x\n")
    from_file = load_scenario("sub/s.yaml")   # a relative path
    assert from_file.base_dir == (tmp_path / "sub").absolute()
    assert from_file.source == (tmp_path / "sub" / "s.yaml").absolute()


def test_utf8_bom_and_non_ascii_names(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes("\ufeffname: Удар по ГЕС\noutages:\n  - plant: Дніпровська ГЕС\n".encode("utf-8"))
    sc = load_scenario(path)
    assert sc.name == "Удар по ГЕС" and sc.outages[0].target == "Дніпровська ГЕС"


def test_anchors_and_aliases_are_allowed():
    sc = loads_scenario("name: x\noutages:\n  - select: &h {kind: plant, fuel: hydro}\n"
                        "  - select: *h\n    derate: 0.5\n")
    assert sc.outages[0].select == sc.outages[1].select
    assert sc.outages[1].derate == 0.5


# ------------------------------------------------------------------------------------------------ errors

ERRORS = [
    # (scenario text, line, key, fragments of the message)
    ("name: x\nsolver: acc\n", 2, "solver", ["'acc' is not one of ac, dc; did you mean 'ac'?"]),
    ("name: x\nsolver: AC\n", 2, "solver", ["did you mean 'ac'?"]),
    ("name: x\nresponse: cascde\n", 2, "response", ["not one of optimal, none, cascade", "'cascade'"]),
    ("name: x\nrating: rate_d\n", 2, "rating", ["not one of rate_a, rate_b, rate_c"]),
    ("name: x\noutages:\n  - plant: A\n    derate: forty\n", 4, "outages[0].derate",
     ["expected a number between 0 and 1", "got 'forty'"]),
    ("name: x\noutages:\n  - plant: A\n    derate: 1\n", 4, "outages[0].derate", ["0 ≤ derate < 1", "got 1"]),
    ("name: x\noutages:\n  - plant: A\n    derate: -0.1\n", 4, "outages[0].derate", ["got -0.1"]),
    ("name: x\noutages:\n  - plnat: A\n", 3, "outages[0].plnat", ["unknown key 'plnat'", "did you mean 'plant'?"]),
    ("name: x\noutages:\n  - plant: A\n    derat: 0.5\n", 4, "outages[0].derat", ["did you mean 'derate'?"]),
    ("name: x\nsolvr: ac\n", 2, "solvr", ["unknown key 'solvr'", "did you mean 'solver'?"]),
    ("name: x\nzzz: 1\n", 2, "zzz", ["unknown key 'zzz'", "expected one of name, description"]),
    ("name: x\nsolver: ac\nsolver: dc\n", 3, "solver", ["duplicate key 'solver'", "first at line 2"]),
    ("name: x\noutages:\n  - {plant: A, plant: B}\n", 3, "outages[0].plant", ["duplicate key 'plant'"]),
    ("name: x\noutages: [\n", 3, None, ["invalid YAML", "column"]),
    ("name: x\n  bad: indent\n", 2, None, ["invalid YAML at column 6", "mapping values are not allowed"]),
    ("name: 'x\n", 2, None, ["invalid YAML", "quoted scalar"]),
    ("name: x\n\tsolver: ac\n", 2, None, ["tabs"]),
    ("name: x\n---\nname: y\n", 2, None, ["single document"]),
    ("", None, None, ["empty"]),
    ("# only a comment\n\n", None, None, ["empty"]),
    ("~\n", 1, None, ["holds no keys"]),
    ("- plant: A\n", 1, None, ["expected a mapping of keys", "got a list"]),
    ("just text\n", 1, None, ["expected a mapping of keys", "got 'just text'"]),
    ("description: d\n", None, "name", ["required key is missing", "text"]),
    ("name: ''\n", 1, "name", ["non-empty"]),
    ("name: x\nload_level: 90%\n", 2, "load_level", ["between 0 and 3", "got '90%'", "0.9 means 90 %"]),
    ("name: x\nload_level: '0.9'\n", 2, "load_level", ["remove the quotes"]),
    ("name: x\nload_level: 0\n", 2, "load_level", ["0 < load_level ≤ 3", "got 0"]),
    ("name: x\nload_level: 3.5\n", 2, "load_level", ["got 3.5"]),
    ("name: x\nload_level: yes\n", 2, "load_level", ["got true"]),
    ("name: x\nload_level: .nan\n", 2, "load_level", ["got nan"]),
    ("name: x\nemergency_factor: 0.9\n", 2, "emergency_factor", ["at least 1"]),
    ("name: x\ntrip_threshold_pct: 100\n", 2, "trip_threshold_pct", ["greater than 100"]),
    ("name: x\noutages: 5\n", 2, "outages", ["expected a list of outages", "got 5"]),
    ("name: x\noutages:\n  - plant A\n", 3, "outages[0]", ["expected an outage mapping", "got 'plant A'"]),
    ("name: x\noutages:\n  - plant: A\n    unit: B\n", 4, "outages[0].unit",
     ["exactly one asset", "'plant' and 'unit'", "separate items"]),
    ("name: x\noutages:\n  - derate: 0.3\n", 3, "outages[0]", ["needs one kind key", "- plant: <name>"]),
    ("name: x\noutages:\n  - kind: plant\n    target: X\n", 3, "outages[0].kind", ["- plant: <name>"]),
    ("name: x\noutages:\n  - plant:\n", 3, "outages[0].plant", ["expected the name of the plant", "got nothing"]),
    ("name: x\noutages:\n  - plant: ''\n", 3, "outages[0].plant", ["empty"]),
    ("name: x\noutages:\n  - plant: yes\n", 3, "outages[0].plant", ["got true"]),
    ("name: x\noutages:\n  - bus: 11.5\n", 3, "outages[0].bus", ["whole number", "got 11.5"]),
    ("name: x\noutages:\n  - bus: -3\n", 3, "outages[0].bus", ["≥ 0"]),
    ("name: x\noutages:\n  - branch: 0\n", 3, "outages[0].branch", ["numbered from 1"]),
    ("name: x\noutages:\n  - generator: [1, 2]\n", 3, "outages[0].generator", ["got a list"]),
    ("name: x\noutages:\n  - line: L\n    derate: 0.5\n", 4, "outages[0].derate",
     ["derate applies to plant, unit, interconnector and generator", "a line is either in service or out"]),
    ("name: x\noutages:\n  - substation: S\n    derate: 0.5\n", 4, "outages[0].derate", ["a substation"]),
    ("name: x\noutages:\n  - select: {kind: line}\n    derate: 0.5\n", 4, "outages[0].derate", ["a line"]),
    ("name: x\noutages:\n  - select: {kind: plant, fule: hydro}\n", 3, "outages[0].select.fule",
     ["unknown key 'fule'", "did you mean 'fuel'?"]),
    ("name: x\noutages:\n  - select: {kind: plant, fuel: hydor}\n", 3, "outages[0].select.fuel",
     ["'hydor' is not one of", "did you mean 'hydro'?"]),
    ("name: x\noutages:\n  - select: {kind: plnat}\n", 3, "outages[0].select.kind", ["did you mean 'plant'?"]),
    ("name: x\noutages:\n  - select: {fuel: hydro}\n", 3, "outages[0].select.kind",
     ["required key is missing", "one of plant, unit"]),
    ("name: x\noutages:\n  - select:\n", 3, "outages[0].select", ["expected a selector mapping"]),
    ("name: x\noutages:\n  - select: plant\n", 3, "outages[0].select", ["selector mapping", "got 'plant'"]),
    ("name: x\noutages:\n  - select:\n      kind: line\n      fuel: hydro\n", 5, "outages[0].select.fuel",
     ["fuel applies to plant, unit and interconnector"]),
    ("name: x\noutages:\n  - select: {kind: line, voltage_kv: 0}\n", 3, "outages[0].select.voltage_kv",
     ["greater than 0"]),
    ("name: x\noutages:\n  - plant: A\n    at_h: -1\n", 4, "outages[0].at_h", ["at least 0"]),
    ("name: x\noutages:\n  - plant: A\n    repair_h: 0\n", 4, "outages[0].repair_h", ["greater than 0"]),
    ("a: &a [*a]\n", 1, "a[0]", ["refers to the mapping or list that contains it"]),
    ("name: x\ndescription: !!set {a, b}\n", 2, "description", ["unsupported YAML tag !!set"]),
    ("name: !foo x\n", 1, "name", ["unsupported YAML tag !foo"]),
    ("name: !!python/object:os.system x\n", 1, "name", ["unsupported YAML tag"]),
    ("base: &b {name: x}\n<<: *b\n", 2, None, ["merge keys"]),
    ("name: x\nload_level: !!float abc\n", 2, "load_level", ["unsupported YAML tag !!float", "remove the tag"]),
    ("name: x\ndescription: 2024-13-45\n", 2, "description", ["cannot read the value"]),
    ("name: x\n? [a, b]\n: c\n", 2, None, ["a key must be plain text"]),
    # any explicit tag is an error naming it, even one that would give a valid value
    ("name: !!binary aGVsbG8=\n", 1, "name", ["unsupported YAML tag !!binary", "remove the tag"]),
    ("name: !!str x\n", 1, "name", ["unsupported YAML tag !!str"]),
    ("name: x\nload_level: !!float 0.9\n", 2, "load_level", ["unsupported YAML tag !!float"]),
    ("name: ! x\n", 1, "name", ["unsupported YAML tag !"]),
    ("name: x\noutages: !!seq [{plant: A}]\n", 2, "outages", ["unsupported YAML tag !!seq", "the list itself"]),
    ("name: x\noutages:\n  - !!map {plant: A}\n", 3, "outages[0]", ["unsupported YAML tag !!map"]),
    ("!!str name: x\n", 1, None, ["unsupported YAML tag !!str"]),
    ("name: x\noutages:\n  - plant: !!python/name:os.system\n", 3, "outages[0].plant",
     ["unsupported YAML tag !!python/name:os.system"]),
    # numbers are bounded too: an asset number, and any number YAML would need thousands of digits for
    ("name: x\noutages:\n  - bus: " + "9" * 30 + "\n", 3, "outages[0].bus", ["MAX_NUMBER_DIGITS", "got " + "9" * 30]),
    ("name: x\nload_level: " + "9" * 5000 + "\n", 2, "load_level", ["cannot read the value", "(too many digits)"]),
    # a key that differs from a known key only in case: the did-you-mean leads, not "required key is missing"
    ("Name: x\n", 1, "Name", ["unknown key 'Name'", "case-sensitive", "did you mean 'name'?"]),
    ("NAME: x\n", 1, "NAME", ["did you mean 'name'?"]),
    ("name: x\navailability: {Solar: 0}\n", 2, "availability.Solar", ["did you mean 'solar'?"]),
    ("name: x\nSolver: dc\n", 2, "Solver", ["did you mean 'solver'?"]),
    ("name: x\noutages:\n  - Plant: A\n", 3, "outages[0].Plant", ["did you mean 'plant'?"]),
    ("name: x\noutages:\n  - plant: A\n    Derate: 0.5\n", 4, "outages[0].Derate", ["did you mean 'derate'?"]),
    ("name: x\noutages:\n  - select: {KIND: plant}\n", 3, "outages[0].select.KIND", ["did you mean 'kind'?"]),
    ("name: x\nnetwork: 5\n", None, None, []),   # numbers become text where text is expected: valid
]


@pytest.mark.parametrize("text, line, key, fragments", ERRORS)
def test_errors_say_where_and_what(text, line, key, fragments):
    if not fragments:
        assert loads_scenario(text).network == "5"
        return
    err = load_error(text)
    assert (err.file, err.line, err.key) == ("s.yaml", line, key), str(err)
    for fragment in fragments:
        assert fragment in err.message, err.message
    where = f"s.yaml:{line}: " if line else "s.yaml: "
    assert str(err).startswith(where + (f"{key}: " if key else ""))


def test_several_problems_are_reported_together_in_file_order():
    err = load_error("name: x\nsolver: AC\nload_level: 0\noutages:\n  - plant: X\n    derate: 2\n")
    assert (err.line, err.key) == (2, "solver")
    assert "also line 3: load_level: expected a number" in err.message
    assert "also line 6: outages[0].derate:" in err.message


def test_file_errors(tmp_path):
    with pytest.raises(ScenarioError, match="not found") as info:
        load_scenario(tmp_path / "missing.yaml")
    assert info.value.file == str(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: x\ndescription: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8") as info:
        load_scenario(latin1)
    assert (info.value.file, info.value.line) == (str(latin1), 2)
    with pytest.raises(ScenarioError, match="expected YAML text"):
        loads_scenario(b"name: x\n")  # type: ignore[arg-type]


def test_control_characters_are_a_located_yaml_error():
    err = load_error("name: x\ndescription: a\x07b\n")
    assert err.line == 2 and "invalid YAML" in err.message


# ------------------------------------------------------------------------------------------ schema as data

def _fields():
    yield from ((Scenario, n) for n in Scenario.model_fields)
    yield from ((Outage, n) for n in Outage.model_fields)
    yield from ((Selector, n) for n in Selector.model_fields)


@pytest.mark.parametrize("model, name", list(_fields()), ids=lambda x: getattr(x, "__name__", x))
def test_every_field_has_a_description(model, name):
    assert model.model_fields[name].description


def test_json_schema_describes_the_yaml_form():
    schema = scenario_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    props = schema["properties"]
    assert set(props) == set(Scenario.model_fields)
    assert all(p.get("description") for p in props.values())
    assert schema["required"] == ["name"]
    outage = schema["$defs"]["Outage"]
    variants = {v["title"]: v for v in outage["oneOf"]}
    assert set(variants) == set(OUTAGE_KINDS)
    for kind, variant in variants.items():
        assert variant["required"] == [kind]
        assert variant["additionalProperties"] is False
        assert {"at_h", "repair_h"} <= set(variant["properties"])
        assert ("derate" in variant["properties"]) == (kind in DERATABLE or kind == "select")
    assert variants["select"]["properties"]["select"]["$ref"] == "#/$defs/Selector"
    assert set(schema["$defs"]["Selector"]["properties"]) == set(Selector.model_fields)
    assert '"line": {"description": "1-based' not in str(schema)   # the loader's line number is internal
    assert "kind" not in outage.get("properties", {}) and "target" not in str(outage)


def test_json_schema_accepts_the_example_and_rejects_two_kind_keys():
    jsonschema = pytest.importorskip("jsonschema")
    schema = scenario_json_schema()
    jsonschema.validate(yaml.safe_load(EXAMPLE), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "outages": [{"plant": "A", "unit": "B"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "outages": [{"line": "L", "derate": 0.5}]}, schema)


def test_docs_schema_reference_is_up_to_date():
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- schema:start -->\n(.*?)<!-- schema:end -->", text, re.S)
    assert block, "docs/scenarios.md lacks the schema markers"
    assert block.group(1).strip() == schema_markdown().strip(), (
        "docs/scenarios.md is out of date: paste the output of "
        "python -c 'from gridsim.scenario import schema_markdown; print(schema_markdown())' between the markers")


def test_docs_mention_every_field_and_kind():
    text = DOCS.read_text(encoding="utf-8")
    names = [n for _, n in _fields() if n not in ("kind", "target", "line")] + list(OUTAGE_KINDS) + ["kind"]
    for name in names + list(OUTAGE_OPTIONS):
        assert f"`{name}`" in text, name
    flat = " ".join(text.replace("**", "").split())
    for topic in ("area N", "#2", "relative to the folder of the scenario file", "table index", "glob"):
        assert topic in flat, topic


# ---------------------------------------------------------------------------- property: only ScenarioError

KEYS = sorted(set(Scenario.model_fields) | set(OUTAGE_KINDS) | set(OUTAGE_OPTIONS) | set(Selector.model_fields)
              | {"kind", "target", "plnat", "<<"})
LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**20, max_value=10**400)
          | st.floats() | st.text(max_size=12)
          | st.sampled_from(["ac", "dc", "plant", "hydro", "line", "0.5", "11-14", "rate_a", "*", ""]))
YAMLISH = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
                       max_leaves=25)
OUTAGE_ITEMS = st.dictionaries(st.sampled_from(list(OUTAGE_KINDS) + list(OUTAGE_OPTIONS) + ["plnat"]),
                               LEAVES | st.dictionaries(st.sampled_from(list(Selector.model_fields) + ["x"]),
                                                        LEAVES | st.sampled_from(["plant", "line", "hydro"]),
                                                        max_size=4),
                               max_size=3)
SCENARIOS = st.fixed_dictionaries({"name": LEAVES, "outages": st.lists(OUTAGE_ITEMS, max_size=4)},
                                  optional={k: LEAVES for k in Scenario.model_fields if k not in ("name", "outages")})
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _loads_only_raises_scenario_error(text: str) -> None:
    try:
        sc = loads_scenario(text, source="<h>")
    except ScenarioError as err:
        assert err.file == "<h>"
        assert err.line is None or 1 <= err.line <= text.count("\n") + 2
        assert err.message
    else:
        assert isinstance(sc, Scenario)


@FAST
@given(st.text(max_size=200))
def test_random_text_raises_only_scenario_errors(text):
    _loads_only_raises_scenario_error(text)


@FAST
@given(YAMLISH | st.dictionaries(st.sampled_from(KEYS), YAMLISH, max_size=8))
def test_random_yaml_structures_raise_only_scenario_errors(data):
    _loads_only_raises_scenario_error(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@FAST
@given(SCENARIOS)
def test_random_scenario_like_mappings_raise_only_scenario_errors(data):
    _loads_only_raises_scenario_error(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@FAST
@given(st.lists(st.tuples(st.integers(0, len(EXAMPLE)), st.integers(0, 8),
                          st.text(alphabet=":-[]{}&*!|>'\"#%@`,?\t\n ~.0aZ", max_size=4)), max_size=4))
def test_mutated_example_raises_only_scenario_errors(edits):
    text = EXAMPLE
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut:]
    _loads_only_raises_scenario_error(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=120))
def test_random_bytes_in_a_file_raise_only_scenario_errors(tmp_path, raw):
    path = tmp_path / "random.yaml"
    path.write_bytes(raw)
    try:
        load_scenario(path)
    except ScenarioError as err:
        assert err.file == str(path)


def test_deep_nesting_and_alias_bombs_are_handled():
    with pytest.raises(ScenarioError):   # deeper than Python's recursion limit: no RecursionError escapes
        loads_scenario("name: x\ndescription: " + "[" * 700 + "]" * 700 + "\n")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(ScenarioError, match="unknown key 'a'"):
        loads_scenario("name: x\n" + bomb)


# ------------------------------------------------------------------------------------- bounds on the input

def test_miscased_required_key_is_not_reported_missing():
    err = load_error("Name: x\nsolver: dc\n")
    assert "required key is missing" not in err.message and "did you mean 'name'?" in err.message


@pytest.mark.parametrize("text, key, limit", [
    ("name: {long}\n", "name", "MAX_NAME_CHARS"),
    ("name: x\ndescription: {long}{long}\n", "description", "MAX_TEXT_CHARS"),
    ("name: x\nnetwork: {long}.json\n", "network", "MAX_PATH_CHARS"),
    ("name: x\noutages:\n  - plant: {long}\n", "outages[0].plant", "MAX_NAME_CHARS"),
    ("name: x\noutages:\n  - select: {{kind: plant, region: {long}}}\n", "outages[0].select.region",
     "MAX_NAME_CHARS"),
    ("name: x\noutages:\n  - select: {{kind: line, name: {long}}}\n", "outages[0].select.name", "MAX_NAME_CHARS"),
])
def test_long_strings_are_refused_naming_the_limit_and_quoted_short(text, key, limit):
    err = load_error(text.format(long="A" * 100_000))
    assert err.key == key and limit in err.message, err.message
    assert len(str(err)) < 400, str(err)          # the value is quoted, not echoed whole


@pytest.mark.parametrize("text", [
    "name: x\n? {long}\n: 1\n",                                   # an unknown key (`? `: YAML's long key)
    "name: x\noutages:\n  - ? {long}\n    : A\n",                   # an unknown outage key
    "name: x\noutages:\n  - select: {{kind: plant, ? {long} : 1}}\n",  # an unknown selector key
    "name: x\nsolver: {long}\n",                                   # a value that is not one of the options
    "name: x\nload_level: {long}\n",                               # a value of the wrong type
    "name: x\n? {long}\n: 1\n? {long}\n: 2\n",                     # a duplicate key
    "name: x\ndescription: !{long} x\n",                           # a tag
])
def test_messages_quote_at_most_a_readable_length_of_any_value(text):
    from gridsim.limits import MAX_QUOTE_CHARS

    err = load_error(text.format(long="k" * 50_000))
    assert "k" * (MAX_QUOTE_CHARS + 1) not in str(err), str(err)[:300]
    assert len(str(err)) < 500


def test_too_many_outages_fail_fast_naming_the_limit():
    import time

    from gridsim.limits import MAX_OUTAGES

    items = "".join(f"  - plant: P{i}\n" for i in range(MAX_OUTAGES + 1))
    started = time.perf_counter()
    err = load_error("name: x\noutages:\n" + items)
    assert time.perf_counter() - started < 5
    assert (err.line, err.key) == (2, "outages") and "MAX_OUTAGES" in err.message
    assert len(loads_scenario("name: x\noutages:\n" + items.split("\n", 1)[1]).outages) == MAX_OUTAGES
    with pytest.raises(ValueError, match="at most 5000 items"):    # the Python API holds the same limit
        Scenario(name="x", outages=[{"plant": "P"}] * (MAX_OUTAGES + 1))


def test_scenario_size_is_bounded(tmp_path):
    from gridsim.limits import MAX_SCENARIO_BYTES

    big = "name: x\ndescription: >\n" + ("  " + "w" * 78 + "\n") * (MAX_SCENARIO_BYTES // 80 + 1)
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(ScenarioError, match="MAX_SCENARIO_BYTES") as info:
        load_scenario(path)
    assert info.value.file == str(path)
    with pytest.raises(ScenarioError, match="MAX_SCENARIO_BYTES"):
        loads_scenario(big)


def test_special_files_are_refused_before_reading(tmp_path):
    import os
    import threading

    if Path("/dev/zero").exists():
        with pytest.raises(ScenarioError, match="character device, not a regular file"):
            load_scenario("/dev/zero")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: _record(outcome, fifo), daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():   # unblock the reader so the test run can end, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert isinstance(outcome[0], ScenarioError) and "FIFO" in str(outcome[0])


def _record(outcome: list, path) -> None:
    try:
        load_scenario(path)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        outcome.append(exc)

"""The scenario: its schema (pydantic models) and its YAML loader, the only code that reads YAML.

``load_scenario(path)`` / ``loads_scenario(text)`` turn a scenario file into a :class:`Scenario`. Every problem
with the input, from a missing file to a misspelled enum value, raises :class:`~gridsim.errors.ScenarioError`
with the file, the line, the key path (``outages[1].derate``, 0-based indices) and what was expected; nothing
else escapes. The docs' schema reference (``schema_markdown``) and ``gridsim schema`` (``scenario_json_schema``)
are generated from the models' field descriptions, so they cannot drift from the code.

Modules, each depending only on those before it:

- ``wording``: values and field constraints in words, shared by the others
- ``attack``: the ``attack`` block of a salvo Monte Carlo (completed by ``schema``, which defines Outage)
- ``schema``: the models (Selector, Outage, Scenario) and the constants
- ``messages``: pydantic validation errors -> one ScenarioError located in the file
- ``loader``: YAML text -> node tree with line marks -> plain data -> Scenario
- ``reference``: JSON Schema and the docs' reference tables, from the models
"""

from gridsim.scenario.attack import Attack
from gridsim.scenario.loader import load_scenario, loads_scenario
from gridsim.scenario.reference import scenario_json_schema, schema_markdown
from gridsim.scenario.schema import (DERATABLE, FUELS, OUTAGE_KINDS, OUTAGE_OPTIONS, SELECTOR_KINDS, Fuel, Outage,
                                     OutageKind, Scenario, Selector, SelectorKind)

__all__ = ["load_scenario", "loads_scenario", "scenario_json_schema", "schema_markdown", "Scenario", "Outage",
           "Selector", "OutageKind", "SelectorKind", "Fuel", "OUTAGE_KINDS", "SELECTOR_KINDS", "FUELS",
           "DERATABLE", "OUTAGE_OPTIONS", "Attack"]

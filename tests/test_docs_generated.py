"""The documentation's generated files match what the code and the results files produce.

If a test here fails after a change to the scenario models or a new results file, regenerate:
``python docs/gen_schema.py`` and ``python docs/gen_tables.py``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _docs_module(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_committed_scenario_schema_matches_the_models():
    gen_schema = _docs_module("gen_schema")
    assert gen_schema.main(["--check"]) == 0, "run: python docs/gen_schema.py"


def test_readme_model_table_matches_the_results_files():
    gen_tables = _docs_module("gen_tables")
    assert gen_tables.main(["--check"]) == 0, "run: python docs/gen_tables.py"


def test_every_generated_block_renders():
    gen_tables = _docs_module("gen_tables")
    for name in gen_tables.GENERATED:
        text = gen_tables.render(name)
        assert text.startswith("|") and "\n|---" in text, name


def test_library_scenarios_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DOCS / "scenario.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    library = sorted((DOCS.parent / "scenarios").rglob("*.yaml"))
    assert library
    for path in library:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, f"{path}: {errors}"


def test_schema_refuses_what_the_loader_refuses():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads((DOCS / "scenario.schema.json").read_text()))
    bad = {
        "version": 2,
        "duration": 90,
        "actors": [{"id": "a", "asset": "sedn", "offset": {"uniform": [1]}}],
        "unknown": 1,
    }
    paths = {"/".join(str(p) for p in e.absolute_path) for e in validator.iter_errors(bad)}
    assert {"version", "duration", "actors/0/asset", "actors/0/offset", ""} <= paths


def test_cli_reference_lists_every_command():
    gen_cli = _docs_module("gen_cli")
    text = gen_cli.cli_reference_markdown()
    commands = (
        "jwmsim replay",
        "jwmsim view",
        "jwmsim export",
        "jwmsim eval closed-loop",
        "jwmsim train",
        "jwmsim search",
        "jwmsim info",
    )
    for command in commands:
        assert f"`{command}`" in text
    assert "<bool>" not in text

"""The scenario format, generated from its pydantic models (:mod:`jwmsim.scenario.schema`).

* ``python docs/gen_schema.py`` writes ``docs/scenario.schema.json``, the JSON Schema that editors
  with a YAML language server use to complete and check scenario files;
  ``--check`` exits 1 when the committed file differs from what the models produce.
* :func:`scenario_reference_markdown` renders the format's reference page (the docs build calls it
  through ``docs/hooks.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "scenario.schema.json"
SCHEMA_ID = "https://jwmsim.dev/scenario.schema.json"


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a version-1 scenario file."""
    from jwmsim.scenario.assets import asset_names
    from jwmsim.scenario.schema import Scenario

    schema = Scenario.model_json_schema()
    asset = schema["$defs"]["InsertedActor"]["properties"]["asset"]
    asset["enum"] = sorted(asset_names())
    # LogRef also reads the shorthands ``log: builtin`` and ``log: DIR`` (a dataroot)
    shorthand = {"type": "string", "description": "builtin, or the path of a nuScenes dataroot"}
    schema["properties"]["log"] = {"anyOf": [shorthand, {"$ref": "#/$defs/LogRef"}], "default": "builtin"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "jwmsim scenario (version 1)",
    }


def schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=False) + "\n"


# ------------------------------------------------------------------------------------------------
# The reference page
# ------------------------------------------------------------------------------------------------
def _type_text(prop: dict[str, Any]) -> str:
    """A short reading of a property's schema: ``number >= 0 [m/s], or a range``."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "description" in prop and ("anyOf" in prop or prop.get("type") in ("number", "string")):
        return prop["description"]
    if "anyOf" in prop:
        parts = [_type_text(p) for p in prop["anyOf"] if p.get("type") != "null"]
        text = " or ".join(dict.fromkeys(parts))
        return text + (" (optional)" if any(p.get("type") == "null" for p in prop["anyOf"]) else "")
    if "oneOf" in prop:
        return " or ".join(_type_text(p) for p in prop["oneOf"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    if kind == "boolean":
        return "true / false"
    if kind == "integer":
        bounds = [f">= {prop['minimum']}"] if "minimum" in prop else []
        bounds += [f"<= {prop['maximum']}"] if "maximum" in prop else []
        return "integer" + (" " + " and ".join(bounds) if bounds else "")
    return kind or "any"


def _default_text(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("``", "`")


def scenario_reference_markdown() -> str:
    """One section per model of the format, each with a table of its fields."""
    schema = scenario_json_schema()
    defs = dict(schema["$defs"])
    models = [("Scenario", schema)] + sorted(defs.items())
    out: list[str] = []
    for name, model in models:
        out.append(f"### {name}\n")
        if model.get("description"):
            out.append(_one_line(model["description"]) + "\n")
        out.append("| field | value | default |")
        out.append("|---|---|---|")
        required = set(model.get("required", []))
        for field, prop in model.get("properties", {}).items():
            value = _type_text(prop).replace("|", "\\|")
            out.append(f"| `{field}` | {value} | {_default_text(prop, field in required)} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/scenario.schema.json is stale")
    args = parser.parse_args(argv)
    text = schema_text()
    if args.check:
        if not SCHEMA_PATH.is_file() or SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH} is out of date: run python docs/gen_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write a :class:`~jwmsim.scenario.schema.Scenario` back to a YAML file (the viewer's *save*).

``dump_scenario(scenario, path)`` writes version-1 YAML that :func:`~jwmsim.scenario.loader.load_scenario`
reads back to the same model: ``same_scenario(load_scenario(path), written)`` holds for the model it
returns. Fields at their default value are left out (the file stays short); ranges are written as
``{uniform: [lo, hi]}`` / ``{choice: [...]}``; floats are written with ``repr`` so they read back
bit for bit. Comments of the original file are not kept (the model has none).

A relative ``log.dataroot`` is relative to the scenario's file: when the file is saved into another
folder the path is rewritten relative to the new folder (:func:`rebased`), so that it names the same
log; the returned model carries the rewritten path.

The file is written atomically (a temporary file renamed into place) and read back before the
rename; a text that does not reproduce the model raises :class:`ScenarioDumpError` and leaves the
target untouched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from jwmsim.errors import ConfigError
from jwmsim.scenario.loader import parse_scenario, resolve_relative, source_file
from jwmsim.scenario.schema import Scenario


class ScenarioDumpError(ConfigError):
    """A scenario could not be written (unwritable folder, or it would not read back the same)."""


def without_source(scenario: Scenario) -> Scenario:
    """A copy of ``scenario`` without the loader's private source-file and line map (pydantic's
    ``==`` compares private attributes too; two loads of different files never compare equal)."""
    copy = scenario.model_copy()
    object.__setattr__(copy, "__pydantic_private__", None)
    return copy


def same_scenario(a: Scenario, b: Scenario) -> bool:
    """Whether two scenarios have equal fields (values and types: a range is not its middle),
    wherever they were loaded from."""
    return without_source(a) == without_source(b)


def rebased(scenario: Scenario, path: str | os.PathLike[str]) -> Scenario:
    """``scenario`` with a relative ``log.dataroot`` rewritten to be relative to ``path``'s folder
    (absolute paths, ``~`` and ``$VARS`` paths and the built-in log are kept)."""
    ref = scenario.log
    root = ref.dataroot
    if root is None or os.path.isabs(root) or root.startswith(("~", "$")) or source_file(scenario) is None:
        return scenario
    absolute = resolve_relative(scenario, root).resolve()
    new = os.path.relpath(absolute, Path(path).resolve().parent)
    if new == root:
        return scenario
    return scenario.model_copy(update={"log": ref.model_copy(update={"dataroot": new})})


def scenario_to_data(scenario: Scenario) -> dict[str, Any]:
    """The plain YAML data of ``scenario`` (defaults left out; ``log: builtin`` as the shorthand)."""
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    data["version"] = scenario.version
    if scenario.name is not None:
        data["name"] = scenario.name
    if data.get("log") == {"builtin": True}:
        data["log"] = "builtin"
    order = ["version", "name", "description", "log", "ego", "agent", "duration", "runs", "seed"]
    return {k: data[k] for k in order if k in data} | {k: v for k, v in data.items() if k not in order}


_SCRIPT_KEYS = ("behaviour", "trigger", "then")


def _scripts_last(item: dict[str, Any]) -> dict[str, Any]:
    """An actor's mapping with ``id`` first and its script (behaviour, trigger, then) last."""
    head = {k: v for k, v in item.items() if k not in _SCRIPT_KEYS}
    return {"id": head.pop("id"), **head} | {k: item[k] for k in _SCRIPT_KEYS if k in item}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _is_leaf(value: Any) -> bool:
    """Small enough for one flow-style line: scalars, lists of scalars, mappings of those."""
    if isinstance(value, list):
        return all(_is_scalar(v) for v in value)
    if isinstance(value, dict):
        return len(value) <= 4 and all(
            _is_scalar(v) or (isinstance(v, list) and _is_leaf(v)) for v in value.values()
        )
    return _is_scalar(value)


class _Dumper(yaml.SafeDumper):
    """Block style for the structure, flow style (``{uniform: [10.0, 20.0]}``) for small leaves."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=_is_leaf(data) or None)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_is_leaf(data) or None)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def scenario_to_yaml(scenario: Scenario) -> str:
    """YAML text of ``scenario`` (see the module docstring)."""
    data = scenario_to_data(scenario)
    for key in ("actors",):
        if key in data:
            data[key] = [_scripts_last(a) for a in data[key]]
    log_actors = data.get("log_actors", {})
    if "override" in log_actors:
        log_actors["override"] = [_scripts_last(o) for o in log_actors["override"]]
    header = "# written by jwmsim (jwmsim.scenario.dump); comments of an earlier version are not kept\n"
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def dump_scenario(scenario: Scenario, path: str | os.PathLike[str]) -> Scenario:
    """Write ``scenario`` to ``path`` (atomically); returns the model as written (see :func:`rebased`),
    which ``load_scenario(path)`` reproduces (:func:`same_scenario`).

    Raises:
        ScenarioDumpError: the folder is missing or unwritable, or the text would not read back to
            the same scenario (a bug: please report it).
    """
    path = Path(path)
    written = rebased(scenario, path)
    text = scenario_to_yaml(written)
    back = parse_scenario(text, path)
    if not same_scenario(back, written):
        raise ScenarioDumpError(
            f"scenario {scenario.name!r} would not read back the same from {path}",
            hint="this is a bug of jwmsim.scenario.dump; the file was not written",
        )
    if not path.parent.is_dir():
        raise ScenarioDumpError(f"cannot save {path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ScenarioDumpError(f"cannot save {path}: {err.strerror or err}") from None
    return back


__all__ = [
    "ScenarioDumpError",
    "dump_scenario",
    "rebased",
    "same_scenario",
    "scenario_to_data",
    "scenario_to_yaml",
    "without_source",
]

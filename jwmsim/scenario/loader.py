"""Load a scenario file: YAML -> :class:`~jwmsim.scenario.schema.Scenario`, with every error naming
the file, line, field, what was found and what is expected (:class:`ScenarioError`, exit code 2).

``load_scenario(path)`` checks the file on its own (syntax, schema, agent);
``load_seed_log(scenario)`` finds and reads its log; :func:`jwmsim.scenario.validate.validate_against_log`
checks what needs the log (actor ids, lanes, start time). ``load_and_validate`` does all three.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from jwmsim.errors import JwmsimError
from jwmsim.scenario.errors import (
    Issue,
    Loc,
    LogDataMissing,
    ScenarioError,
    issues_from_validation,
    line_of,
)
from jwmsim.scenario.params import closest, describe
from jwmsim.scenario.schema import Scenario
from jwmsim.scenario.yaml_source import parse_yaml

if TYPE_CHECKING:
    from jwmsim.logs.segment import LogSegment

_LINES = "_jwm_lines"  # where a loaded Scenario keeps its line map (private attribute)
_FILE = "_jwm_file"


def source_lines(scenario: Scenario) -> dict[Loc, int]:
    """Line numbers of the file a scenario was loaded from (empty when built in Python)."""
    return dict(getattr(scenario, "__pydantic_private__", None) or {}).get(_LINES, {})


def source_file(scenario: Scenario) -> Path | None:
    """The file a scenario was loaded from (None when built in Python)."""
    return dict(getattr(scenario, "__pydantic_private__", None) or {}).get(_FILE)


def issue_at(scenario: Scenario, loc: Loc, found: str, expected: str, file: str | None = None) -> Issue:
    """An :class:`Issue` at field ``loc`` of a loaded scenario, with its line when known."""
    from jwmsim.scenario.errors import format_loc

    src = source_file(scenario)
    name = file or (str(src) if src is not None else "<scenario>")
    return Issue(name, line_of(source_lines(scenario), loc), format_loc(loc), found, expected)


def _attach(scenario: Scenario, path: Path, lines: dict[Loc, int]) -> Scenario:
    private = dict(scenario.__pydantic_private__ or {})
    private.update({_LINES: lines, _FILE: path})
    object.__setattr__(scenario, "__pydantic_private__", private)
    return scenario


def parse_scenario(text: str, file: str | Path = "<string>") -> Scenario:
    """Validate scenario YAML ``text`` (``file`` names it in messages and anchors relative paths)."""
    name = str(file)
    source, issues = parse_yaml(text, name)
    if source is None:
        raise ScenarioError(issues)
    if not isinstance(source.data, dict):
        raise ScenarioError(
            [
                Issue(
                    name,
                    source.lines.get(()),
                    "",
                    describe(source.data),
                    "a mapping of fields (version: 1, log: ..., actors: ...)",
                )
            ]
        )
    try:
        scenario = Scenario.model_validate(source.data)
    except ValidationError as exc:
        issues += issues_from_validation(exc, Scenario, source.data, name, source.lines)
        raise ScenarioError(issues) from None
    if issues:  # duplicate keys
        raise ScenarioError(issues)
    if scenario.name is None:
        scenario = scenario.model_copy(update={"name": Path(name).stem})
    _attach(scenario, Path(file), source.lines)
    agent_issue = check_agent(scenario)
    if agent_issue is not None:
        raise ScenarioError([agent_issue])
    if scenario.agent is not None:  # from here on the agent's paths no longer depend on the cwd
        scenario = scenario.model_copy(update={"agent": resolved_agent(scenario)})
        _attach(scenario, Path(file), source.lines)
    return scenario


def check_duration(seconds: float) -> None:
    """Raise :class:`~jwmsim.errors.ConfigError` unless ``0 < seconds <= MAX_DURATION``."""
    from jwmsim.errors import ConfigError
    from jwmsim.scenario.schema import MAX_DURATION

    if not (math.isfinite(seconds) and 0 < seconds <= MAX_DURATION):
        raise ConfigError(
            f"--duration must be in (0, {MAX_DURATION:g}] seconds, got {seconds}",
            hint="e.g. --duration 5 for short runs",
        )


def with_duration(scenario: Scenario, seconds: float | None) -> Scenario:
    """``scenario`` with its ``duration`` replaced by ``seconds`` (``--duration``; None: as is).

    Raises:
        ConfigError: ``seconds`` not in (0, MAX_DURATION].
    """
    if seconds is None:
        return scenario
    check_duration(seconds)
    out = scenario.model_copy(update={"duration": float(seconds)})
    object.__setattr__(out, "__pydantic_private__", dict(scenario.__pydantic_private__ or {}))
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (no log needed). A ``path`` that is no existing file but
    names a scenario of the shipped library (``cut_in``, ``cut_in.yaml``) loads that one.

    Raises:
        ScenarioError: unreadable file, YAML syntax, schema errors, agent not found.
    """
    from jwmsim.scenario.library import find_library_scenario, library_names

    path = Path(path)
    if not path.exists():
        path = find_library_scenario(str(path)) or path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        names = library_names()
        raise ScenarioError(
            [
                Issue(
                    str(path),
                    None,
                    "",
                    "no such file",
                    "a scenario YAML file, or the name of a library scenario"
                    + (f": one of {', '.join(names)}" if names else ""),
                )
            ]
        ) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as err:
        raise ScenarioError(
            [
                Issue(
                    str(path),
                    None,
                    "",
                    f"an unreadable file ({type(err).__name__})",
                    "a UTF-8 scenario YAML file",
                )
            ]
        ) from None
    return parse_scenario(text, path)


# ------------------------------------------------------------------------------------------------
# Agent
# ------------------------------------------------------------------------------------------------
def known_agents() -> list[str] | None:
    """Names of the registered planners (:func:`jwmsim.planning.planner_names`), or None where the
    planner registry cannot be loaded (then names are checked when the planner is made)."""
    try:
        from jwmsim.planning import planner_names

        return planner_names()
    except (ImportError, JwmsimError):
        return None


def resolve_relative(scenario: Scenario, path: str) -> Path:
    """``path`` with ``~`` and ``$VARS`` expanded, relative to the scenario file's folder."""
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    src = source_file(scenario)
    if not p.is_absolute() and src is not None:
        p = src.parent / p
    return p


def _scenario_folder(scenario: Scenario) -> Path:
    src = source_file(scenario)
    return src.parent if src is not None else Path(".")


def resolved_agent(scenario: Scenario) -> str | None:
    """The scenario's planner spec with its paths (``planner.py``, the ``PATH`` of ``sb3:PATH``)
    relative to the scenario file's folder; None when the scenario names no agent.

    :func:`load_scenario` stores this in ``scenario.agent``, so a run makes the same planner
    whatever the working directory.
    """
    if scenario.agent is None:
        return None
    from jwmsim.planning import resolve_planner_spec

    return resolve_planner_spec(scenario.agent, _scenario_folder(scenario))


_AGENT_EXPECTED = (
    "a planner name, NAME:PATH for a planner that reads a file (sb3:policy.zip), or the path of a "
    ".py file defining a planner; paths are relative to the scenario file"
)


def check_agent(scenario: Scenario) -> Issue | None:
    """The agent is a ``.py`` file that exists, or a known planner name (where the registry exists)
    with the file it needs (``sb3:policy.zip``: an existing zip). Nothing is imported from the
    ``.py`` file and no policy is loaded here: both can run code."""
    from jwmsim.planning import parse_planner_spec, planner_class, planner_path_problem

    agent = scenario.agent
    if agent is None:
        return None
    try:
        spec = parse_planner_spec(resolved_agent(scenario) or "")
    except JwmsimError as err:
        return issue_at(scenario, ("agent",), f"{agent!r} ({err.message})", _AGENT_EXPECTED)
    if spec.file is not None:
        if not spec.file.is_file():
            return issue_at(
                scenario,
                ("agent",),
                f"{agent!r} (resolved to {spec.file}, which does not exist)",
                "a planner name or the path of a .py file defining a planner",
            )
        return None
    names = known_agents()
    if names is None:
        return None
    if spec.name not in names:
        near = closest(str(spec.name), names)
        return issue_at(
            scenario,
            ("agent",),
            repr(agent),
            f"a registered planner: one of {names}" + (f" (did you mean {near!r}?)" if near else ""),
        )
    problem = planner_path_problem(planner_class(str(spec.name)), spec)
    if problem is not None:
        return issue_at(scenario, ("agent",), f"{agent!r}: {problem}", _AGENT_EXPECTED)
    return None


# ------------------------------------------------------------------------------------------------
# Seed log
# ------------------------------------------------------------------------------------------------
def seed_log_dataroot(scenario: Scenario) -> tuple[Path, str | None, str | None]:
    """``(dataroot, scene, version)`` of the scenario's log; the built-in one is made if needed.

    Raises:
        ScenarioError: the dataroot does not exist or is not a nuScenes dataroot, or the scene is
            not in it.
    """
    ref = scenario.log
    if ref.builtin:
        from jwmsim.logs.procedural import default_log_path

        return Path(default_log_path()), None, None
    assert ref.dataroot is not None
    root = resolve_relative(scenario, ref.dataroot)
    if not root.is_dir():
        raise LogDataMissing(
            [
                issue_at(
                    scenario,
                    ("log", "dataroot"),
                    f"{ref.dataroot!r} (resolved to {root}, which does not exist)",
                    "a nuScenes-format dataroot folder (with v1.0-*/scene.json); relative paths are "
                    "relative to the scenario file",
                )
            ]
        )
    from jwmsim.logs.nuscenes import list_scenes

    try:
        scenes = list_scenes(root, ref.version)
    except JwmsimError as err:
        raise ScenarioError(
            [
                issue_at(
                    scenario,
                    ("log", "dataroot"),
                    f"{ref.dataroot!r}: {err.message}",
                    "a readable nuScenes-format dataroot",
                )
            ]
        ) from None
    if ref.scene is not None and ref.scene not in scenes:
        near = closest(ref.scene, scenes)
        raise ScenarioError(
            [
                issue_at(
                    scenario,
                    ("log", "scene"),
                    repr(ref.scene),
                    f"a scene of {root}: one of {scenes}" + (f" (did you mean {near!r}?)" if near else ""),
                )
            ]
        )
    return root, ref.scene, ref.version


def load_seed_log(scenario: Scenario, with_lidar: bool = False) -> LogSegment:
    """The scenario's seed log as a :class:`LogSegment` (images are read lazily)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log

    root, scene, version = seed_log_dataroot(scenario)
    return load_nuscenes_log(root, scene=scene, version=version, with_lidar=with_lidar)

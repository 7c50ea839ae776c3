"""The planner (ego agent) contract and the planner registry.

A planner sees the simulation state (privileged: the rule-based planners read the route and the
actors from it) and, for learned policies, the environment observation, and returns an action in
the format of ``world.config.action_type``: ``[2]`` normalised (acceleration, steering) in [-1, 1],
or ``[K, 2]`` ego-frame waypoints.

Concrete planners are entries of the ``jwmsim.planners`` entry-point group (jwmsim's own live in
the top-level ``agents/`` folder, installed as the package ``jwmsim_agents``); :data:`PLANNERS`
loads them by name. A planner *spec* (``--agent``, a scenario's ``agent:``) is one of

* a registered name: ``idm``;
* ``NAME:PATH`` for a planner that reads a file (its :attr:`Planner.path_argument`), e.g.
  ``sb3:policies/ppo.zip``; the file is only opened when the planner is made;
* the path of a ``.py`` file that defines one :class:`Planner` subclass: ``my_planners/go.py``.

:func:`resolve_planner_spec` anchors the paths of a spec at a folder (a scenario's); relative
paths elsewhere are relative to the working directory.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.registry import ENTRY_POINT_GROUPS, Registry
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import World


@dataclass(frozen=True)
class ObservationSpec:
    """The observation a planner reads, so that a replay renders exactly that.

    Attributes:
        cameras: camera channels it reads, in order (empty: no camera images).
        image_size: ``(height, width)`` of those images [px] (None: any).
        bev_size: side of the ego-centred ``bev`` raster it reads [px] (None: no BEV).
    """

    cameras: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    bev_size: int | None = None


class Planner(ABC):
    """Base class of ego planners; :meth:`act` validates the output and times each call.

    Subclasses implement :meth:`compute_action` and may override :meth:`reset`. Set
    ``needs_observation = True`` when the planner reads the rendered observation (then it can only
    run inside the environment).
    """

    name: ClassVar[str] = "planner"
    needs_observation: ClassVar[bool] = False
    # constructor argument that ``NAME:PATH`` fills (None: the planner reads no file); when set,
    # the planner cannot be made without it
    path_argument: ClassVar[str | None] = None
    path_description: ClassVar[str] = "file"  # what the file is, for messages

    @classmethod
    def path_problem(cls, path: Path) -> str | None:
        """Why ``path`` cannot be this planner's file, checked *without* loading it (a policy file
        may run code when loaded); None when it looks usable. Default: it must be a file."""
        return None if path.is_file() else f"{path} does not exist"

    def __init__(self) -> None:
        self.call_seconds: list[float] = []
        self.world: World | None = None

    def observation_spec(self) -> ObservationSpec | None:
        """The observation this planner reads (a learned policy knows its input space); None: it
        takes whatever the environment renders (``needs_observation`` then says whether it reads
        camera images at all)."""
        return None

    def reset(self, world: World) -> None:
        """Called once per episode before the first :meth:`act`."""
        self.world = world
        self.call_seconds = []

    @abstractmethod
    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        """The action for ``state`` (see the module docstring for its format)."""

    def act(self, state: SimState, observation: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """:meth:`compute_action`, timed, checked to be finite, as float32."""
        if self.world is not state.world:
            self.reset(state.world)
        if self.needs_observation and observation is None:
            raise ConfigError(
                f"planner {self.name!r} needs the rendered observation",
                hint="run it inside JWMDrivingEnv (the replay does so automatically)",
            )
        t0 = time.perf_counter()
        action = np.asarray(self.compute_action(state, observation), dtype=np.float32)
        self.call_seconds.append(time.perf_counter() - t0)
        if not np.all(np.isfinite(action)):
            from jwmsim.sim.actions import ActionError

            raise ActionError(
                f"planner {self.name!r} returned a non-finite action {action.tolist()}",
                hint="return finite numbers (check the planner for divisions by zero or NaN inputs)",
            )
        return action

    def timing(self) -> dict[str, float]:
        """Mean and max seconds per :meth:`act` call in this episode."""
        if not self.call_seconds:
            return {"calls": 0, "mean_s": 0.0, "max_s": 0.0}
        arr = np.asarray(self.call_seconds)
        return {"calls": len(arr), "mean_s": float(arr.mean()), "max_s": float(arr.max())}


def _check_planner(item: object) -> None:
    if not (inspect.isclass(item) and issubclass(item, Planner)):
        raise TypeError(f"{item!r} is not a subclass of jwmsim.planning.Planner")


PLANNERS: Registry[type[Planner]] = Registry("planner", ENTRY_POINT_GROUPS["planner"], _check_planner)


def planner_names() -> list[str]:
    """Names of the registered planners (entry points and run-time registrations)."""
    return PLANNERS.names()


def _planner_from_file(path: Path) -> type[Planner]:
    if not path.is_file():
        raise ConfigError(f"planner file {path} does not exist", hint=f"or use a name: {planner_names()}")
    spec = importlib.util.spec_from_file_location(f"jwmsim_user_planner_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import planner file {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ConfigError(f"importing planner file {path} failed: {type(err).__name__}: {err}") from err
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Planner)
        and not inspect.isabstract(obj)
        and obj.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise ConfigError(
            f"planner file {path} must define exactly one Planner subclass, found {len(found)}",
            hint="subclass jwmsim.planning.Planner and implement compute_action",
        )
    return found[0]


_NAME_WITH_PATH = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(.+)$")


@dataclass(frozen=True)
class PlannerSpec:
    """A parsed planner spec (see the module docstring).

    Attributes:
        name: registered planner name, or None for a ``.py`` file.
        file: the ``.py`` file, or None for a registered name.
        path: the ``PATH`` of ``NAME:PATH`` (e.g. a policy zip), else None.
    """

    name: str | None
    file: Path | None = None
    path: Path | None = None

    def __str__(self) -> str:
        if self.file is not None:
            return str(self.file)
        return f"{self.name}:{self.path}" if self.path is not None else str(self.name)


def _expand(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))


def parse_planner_spec(spec: str) -> PlannerSpec:
    """``"idm"``, ``"sb3:policy.zip"`` or ``"dir/planner.py"`` -> :class:`PlannerSpec`."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty planner spec", hint=f"use a name ({planner_names()}) or a .py path")
    named = _NAME_WITH_PATH.match(spec)
    if named is not None:
        return PlannerSpec(named.group(1), path=_expand(named.group(2)))
    if spec.endswith(".py") or "/" in spec or os.sep in spec:
        return PlannerSpec(None, file=_expand(spec))
    return PlannerSpec(spec)


def resolve_planner_spec(spec: str, base: str | os.PathLike[str]) -> str:
    """``spec`` with its relative path (the ``.py`` file or the ``PATH`` of ``NAME:PATH``) made
    relative to the folder ``base`` (``~`` and ``$VARS`` expanded); names are returned as given."""
    parsed = parse_planner_spec(spec)
    base = Path(base)
    if parsed.file is not None and not parsed.file.is_absolute():
        parsed = PlannerSpec(None, file=base / parsed.file)
    elif parsed.path is not None and not parsed.path.is_absolute():
        parsed = PlannerSpec(parsed.name, path=base / parsed.path)
    return str(parsed)


def planner_class(name: str) -> type[Planner]:
    """The registered planner class ``name``.

    Raises:
        ConfigError: no planner of that name (with the closest name).
    """
    if name not in PLANNERS:
        import difflib

        close = difflib.get_close_matches(name, PLANNERS.names(), n=1)
        raise ConfigError(
            f"unknown planner {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            hint=f"choose one of {planner_names()} or give the path of a .py file",
        )
    return PLANNERS.get(name)


def planner_path_problem(cls: type[Planner], spec: PlannerSpec) -> str | None:
    """What is wrong with the file part of ``spec`` for planner ``cls`` (missing where required,
    given where not taken, or not usable), checked without loading the file; None when fine."""
    example = f"{cls.name}:PATH"
    if spec.path is None:
        if cls.path_argument is None:
            return None
        return f"planner {cls.name!r} needs its {cls.path_description}: write {example}"
    if cls.path_argument is None:
        return f"planner {cls.name!r} reads no file, but the spec names {spec.path}"
    problem = cls.path_problem(spec.path)
    return None if problem is None else f"{cls.path_description} of planner {cls.name!r}: {problem}"


def make_planner(spec: str, **kwargs: Any) -> Planner:
    """A planner from a spec: a registered name (``idm``, ``constant_velocity``, ``log_replay``),
    ``NAME:PATH`` (``sb3:policy.zip``) or the path of a ``.py`` file; ``kwargs`` go to its
    constructor (a ``path_argument`` given in ``kwargs`` replaces ``NAME:PATH``)."""
    parsed = parse_planner_spec(spec)
    if parsed.file is not None:
        cls = _planner_from_file(parsed.file)
    else:
        assert parsed.name is not None
        cls = planner_class(parsed.name)
    arg = cls.path_argument
    if parsed.path is not None or arg is None or arg not in kwargs:
        problem = planner_path_problem(cls, parsed)
        if problem is not None:
            raise ConfigError(
                problem, hint="in a scenario file, relative paths are relative to the scenario's folder"
            )
        if parsed.path is not None:
            kwargs = {arg: parsed.path, **kwargs}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"planner {spec!r} rejected its arguments {sorted(kwargs)}: {err}") from err

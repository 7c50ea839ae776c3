"""The planner (ego agent) contract and the planner registry.

A planner sees the simulation state (privileged: the rule-based planners read the route and the
actors from it) and, for learned policies, the environment observation, and returns an action in
the format of ``world.config.action_type``: ``[2]`` normalised (acceleration, steering) in [-1, 1],
or ``[K, 2]`` ego-frame waypoints.

Concrete planners live in the top-level ``agents`` package and register themselves by name in
:data:`PLANNERS`; :func:`make_planner` also accepts the path of a ``.py`` file that defines one
:class:`Planner` subclass.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.sim.registry import Registry
from jwmsim.sim.state import SimState
from jwmsim.sim.world import World

PLANNERS: Registry[type[Planner]] = Registry("planner")


class Planner(ABC):
    """Base class of ego planners; :meth:`act` validates the output and times each call.

    Subclasses implement :meth:`compute_action` and may override :meth:`reset`. Set
    ``needs_observation = True`` when the planner reads the rendered observation (then it can only
    run inside the environment).
    """

    name: ClassVar[str] = "planner"
    needs_observation: ClassVar[bool] = False

    def __init__(self) -> None:
        self.call_seconds: list[float] = []
        self.world: World | None = None

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


def _load_builtin_agents() -> None:
    try:
        importlib.import_module("agents")
    except ModuleNotFoundError as err:  # pragma: no cover - only when the package is broken
        raise ConfigError(
            "the built-in planners (package 'agents') are not importable",
            hint="reinstall jwmsim (bash install.sh)",
        ) from err


def planner_names() -> list[str]:
    """Names of the registered planners."""
    _load_builtin_agents()
    return sorted(PLANNERS.names())


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


def make_planner(spec: str, **kwargs: Any) -> Planner:
    """A planner by registered name (``idm``, ``constant_velocity``, ``log_replay``, ``sb3``) or by
    path to a ``.py`` file; ``kwargs`` go to its constructor."""
    if spec.endswith(".py") or "/" in spec:
        cls = _planner_from_file(Path(spec))
    else:
        _load_builtin_agents()
        if spec not in PLANNERS:
            import difflib

            close = difflib.get_close_matches(spec, PLANNERS.names(), n=1)
            raise ConfigError(
                f"unknown planner {spec!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                hint=f"choose one of {planner_names()} or give the path of a .py file",
            )
        cls = PLANNERS.get(spec)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"planner {spec!r} rejected its arguments {sorted(kwargs)}: {err}") from err

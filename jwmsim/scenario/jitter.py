"""Jitter sampling: a scenario with ranges -> one concrete run with every parameter fixed.

Each jittered parameter is drawn from its own generator,
``numpy.random.default_rng([seed, run_index, crc32(field path)])``, so a run is reproduced exactly
from ``(seed, run_index)``, and adding or removing a range elsewhere in the file does not change
the values drawn for the others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from jwmsim.errors import ConfigError
from jwmsim.scenario.errors import format_loc
from jwmsim.scenario.params import Choice, Uniform
from jwmsim.scenario.schema import Scenario


@dataclass(frozen=True)
class ConcreteScenario:
    """One run of a scenario: every parameter a plain value.

    Attributes:
        scenario: the scenario with each range replaced by its draw.
        run_index: which run (0-based); seed: the scenario seed used.
        draws: the value drawn for each jittered parameter, by field path (``actors[0].offset``).
    """

    scenario: Scenario
    run_index: int
    seed: int
    draws: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the run (for metrics.json)."""
        return {
            "run_index": self.run_index,
            "seed": self.seed,
            "draws": dict(self.draws),
            "scenario": self.scenario.model_dump(mode="json"),
        }


def _rng(seed: int, run_index: int, path: str) -> np.random.Generator:
    return np.random.default_rng([seed, run_index, zlib.crc32(path.encode("utf-8"))])


def _draw(value: Uniform | Choice, rng: np.random.Generator) -> Any:
    if isinstance(value, Uniform):
        return float(rng.uniform(value.lo, value.hi)) if value.hi > value.lo else float(value.lo)
    return value.options[int(rng.integers(len(value.options)))]


def _walk(value: Any, loc: tuple[str | int, ...], visit: Any) -> Any:
    """Rebuild ``value`` with ``visit(loc, leaf)`` applied to every Uniform / Choice leaf."""
    if isinstance(value, (Uniform, Choice)):
        return visit(loc, value)
    if isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = _walk(old, loc + (name,), visit)
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        items = [_walk(v, loc + (i,), visit) for i, v in enumerate(value)]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def is_concrete(scenario: Scenario) -> bool:
    """True when no parameter of ``scenario`` is a range any more (see :func:`sample`)."""
    return not jittered_paths(scenario)


def jittered_paths(scenario: Scenario) -> list[str]:
    """Field paths of the parameters that are ranges (in file order)."""
    found: list[str] = []

    def visit(loc: tuple[str | int, ...], leaf: Any) -> Any:
        found.append(format_loc(loc))
        return leaf

    _walk(scenario, (), visit)
    return found


def jitter_ranges(scenario: Scenario) -> dict[str, Uniform | Choice]:
    """The range of every jittered parameter by field path (in file order)."""
    found: dict[str, Uniform | Choice] = {}

    def visit(loc: tuple[str | int, ...], leaf: Uniform | Choice) -> Any:
        found[format_loc(loc)] = leaf
        return leaf

    _walk(scenario, (), visit)
    return found


def fix_draws(
    scenario: Scenario, values: dict[str, Any], run_index: int = 0, seed: int | None = None
) -> ConcreteScenario:
    """``scenario`` with each range replaced by ``values[field path]`` (chosen values rather than
    drawn ones, e.g. by a search); a range of zero width may be left out (it takes its ``lo``).

    Raises:
        ConfigError: a range without a value, a value for no range, or a value outside its range.
    """
    ranges = jitter_ranges(scenario)
    extra = sorted(set(values) - set(ranges))
    if extra:
        raise ConfigError(
            f"values for parameters that are not ranges: {extra}", hint=f"ranges: {list(ranges)}"
        )
    draws: dict[str, Any] = {}

    def visit(loc: tuple[str | int, ...], leaf: Uniform | Choice) -> Any:
        path = format_loc(loc)
        if path not in values:
            if isinstance(leaf, Uniform) and leaf.hi == leaf.lo:
                value: Any = float(leaf.lo)
            else:
                raise ConfigError(
                    f"no value for the jittered parameter {path}", hint=f"its range: {leaf.to_yaml()}"
                )
        else:
            value = values[path]
        if isinstance(leaf, Uniform):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = number and leaf.lo <= value <= leaf.hi
        else:
            ok = value in leaf.options
        if not ok:
            raise ConfigError(f"value {value!r} of {path} is outside its range {leaf.to_yaml()}")
        draws[path] = float(value) if isinstance(leaf, Uniform) else value
        return draws[path]

    concrete = _walk(scenario, (), visit)
    return ConcreteScenario(concrete, int(run_index), int(scenario.seed if seed is None else seed), draws)


def sample(scenario: Scenario, run_index: int, seed: int | None = None) -> ConcreteScenario:
    """Draw every range of ``scenario`` for run ``run_index`` (``seed``: default the scenario's).

    The same ``(seed, run_index)`` gives exactly the same values; the result keeps the scenario's
    source file and line map (for messages).
    """
    if isinstance(run_index, bool) or not isinstance(run_index, (int, np.integer)) or run_index < 0:
        raise ConfigError(f"run index must be an integer >= 0, got {run_index!r}")
    seed = scenario.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    draws: dict[str, Any] = {}

    def visit(loc: tuple[str | int, ...], leaf: Uniform | Choice) -> Any:
        path = format_loc(loc)
        value = _draw(leaf, _rng(int(seed), int(run_index), path))
        draws[path] = value
        return value

    concrete = _walk(scenario, (), visit)
    return ConcreteScenario(concrete, int(run_index), int(seed), draws)


def sample_runs(
    scenario: Scenario, runs: int | None = None, seed: int | None = None
) -> list[ConcreteScenario]:
    """Runs ``0 .. runs-1`` (default: the scenario's ``runs``)."""
    n = scenario.runs if runs is None else runs
    if n < 1:
        raise ConfigError(f"runs must be >= 1, got {n}")
    return [sample(scenario, i, seed) for i in range(n)]

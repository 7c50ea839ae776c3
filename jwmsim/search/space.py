"""A scenario's jitter as an Optuna search space, and a found case as a standalone scenario.

Every ``{uniform: [lo, hi]}`` of the scenario becomes a float parameter on ``[lo, hi]`` and every
``{choice: [...]}`` a categorical one, named by its field path (``actors[0].trigger.distance``, as
:func:`jwmsim.scenario.jittered_paths` names it). Ranges that cannot vary (``lo == hi``, a choice of
one value) are fixed, not searched. :func:`fixed_case` puts a trial's values back into the scenario:
a scenario without jitter, which ``jwmsim replay`` and ``jwmsim view`` run as it is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from jwmsim.scenario import Choice, Scenario, Uniform, fix_draws, jitter_ranges
from jwmsim.scenario.loader import source_file
from jwmsim.search.errors import NothingToSearch

# fields that do not change what a run does (the study of a scenario survives editing them)
_NOT_IN_FINGERPRINT = {"name", "description", "runs", "agent"}


def search_space(scenario: Scenario) -> dict[str, BaseDistribution]:
    """The Optuna distribution of every jittered parameter that can vary, by field path.

    Raises:
        NothingToSearch: no parameter of the scenario is a range (or none can vary).
    """
    space: dict[str, BaseDistribution] = {}
    for path, dist in jitter_ranges(scenario).items():
        if isinstance(dist, Uniform) and dist.hi > dist.lo:
            space[path] = FloatDistribution(dist.lo, dist.hi)
        elif isinstance(dist, Choice) and len(set(dist.options)) > 1:
            space[path] = CategoricalDistribution(list(dict.fromkeys(dist.options)))
    if not space:
        where = source_file(scenario) or scenario.name
        what = "no jittered parameter" if not jitter_ranges(scenario) else "only ranges that cannot vary"
        raise NothingToSearch(
            f"scenario {scenario.name!r} ({where}) has {what}: there is nothing to search",
            hint="give the parameters to search a range, e.g. offset: {uniform: [10, 30]} or "
            "lane: {choice: [ego_left, ego_right]}",
        )
    return space


def fixed_values(scenario: Scenario) -> dict[str, Any]:
    """The value of each range that cannot vary (a zero-width uniform, a choice of one value)."""
    out: dict[str, Any] = {}
    for path, dist in jitter_ranges(scenario).items():
        if isinstance(dist, Uniform) and dist.hi == dist.lo:
            out[path] = float(dist.lo)
        elif isinstance(dist, Choice) and len(set(dist.options)) == 1:
            out[path] = dist.options[0]
    return out


def all_continuous(space: dict[str, BaseDistribution]) -> bool:
    """Whether every parameter is a float range (what CMA-ES needs)."""
    return all(isinstance(d, FloatDistribution) for d in space.values())


def describe_space(space: dict[str, BaseDistribution]) -> dict[str, str]:
    """``{path: "uniform [lo, hi]" | "choice [a, b]"}`` for reports."""
    out = {}
    for path, dist in space.items():
        if isinstance(dist, FloatDistribution):
            out[path] = f"uniform [{dist.low:g}, {dist.high:g}]"
        else:
            assert isinstance(dist, CategoricalDistribution)
            out[path] = "choice [" + ", ".join(str(c) for c in dist.choices) + "]"
    return out


def scenario_fingerprint(scenario: Scenario) -> str:
    """A digest of what a run of ``scenario`` depends on (its ranges included; its name, text,
    ``runs`` and agent left out), to tell whether a stored study belongs to it."""
    data = scenario.model_dump(mode="json", exclude=_NOT_IN_FINGERPRINT)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def fixed_case(
    scenario: Scenario, params: dict[str, Any], *, agent: str, name: str, description: str
) -> Scenario:
    """``scenario`` with every range replaced by the trial's value: one run, driven by ``agent``.

    Raises:
        ConfigError: a value is missing or outside its range (a study of another scenario).
    """
    concrete = fix_draws(scenario, {**fixed_values(scenario), **params})
    return concrete.scenario.model_copy(
        update={"name": name, "description": description, "agent": agent, "runs": 1}
    )


def portable_agent(agent: str) -> str:
    """``agent`` with a relative file path made absolute, so that a case file written elsewhere
    names the same planner (``idm`` stays ``idm``)."""
    from jwmsim.planning import resolve_planner_spec

    return resolve_planner_spec(agent, Path.cwd())


__all__ = [
    "all_continuous",
    "describe_space",
    "fixed_case",
    "fixed_values",
    "portable_agent",
    "scenario_fingerprint",
    "search_space",
]

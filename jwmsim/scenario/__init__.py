"""Scenarios: a long-tail situation described once in YAML on a seed log, replayed with jitter.

``load_scenario(path)`` validates a file (errors name the file, line, field, what was found and
what is expected; exit code 2); ``validate_against_log`` checks it against its log;
``sample(scenario, run_index)`` draws the jitter of one run. See docs/scenarios.md.
"""

from __future__ import annotations

from jwmsim.scenario.errors import Issue, ScenarioError
from jwmsim.scenario.jitter import (
    ConcreteScenario,
    fix_draws,
    jitter_ranges,
    jittered_paths,
    sample,
    sample_runs,
)
from jwmsim.scenario.loader import load_scenario, load_seed_log, parse_scenario
from jwmsim.scenario.params import Choice, Uniform
from jwmsim.scenario.schema import SCHEMA_VERSION, Scenario

__all__ = [
    "SCHEMA_VERSION",
    "Choice",
    "ConcreteScenario",
    "Issue",
    "Scenario",
    "ScenarioError",
    "Uniform",
    "fix_draws",
    "jitter_ranges",
    "jittered_paths",
    "load_and_validate",
    "load_scenario",
    "load_seed_log",
    "parse_scenario",
    "sample",
    "sample_runs",
    "validate_against_log",
]


def __getattr__(name: str) -> object:
    # validate pulls in the simulator's road map (shapely, numpy); import it on first use
    if name in ("validate_against_log", "load_and_validate"):
        from jwmsim.scenario import validate

        return getattr(validate, name)
    raise AttributeError(name)

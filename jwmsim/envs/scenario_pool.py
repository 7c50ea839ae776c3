"""Scenarios an environment draws its episodes from (``DriveEnvConfig.scenarios``).

``gym.make("JWM-Drive-v0", scenarios=("cut_in", "hard_brake"))`` starts every episode on a
jittered run of one of the named scenarios (library names or YAML paths), drawn with the
environment's own random generator, so that a policy trains on the long-tail library through the
registered environment and nothing else. The run indices drawn come from
``DriveEnvConfig.scenario_runs`` (default ``[1000, 1_000_000)``); ``jwmsim eval closed-loop`` and
``jwmsim replay`` use runs ``0 .. runs-1``, so training never sees an evaluation run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jwmsim.config import SimConfig
from jwmsim.envs.drive_config import DEFAULT_TRAINING_RUNS
from jwmsim.errors import ConfigError
from jwmsim.logs.segment import LogSegment
from jwmsim.scenario.schema import Scenario
from jwmsim.sim import World

__all__ = ["DEFAULT_TRAINING_RUNS", "DrawnRun", "ScenarioPool"]


@dataclass(frozen=True)
class DrawnRun:
    """One episode's scenario run: the scenario's name, its run index and its world."""

    scenario: str
    run_index: int
    world: World


class ScenarioPool:
    """Loaded, validated scenarios on one seed log, and :meth:`draw` for a run of one of them.

    Args:
        names: library scenario names or YAML paths (at least one).
        runs: ``(low, high)``: run indices are drawn from ``[low, high)``.
        sim: simulation settings of the worlds (``start_time`` and ``episode_seconds`` come from
            each scenario).

    Raises:
        ScenarioError: a scenario does not load or does not fit its log (located message).
        ConfigError: no scenario, an empty run range, or scenarios on different seed logs.
    """

    def __init__(self, names: Sequence[str], runs: tuple[int, int], sim: SimConfig) -> None:
        from jwmsim.scenario.loader import load_scenario, load_seed_log, seed_log_dataroot
        from jwmsim.scenario.validate import validate_against_log

        if not names:
            raise ConfigError("DriveEnvConfig.scenarios is empty", hint="name at least one scenario")
        low, high = (int(v) for v in runs)
        if not 0 <= low < high:
            raise ConfigError(
                f"DriveEnvConfig.scenario_runs = {runs} is invalid",
                hint="(low, high) run indices with 0 <= low < high",
            )
        self.runs = (low, high)
        self.sim = sim
        self.scenarios: list[Scenario] = [load_scenario(n) for n in names]
        roots = {seed_log_dataroot(s) for s in self.scenarios}
        if len(roots) > 1:
            raise ConfigError(
                f"DriveEnvConfig.scenarios {list(names)} are on {len(roots)} different seed logs",
                hint="one environment runs on one log: make one environment per seed log",
            )
        self.segment: LogSegment = load_seed_log(self.scenarios[0])
        for name, scenario in zip(names, self.scenarios, strict=True):
            validate_against_log(scenario, self.segment, name)

    def world(self, index: int, run_index: int) -> World:
        """The world of run ``run_index`` of scenario ``index``."""
        from jwmsim.scenario import sample
        from jwmsim.scenario.build import build_world_for_run

        scenario = self.scenarios[index]
        return build_world_for_run(sample(scenario, run_index, scenario.seed), self.segment, self.sim)

    def draw(self, rng: np.random.Generator) -> DrawnRun:
        """A scenario (uniformly) and a run index in ``runs``, drawn with ``rng``."""
        index = int(rng.integers(len(self.scenarios)))
        run_index = int(rng.integers(*self.runs))
        name = self.scenarios[index].name or str(index)
        return DrawnRun(name, run_index, self.world(index, run_index))

"""``gym.make("JWM-Drive-v0", scenarios=...)``: episodes drawn from jittered scenario runs that the
evaluation never uses."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import jwmsim.envs  # noqa: F401
from jwmsim.errors import ConfigError
from jwmsim.scenario import ScenarioError

NAMES = ("cut_in", "hard_brake")


def _env(**kw):
    return gym.make("JWM-Drive-v0", observation="none", bev=True, bev_size=32, scenarios=NAMES, **kw)


def test_episodes_come_from_the_named_scenarios_off_the_evaluation_runs() -> None:
    env = _env()
    seen = set()
    obs, info = env.reset(seed=0)
    assert set(obs) == {"ego", "bev"}
    for _ in range(8):
        assert info["scenario"] in NAMES and 1000 <= info["scenario_run"] < 1_000_000
        seen.add(info["scenario"])
        base = env.unwrapped
        assert base.world.config.episode_seconds == 15.0  # the scenarios' duration, not the log's
        obs, r, term, trunc, info = env.step(np.zeros(2, np.float32))
        assert np.isfinite(r)
        obs, info = env.reset()
    assert seen == set(NAMES)
    env.close()


def test_the_same_seed_draws_the_same_runs() -> None:
    def runs(seed: int) -> list[tuple[str, int]]:
        env = _env()
        out = []
        _, info = env.reset(seed=seed)
        for _ in range(4):
            out.append((info["scenario"], info["scenario_run"]))
            _, info = env.reset()
        env.close()
        return out

    assert runs(5) == runs(5)
    assert runs(5) != runs(6)


def test_the_scenario_world_matches_the_replay_of_that_run() -> None:
    """An episode's world is the one the replay builds for that scenario run."""
    from jwmsim.scenario import load_scenario, load_seed_log, sample
    from jwmsim.scenario.build import build_world_for_run

    env = _env(scenario_runs=(3, 4))
    _, info = env.reset(seed=1)
    scenario = load_scenario(info["scenario"])
    world = build_world_for_run(sample(scenario, 3, scenario.seed), load_seed_log(scenario))
    mine = env.unwrapped.world.initial_actors
    assert mine.ids == world.initial_actors.ids
    np.testing.assert_allclose(mine.x, world.initial_actors.x)
    np.testing.assert_allclose(mine.speed, world.initial_actors.speed)
    other = build_world_for_run(sample(scenario, 0, scenario.seed), load_seed_log(scenario))
    assert not np.allclose(other.initial_actors.speed, mine.speed)  # the jitter differs by run
    env.close()


def test_bad_scenario_settings_are_clear() -> None:
    with pytest.raises(ScenarioError, match="no_such_scenario"):
        gym.make("JWM-Drive-v0", observation="none", scenarios=("no_such_scenario",))
    with pytest.raises(ConfigError, match="scenario_runs"):
        gym.make("JWM-Drive-v0", observation="none", scenarios=NAMES, scenario_runs=(5, 5))

"""RayVecEnv (PPO's environments in Ray actors) gives the same rollouts as SB3's SubprocVecEnv for
the same environment factories, seeds and actions, auto-reset included."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest


def make_drive_env(log: str):
    import gymnasium as gym

    import jwmsim.envs  # noqa: F401

    return gym.make("JWM-Drive-v0", log=log, observation="none", bev=True, episode_seconds=1.0)


def _rollout(venv, steps: int) -> list[tuple]:
    venv.seed(7)
    obs = venv.reset()
    rng = np.random.default_rng(0)
    out = [(obs["ego"].copy(), obs["bev"].copy())]
    for _ in range(steps):
        actions = rng.uniform(-1, 1, (venv.num_envs, 2)).astype(np.float32)
        obs, rew, done, infos = venv.step(actions)
        out.append((obs["ego"].copy(), rew.copy(), done.copy(), [sorted(i) for i in infos]))
    return out


def test_ray_vec_env_matches_subproc_vec_env(tiny_log: Path, local_ray) -> None:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from jwmsim.backends.ray_vec_env import RayVecEnv

    local_ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    fns = [functools.partial(make_drive_env, str(tiny_log))] * 2
    sub = SubprocVecEnv(fns, start_method="spawn")
    try:
        expected = _rollout(sub, 14)  # 1 s episodes at 10 Hz: one auto-reset on the way
    finally:
        sub.close()
    ray_env = RayVecEnv(fns)
    try:
        assert ray_env.num_envs == 2 and ray_env.get_attr("render_mode") == [None, None]
        got = _rollout(ray_env, 14)
        assert ray_env.env_method("get_wrapper_attr", "spec")[0].id == "JWM-Drive-v0"
    finally:
        ray_env.close()
    assert any(step[2].any() for step in expected[1:])  # an episode ended and the envs reset
    for a, b in zip(expected, got, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y)
            else:
                assert x == y


def test_ray_vec_env_without_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from jwmsim.backends import ray_backend
    from jwmsim.errors import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match="needs the 'ray' package"):
        ray_backend.RayBackend(ray_backend.BackendOptions())

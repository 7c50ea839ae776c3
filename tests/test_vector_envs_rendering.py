"""JWM-Drive-v0 with camera rendering in worker processes: gymnasium AsyncVectorEnv and SB3
SubprocVecEnv, with start methods that do not fork a parent whose numba threads already run."""

from __future__ import annotations

import functools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
from jwmsim.logs.procedural import LogConfig, write_town_log


@pytest.fixture(scope="module")
def town_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = LogConfig(duration=1.5, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    return write_town_log(5, tmp_path_factory.mktemp("vec") / "town5", cfg, progress=False)


@pytest.mark.slow
def test_rendering_vector_envs(town_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path))  # inherited by the workers
    make = functools.partial(
        gym.make,
        "jwmsim:JWM-Drive-v0",
        log=str(town_log),
        cameras=("CAM_FRONT",),
        image_size=(32, 56),
        episode_seconds=1.0,
    )
    single = make()
    ref, _ = single.reset(seed=0)  # builds and caches the lidar skeleton; starts numba threads here
    single.close()

    venv = gym.vector.AsyncVectorEnv([make, make], context="spawn")
    obs, _ = venv.reset(seed=[0, 0])
    assert obs["CAM_FRONT"].shape == (2, 32, 56, 3) and obs["CAM_FRONT"].std() > 5
    np.testing.assert_array_equal(obs["CAM_FRONT"][0], ref["CAM_FRONT"])
    for _ in range(3):
        obs, rew, term, trunc, _ = venv.step(np.zeros((2, 2), np.float32))
    np.testing.assert_array_equal(obs["CAM_FRONT"][0], obs["CAM_FRONT"][1])
    venv.close()

    svenv = SubprocVecEnv([make, make], start_method="forkserver")
    obs = svenv.reset()
    obs, rew, done, _ = svenv.step(np.zeros((2, 2), np.float32))
    assert obs["CAM_FRONT"].shape == (2, 32, 56, 3) and rew.shape == (2,)
    svenv.close()

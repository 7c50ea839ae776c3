"""Behaviour cloning (jwmsim.behaviour_cloning): recorded labels are the expert's actions, the
demonstrations file round-trips and refuses damage, cloning fits the expert, and train_ppo's
--warm-start wires it in front of PPO."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jwmsim.behaviour_cloning import (
    CloneSettings,
    Demos,
    DemoTask,
    clone_into,
    discounted_returns,
    merge,
    record_task,
)
from jwmsim.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
BEV = {"observation": "none", "bev": True, "bev_size": 40, "episode_seconds": 2.0}


def test_discounted_returns_accumulate_backwards() -> None:
    np.testing.assert_allclose(discounted_returns(np.array([1.0, 2.0, 4.0]), 0.5), [3.0, 4.0, 4.0])
    assert discounted_returns(np.zeros(0), 0.9).shape == (0,)


def _demos(n: int, episodes: int = 1) -> Demos:
    rng = np.random.default_rng(n)
    obs = {
        "ego": rng.normal(size=(n, 9)).astype(np.float32),
        "bev": rng.integers(0, 255, (n, 8, 8, 3), np.uint8),
    }
    return Demos(
        obs, rng.uniform(-1, 1, (n, 2)).astype(np.float32), rng.normal(size=n).astype(np.float32), episodes
    )


def test_demos_round_trip_merge_and_refuse_a_damaged_file(tmp_path: Path) -> None:
    a, b = _demos(5), _demos(3, episodes=2)
    both = merge([a, b])
    assert len(both) == 8 and both.episodes == 3 and both.obs["bev"].shape == (8, 8, 8, 3)
    path = tmp_path / "demos.npz"
    both.save(path)
    back = Demos.load(path)
    np.testing.assert_array_equal(back.actions, both.actions)
    np.testing.assert_array_equal(back.obs["bev"], both.obs["bev"])
    assert back.episodes == 3 and not list(tmp_path.glob("*.tmp.npz"))
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(ConfigError, match="cannot read demonstrations") as err:
        Demos.load(path)
    assert "delete the file" in err.value.hint


def test_recorded_labels_are_the_experts_actions(tiny_log: Path) -> None:
    import gymnasium as gym

    import jwmsim.envs  # noqa: F401
    from jwmsim.planning import make_planner

    task = DemoTask({"log": str(tiny_log), **BEV}, steps=30, seed=3, noise_std=0.0)
    demos = record_task(task)
    assert len(demos) == 30 and demos.obs["bev"].shape == (30, 40, 40, 3) and demos.episodes >= 1
    assert np.all(np.abs(demos.actions) <= 1)
    # without noise the recording is the expert's own drive: replaying it gives the same labels
    env = gym.make("JWM-Drive-v0", log=str(tiny_log), **BEV)
    obs, _ = env.reset(seed=3)
    idm = make_planner("idm")
    for t in range(10):
        action = idm.act(env.unwrapped.state, obs)
        np.testing.assert_allclose(action, demos.actions[t], atol=1e-6)
        np.testing.assert_array_equal(obs["ego"], demos.obs["ego"][t])
        obs, *_ = env.step(action)
    env.close()
    noisy = record_task(DemoTask({"log": str(tiny_log), **BEV}, steps=30, seed=3, noise_std=0.3))
    assert not np.allclose(noisy.obs["ego"][5:], demos.obs["ego"][5:])  # the noise moved the car
    assert demos.returns.shape == (30,) and np.all(np.isfinite(demos.returns))


@pytest.mark.slow
def test_cloning_fits_the_experts_actions(tiny_log: Path) -> None:
    import gymnasium as gym
    from stable_baselines3 import PPO

    import jwmsim.envs  # noqa: F401

    demos = record_task(DemoTask({"log": str(tiny_log), **BEV}, steps=200, seed=1, noise_std=0.1))
    env = gym.make("JWM-Drive-v0", log=str(tiny_log), **BEV)
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=32, seed=0, device="cpu")
    history = clone_into(model, demos, CloneSettings(epochs=15, value_epochs=3, batch_size=32, log_std=-1.5))
    actor = history["actor"]
    assert actor[-1]["train_mse"] < 0.5 * actor[0]["train_mse"]
    assert actor[-1]["val_mse"] < actor[0]["val_mse"]
    assert history["value"][-1]["train_mse"] < history["value"][0]["train_mse"]
    assert float(model.policy.log_std.detach().mean()) == pytest.approx(-1.5)
    # the deterministic policy now acts like the expert on the recorded observations
    pred, _ = model.predict({k: v[:50] for k, v in demos.obs.items()}, deterministic=True)
    assert np.mean((pred - demos.actions[:50]) ** 2) < np.mean(demos.actions[:50] ** 2)
    env.close()


def test_cloning_needs_valid_settings() -> None:
    with pytest.raises(ConfigError):
        CloneSettings(epochs=0)
    with pytest.raises(ConfigError):
        CloneSettings(holdout=1.0)


def _train_ppo(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = REPO / "examples" / "train_ppo.py"
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=900, env=env
    )


@pytest.mark.slow
def test_train_ppo_warm_start_clones_then_trains_and_resumes(tiny_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "ppo_bc"
    small = ["--logs", tiny_log, "--envs", "1", "--n-steps", "32", "--batch-size", "32", "--n-epochs", "1"]
    warm = ["--warm-start", "idm", "--demo-steps", "64", "--bc-epochs", "2", "--eval-runs", "0"]
    res = _train_ppo("--out", out, "--steps", "32", *warm, *small)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "cloned idm" in res.stdout
    for name in ("demos.npz", "bc_policy.zip", "policy.zip", "checkpoints/ppo_0_steps.zip"):
        assert (out / name).is_file(), name
    history = json.loads((out / "bc_history.json").read_text())
    assert history["expert"] == "idm" and history["samples"] == 64 and len(history["actor"]) == 2
    more = _train_ppo("--out", out, "--resume", "--steps", "64", *warm, *small)
    assert more.returncode == 0, more.stderr[-3000:]
    assert "resuming from" in more.stdout and "cloned" not in more.stdout  # no second cloning


def test_train_ppo_refuses_an_unknown_warm_start_planner(tmp_path: Path) -> None:
    res = _train_ppo("--out", tmp_path / "x", "--logs", "builtin", "--warm-start", "no_such_planner")
    assert res.returncode == 2 and "no_such_planner" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()

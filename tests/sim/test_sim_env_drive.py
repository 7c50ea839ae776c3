"""JWMDrivingEnv: registration, Gymnasium / SB3 checks, observations, errors, vector envs, memory."""

from __future__ import annotations

import tracemalloc

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from sim_logs import straight_road, straight_track
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import jwmsim.envs
from jwmsim.envs import ENV_ID, DriveEnvConfig, EnvStateError, JWMDrivingEnv
from jwmsim.errors import ConfigError
from jwmsim.gaussians.synthetic import street_scene
from jwmsim.sim import ActionError, normalise_waypoints

torch.set_num_threads(1)


def small_log():
    return straight_road(tracks={"lead": straight_track("lead", 30.0, 0.0, 8.0)})


def skeleton_env(**kw) -> JWMDrivingEnv:
    return JWMDrivingEnv(
        segment=small_log(), scene=street_scene(2000), image_size=(40, 64), render_backend="cpu", **kw
    )


def test_registered_on_import_and_idempotent():
    assert ENV_ID in gym.registry
    jwmsim.envs.register_envs()  # again: no error
    env = gym.make(ENV_ID, segment=small_log(), observation="none", bev=True, render_mode="rgb_array")
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"ego", "bev"} and obs["bev"].shape == (64, 64, 3)
    frame = env.render()
    assert frame.ndim == 3 and frame.dtype == np.uint8
    env.close()


def test_gymnasium_and_sb3_checks_with_camera_depth_and_bev():
    env = skeleton_env(depth=True, bev=True)
    check_env(env)
    sb3_check_env(env)
    obs, info = env.reset(seed=1)
    assert obs["CAM_FRONT"].shape == (40, 64, 3) and obs["CAM_FRONT"].dtype == np.uint8
    assert obs["depth_CAM_FRONT"].shape == (40, 64, 1) and obs["depth_CAM_FRONT"].max() > 1.0
    assert obs["ego"][0] == pytest.approx(10.0)  # logged speed
    assert env.observation_space.contains(obs)


def test_identical_seeds_give_identical_observations():
    env = skeleton_env()
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=7)
        seq = [obs]
        for k in range(6):
            seq.append(env.step(np.array([0.3, 0.1 * (-1) ** k], np.float32))[0])
        runs.append(seq)
    for a, b in zip(*runs, strict=True):
        for key in a:
            assert np.array_equal(a[key], b[key])
    assert not np.array_equal(runs[0][0]["CAM_FRONT"], runs[0][-1]["CAM_FRONT"])  # the view moves


def test_step_returns_reward_terms_and_metrics_and_ends():
    env = JWMDrivingEnv(segment=small_log(), observation="none", episode_seconds=1.0)
    env.reset(seed=0)
    total = 0.0
    for _ in range(10):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.0], np.float32))
        total += reward
        w = env.world.config.reward_weights
        assert reward == pytest.approx(sum(w[k] * info["rewards"][k] for k in w))
        assert set(info["metrics"]) == {"nc", "dac", "ttc", "ep", "c"}
    assert truncated and not terminated and info["reason"] == "time_limit"
    assert info["episode"]["pdms"] == pytest.approx(1.0)
    with pytest.raises(EnvStateError):
        env.step(np.array([0.0, 0.0], np.float32))
    # off the road: terminated
    env.reset(seed=0)
    while True:
        _, _, terminated, truncated, info = env.step(np.array([0.0, -0.5], np.float32))
        if terminated or truncated:
            break
    assert terminated and info["reason"] == "offroad" and info["episode"]["dac"] == 0.0


def test_bad_actions_and_bad_configuration_are_clear_errors():
    env = JWMDrivingEnv(segment=small_log(), observation="none")
    with pytest.raises(EnvStateError, match="reset"):
        env.step(np.zeros(2, np.float32))
    env.reset(seed=0)
    for bad in (np.array([np.nan, 0.0]), np.zeros(3), np.zeros((2, 2))):
        with pytest.raises(ActionError) as err:
            env.step(bad)
        assert isinstance(err.value, ValueError)
    with pytest.raises(ConfigError, match="unknown keyword"):
        JWMDrivingEnv(segment=small_log(), observation="none", colour=True)
    with pytest.raises(ConfigError, match="CAM_BACK"):
        JWMDrivingEnv(segment=small_log(), observation="log_frames", cameras=("CAM_BACK",))
    with pytest.raises(ConfigError, match="observation"):
        DriveEnvConfig(observation="dreams")


def test_waypoint_action_option():
    env = JWMDrivingEnv(segment=small_log(), observation="none", action_type="waypoints", num_waypoints=3)
    assert env.action_space.shape == (6,)
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)
    check_env(env)
    env.reset(seed=0)
    metres = np.array([[5.0, 0.0], [10.0, 0.0], [15.0, 0.0]])  # 10 m/s straight on
    wp = normalise_waypoints(metres, env.world.config).reshape(-1).astype(np.float32)
    for _ in range(10):
        obs, *_ = env.step(wp)
    assert obs["ego"][0] == pytest.approx(10.0, abs=0.05)


def test_memory_stays_flat_over_a_60_s_episode():
    env = JWMDrivingEnv(
        segment=small_log(),
        observation="none",
        bev=True,
        terminate_on_collision=False,
        terminate_on_offroad=False,
        terminate_on_route_complete=False,
    )
    env.reset(seed=0)
    action = np.array([0.0, 0.0], np.float32)
    for _ in range(100):
        env.step(action)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    steps = 100
    truncated = False
    while not truncated:
        *_, truncated, _ = env.step(action)
        steps += 1
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert steps == 600
    assert grown < 2_000_000, f"memory grew by {grown} bytes over 500 steps"


def test_human_render_mode_headless(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    env = JWMDrivingEnv(segment=small_log(), observation="none", render_mode="human")
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))
    assert env.render() is None and env._window is not None
    env.close()
    with pytest.raises(ConfigError, match="render_mode"):
        JWMDrivingEnv(segment=small_log(), observation="none", render_mode="ansi")


@pytest.mark.slow
def test_sb3_ppo_update_loop_runs_on_the_env_and_predicts_in_the_action_space():
    """SB3 PPO collects rollouts and updates on the env and its prediction is a valid action
    (whether it *learns* is the RL training's business, not this test's)."""
    from stable_baselines3 import PPO

    env = JWMDrivingEnv(segment=small_log(), observation="none", bev=True, episode_seconds=2.0)
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=16, n_epochs=1, device="cpu", seed=0)
    model.learn(total_timesteps=64)
    assert model.num_timesteps == 64 and model._n_updates == 2  # two rollouts of 32, one epoch each
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))


@pytest.mark.slow
def test_vector_envs_async_and_sb3_subproc():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    log = small_log()

    def make():
        return JWMDrivingEnv(segment=log, observation="none", bev=True)

    venv = gym.vector.AsyncVectorEnv([make, make])
    obs, _ = venv.reset(seed=[1, 2])
    assert obs["bev"].shape == (2, 64, 64, 3)
    for _ in range(3):
        obs, rew, term, trunc, _ = venv.step(np.zeros((2, 2), np.float32))
    assert rew.shape == (2,) and np.allclose(obs["ego"][0], obs["ego"][1])
    venv.close()
    svenv = SubprocVecEnv([make, make])
    obs = svenv.reset()
    obs, rew, done, info = svenv.step(np.zeros((2, 2), np.float32))
    assert obs["ego"].shape == (2, 9) and rew.shape == (2,)
    svenv.close()


@pytest.mark.slow
def test_lidar_skeleton_renders_the_real_log(pandaset_log, tmp_path, monkeypatch):
    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path))
    env = JWMDrivingEnv(segment=pandaset_log, image_size=(90, 160), start_time=2.0, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    from jwmsim.scenes.sources import scene_cache_path

    assert scene_cache_path(pandaset_log).is_file()  # cached for the next environment
    gt = pandaset_log.image("CAM_FRONT", pandaset_log.nearest_frame("CAM_FRONT", 2.0), (90, 160)) / 255.0
    img = obs["CAM_FRONT"] / 255.0

    def psnr(a, b):
        return -10 * np.log10(np.mean((a - b) ** 2))

    flat = np.broadcast_to(gt.mean(axis=(0, 1)), gt.shape)
    assert psnr(img, gt) > 16.0 and psnr(img, gt) > psnr(flat, gt) + 3.0
    frame = env.render()
    assert frame.shape[0] >= 90 and frame.dtype == np.uint8


def test_log_frames_observation_on_the_real_log(pandaset_log):
    env = JWMDrivingEnv(
        segment=pandaset_log, observation="log_frames", cameras=("CAM_FRONT", "CAM_BACK"), image_size=(36, 64)
    )
    env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(np.array([0.0, 0.0], np.float32))
    t = env.state.log_time
    for cam in ("CAM_FRONT", "CAM_BACK"):
        expected = pandaset_log.image(cam, pandaset_log.nearest_frame(cam, t), (36, 64))
        assert np.array_equal(obs[cam], expected)


def test_scene_cache_sources_and_errors(tmp_path, monkeypatch):
    from jwmsim.errors import CheckpointError
    from jwmsim.scenes.sources import scene_cache_path, scene_for_log

    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path))
    log = small_log()
    with pytest.raises(CheckpointError, match="does not exist"):
        scene_for_log(log, tmp_path / "nope.safetensors")
    with pytest.raises(ConfigError, match="no lidar"):
        scene_for_log(log, "lidar")  # the test log has no lidar and nothing is cached
    cached = street_scene(500)
    path = scene_cache_path(log, "lidar")
    path.parent.mkdir(parents=True)
    cached.save(path)
    got = scene_for_log(log, "lidar")  # served from the cache, not rebuilt
    assert got.num_gaussians == cached.num_gaussians
    assert scene_cache_path(log, "fit") != path
    # a scene file that does not record this log is refused, not served
    from jwmsim.errors import SceneMismatchError

    with pytest.raises(SceneMismatchError, match="does not record the log"):
        scene_for_log(log, path)
    assert scene_for_log(log, path, force=True).num_gaussians == cached.num_gaussians


def test_sb3_checker_passes_waypoint_actions_without_the_box_warning() -> None:
    """SB3 warns ("symmetric and normalized Box action space") on a metre-valued action box."""
    import warnings

    env = JWMDrivingEnv(segment=small_log(), observation="none", action_type="waypoints", num_waypoints=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    texts = [str(w.message) for w in caught]
    assert not [t for t in texts if "normalized" in t or "symmetric" in t], texts


def test_box_stand_ins_are_built_once_per_process():
    """Actors without a scene asset are drawn as stand-ins (the actor bank's actor of their class,
    else a Gaussian box) built once per process (not at every reset); the images equal those of
    freshly built stand-ins."""
    from jwmsim.envs import render_paths

    stand_ins = (render_paths._bank_fallback, render_paths._box_asset)
    for cache in stand_ins:
        cache.cache_clear()
    first = skeleton_env().reset(seed=7)[0]["CAM_FRONT"]
    assert sum(c.cache_info().misses for c in stand_ins) == 1  # the lead car
    again = skeleton_env().reset(seed=7)[0]["CAM_FRONT"]
    assert sum(c.cache_info().misses for c in stand_ins) == 1
    assert sum(c.cache_info().hits for c in stand_ins) >= 1
    for cache in stand_ins:
        cache.cache_clear()
    fresh = skeleton_env().reset(seed=7)[0]["CAM_FRONT"]
    assert np.array_equal(first, again) and np.array_equal(first, fresh)
    plain = JWMDrivingEnv(
        segment=straight_road(), scene=street_scene(2000), image_size=(40, 64), render_backend="cpu"
    ).reset(seed=7)[0]["CAM_FRONT"]
    assert not np.array_equal(first, plain)  # the box is in view

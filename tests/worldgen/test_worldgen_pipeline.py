"""WorldGen pipeline (the sampler over the KV cache) and the ``jwm`` render path."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.worldgen.flow import euler_levels, few_step_levels
from jwmsim.worldgen.frames import ContextFrame, FramePoses, SkeletonFrame
from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline, make_worldgen_generator


def skeleton_frame(rig_fn, c: int, hw: tuple[int, int], x: float, seed: int) -> SkeletonFrame:
    rng = np.random.default_rng(seed)
    ks, cams = rig_fn(c, hw)
    pose = np.eye(4)
    pose[0, 3] = x
    return SkeletonFrame(
        rgb=rng.integers(0, 255, (c, *hw, 3), dtype=np.uint8),
        depth=rng.uniform(0, 30, (c, *hw)).astype(np.float32),
        alpha=rng.uniform(0, 1, (c, *hw)).astype(np.float32),
        poses=FramePoses(("A", "B", "C")[:c], pose, cams, ks, 0.1 * x),
    )


def test_few_step_schedule_is_the_shifted_quarter_grid() -> None:
    levels = few_step_levels(4, 5.0)
    base = np.array([1.0, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(levels, 5 * base / (1 + 4 * base))
    e = euler_levels(8, 5.0)
    assert e[0] == 1.0 and e[-1] == 0.0 and len(e) == 9 and all(a > b for a, b in zip(e, e[1:], strict=False))


def test_pipeline_generates_deterministically_with_bounded_cache(trained_model, rig_fn) -> None:
    cfg = SamplerConfig(steps=2, num_sinks=1, window=2, autocast="none", torch_threads=None)
    pipe = WorldGenPipeline(trained_model, cfg)
    ks, cams = rig_fn(3, (32, 48))
    ctx = [
        ContextFrame(
            np.full((3, 32, 48, 3), 100, np.uint8), FramePoses(("A", "B", "C"), np.eye(4), cams, ks, 0.0)
        )
    ]
    pipe.reset(ctx)
    assert pipe.cache.num_frames == 1
    outs = [pipe(skeleton_frame(rig_fn, 3, (32, 48), float(i), i)) for i in range(6)]
    assert outs[0].images.shape == (3, 32, 48, 3) and outs[0].images.dtype == np.uint8
    assert outs[0].denoiser_calls == 3  # 2 steps + the cache write
    assert [o.cache_frames for o in outs] == [2, 3, 3, 3, 3, 3]
    assert len({o.cache_bytes for o in outs[1:]}) == 1
    # the same context and seed give the same frames; a snapshot replays from the middle
    pipe.reset(ctx)
    again = [pipe(skeleton_frame(rig_fn, 3, (32, 48), float(i), i)) for i in range(3)]
    snap = pipe.snapshot()
    fourth = pipe(skeleton_frame(rig_fn, 3, (32, 48), 3.0, 3))
    pipe.restore(snap)
    fourth_again = pipe(skeleton_frame(rig_fn, 3, (32, 48), 3.0, 3))
    for a, b in zip(outs[:3], again, strict=True):
        np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(fourth.images, fourth_again.images)
    np.testing.assert_array_equal(fourth.images, outs[3].images)


def test_guidance_doubles_the_calls_and_changes_the_output(trained_model, rig_fn) -> None:
    frame = skeleton_frame(rig_fn, 3, (32, 48), 0.0, 0)
    plain = WorldGenPipeline(trained_model, SamplerConfig(steps=2, autocast="none", window=2))
    guided = WorldGenPipeline(trained_model, SamplerConfig(steps=2, guidance=3.0, autocast="none", window=2))
    plain.reset([])
    guided.reset([])
    a, b = plain(frame), guided(frame)
    assert b.denoiser_calls == 5 and a.denoiser_calls == 3
    assert not torch.allclose(a.x0, b.x0)


def test_other_frame_sizes_are_resized(trained_model, rig_fn) -> None:
    pipe = WorldGenPipeline(trained_model, SamplerConfig(steps=1, autocast="none", window=2))
    pipe.reset([])
    out = pipe(skeleton_frame(rig_fn, 3, (40, 72), 0.0, 0))
    assert out.images.shape == (3, 40, 72, 3) and tuple(out.x0.shape) == (3, 3, 32, 48)


def test_window_must_fit_the_model_slots(trained_model) -> None:
    with pytest.raises(ConfigError, match="frame slots"):
        WorldGenPipeline(trained_model, SamplerConfig(window=8))
    with pytest.raises(ConfigError, match="steps"):
        SamplerConfig(steps=0)


def test_missing_weights_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        make_worldgen_generator(tmp_path / "none", steps=2)


def test_jwm_render_path_through_gym_make(trained_model, tmp_path: Path) -> None:
    trained_model.save_pretrained(tmp_path / "wg")
    env = gym.make(
        "JWM-Drive-v0",
        observation="jwm",
        cameras=("CAM_FRONT_LEFT", "CAM_FRONT"),
        image_size=(32, 48),
        render_options={"weights": str(tmp_path / "wg"), "steps": 1, "window": 2},
        episode_seconds=1.0,
    )
    obs, _ = env.reset(seed=0)
    assert obs["CAM_FRONT"].shape == (32, 48, 3)
    renderer = env.unwrapped.renderer
    snap = env.unwrapped.snapshot()
    frames = [env.step(np.zeros(2, np.float32))[0]["CAM_FRONT"] for _ in range(3)]
    assert renderer.last.cache_frames <= 3
    env.unwrapped.restore(snap)
    replayed = env.step(np.zeros(2, np.float32))[0]["CAM_FRONT"]
    np.testing.assert_array_equal(frames[0], replayed)
    env.close()
    with pytest.raises(ConfigError, match="no option"):
        gym.make("JWM-Drive-v0", observation="jwm", render_options={"stepz": 2})
    with pytest.raises(ConfigError, match="no option"):
        gym.make("JWM-Drive-v0", observation="skeleton", render_options={"steps": 2})


def test_shipped_weights_drive_the_jwm_path_on_the_builtin_log() -> None:
    from jwmsim.worldgen.weights import default_weights_dir, load_worldgen

    model = load_worldgen(default_weights_dir())  # assets/worldgen: a CheckpointError if missing
    assert tuple(model.config.image_hw) == (112, 200)
    env = gym.make(
        "JWM-Drive-v0",
        observation="jwm",
        cameras=("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"),
        image_size=(56, 100),
        render_options={"steps": 1},
        episode_seconds=1.0,
    )
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.zeros(2, np.float32))
    assert obs["CAM_FRONT"].shape == (56, 100, 3) and obs["CAM_FRONT"].std() > 1.0
    assert env.unwrapped.renderer.last.denoiser_calls == 2
    env.close()


def test_each_solver_carries_its_schedule() -> None:
    from jwmsim.worldgen.flow import SHARP_END, sharp_levels
    from jwmsim.worldgen.pipeline_worldgen import SOLVERS, schedule

    assert SamplerConfig().solver == "sharp"
    assert schedule("sharp", 2, 5.0) == [1.0, SHARP_END, 0.0]
    assert schedule("sharp", 1, 5.0) == [1.0, 0.0]
    np.testing.assert_allclose(sharp_levels(3), [1.0, (1 + SHARP_END) / 2, SHARP_END])
    assert schedule("renoise", 4, 5.0) == [*few_step_levels(4, 5.0), 0.0]
    assert schedule("euler", 8, 5.0) == euler_levels(8, 5.0)
    x, x0, eps = torch.ones(2), torch.zeros(2), torch.full((2,), 3.0)
    # Euler along v = (x - x0) / s; re-noise mixes the prediction with fresh noise
    torch.testing.assert_close(SOLVERS.get("sharp")(x, x0, 1.0, 0.35, eps), torch.full((2,), 0.35))
    torch.testing.assert_close(SOLVERS.get("renoise")(x, x0, 1.0, 0.35, eps), torch.full((2,), 1.05))
    with pytest.raises(ConfigError, match="unknown solver"):
        SamplerConfig(solver="dpm")


def test_cache_write_without_decoding_fills_the_same_cache(trained_model, rig_fn) -> None:
    """The write call runs the transformer only (no image head, the last block stops at its keys
    and values): the cache it leaves is the full call's, to the bit."""
    from jwmsim.worldgen.conditioning import token_rays
    from jwmsim.worldgen.kv_cache import KVCache

    ks, cams = rig_fn(3, (32, 48))
    rays = token_rays(ks, cams, (32, 48), int(trained_model.config.patch))[None]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((1, 3, 3, 32, 48), generator=gen)
    cond = torch.rand((1, 3, 5, 32, 48), generator=gen)
    motion = torch.zeros(1, 4)
    full, light = KVCache(1, 2), KVCache(1, 2)
    with torch.no_grad():
        for _ in range(2):
            out = trained_model.forward_cached(x, torch.zeros(1), cond, rays, motion, full, write=True)
            none = trained_model.forward_cached(
                x, torch.zeros(1), cond, rays, motion, light, write=True, decode=False
            )
    assert out is not None and out.shape == x.shape and none is None
    for i in range(len(trained_model.blocks)):
        for a, b in zip(full.layer(i), light.layer(i), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="does nothing"):
        trained_model.forward_cached(x, torch.zeros(1), cond, rays, motion, light, decode=False)


def test_correlated_starting_noise_steadies_frames_and_replays(trained_model, rig_fn) -> None:
    """With ``noise_correlation`` the same skeleton frame, generated again and again, changes less
    from frame to frame than with independent noise; a snapshot replays it exactly."""
    frame = skeleton_frame(rig_fn, 3, (32, 48), 0.0, 0)

    def change(rho: float) -> float:
        cfg = SamplerConfig(steps=1, autocast="none", window=2, anchor="none", noise_correlation=rho)
        pipe = WorldGenPipeline(trained_model, cfg)
        pipe.reset([])
        xs = [pipe(frame).x0 for _ in range(4)]
        return float(sum((a - b).abs().mean() for a, b in zip(xs, xs[1:], strict=False)))

    assert change(0.9) < 0.8 * change(0.0)
    pipe = WorldGenPipeline(
        trained_model, SamplerConfig(steps=1, autocast="none", window=2, noise_correlation=0.9)
    )
    pipe.reset([])
    pipe(frame)
    snap = pipe.snapshot()
    a = pipe(frame).x0
    pipe.restore(snap)
    torch.testing.assert_close(pipe(frame).x0, a)
    with pytest.raises(ConfigError, match="noise_correlation"):
        SamplerConfig(noise_correlation=1.0)

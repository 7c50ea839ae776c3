"""Shared fixtures: synthetic clips (no rendering), one tiny town log (1 s, 96x54) and tiny WorldGen
models (the clips have the same keys as the real training clips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jwmsim.worldgen.conditioning import token_rays
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.training.dataset import Clip

TOWN_SEED = 121  # a training seed (the data code refuses evaluation seeds)


def make_clip(
    steps: int = 3,
    hw: tuple[int, int] = (16, 24),
    cameras: tuple[str, ...] = ("CAM_FRONT_LEFT", "CAM_FRONT"),
    context: int = 0,
    seed: int = 0,
    kind: str = "town",
    scene: str = "lidar",
    condition: str = "shift-1m",
    source: str = "town-000121",
    scene_version: str | None = None,
) -> Clip:
    """A clip of random images with consistent shapes (for format and harness tests), its skeleton
    stamped with ``scene``'s version today unless ``scene_version`` is given."""
    from jwmsim.scenes.sources import SCENE_SOURCES

    rng = np.random.default_rng(seed)
    c = len(cameras)
    h, w = hw
    eye = np.broadcast_to(np.eye(4), (steps, 4, 4)).copy()
    k = np.array([[20.0, 0, w / 2], [0, 20.0, h / 2], [0, 0, 1]])
    extra = {}
    if context:
        extra = {
            "context": rng.integers(0, 256, (context, c, h, w, 3), dtype=np.uint8),
            "context_world_from_ego": np.broadcast_to(np.eye(4), (context, 4, 4)).copy(),
            "context_times": np.arange(context, dtype=np.float64) * 0.1,
        }
    return Clip(
        cameras=cameras,
        target=rng.integers(0, 256, (steps, c, h, w, 3), dtype=np.uint8),
        skel_rgb=rng.integers(0, 256, (steps, c, h, w, 3), dtype=np.uint8),
        skel_depth=rng.uniform(0, 50, (steps, c, h, w)).astype(np.float16),
        skel_alpha=rng.integers(0, 256, (steps, c, h, w), dtype=np.uint8),
        world_from_ego=eye,
        log_world_from_ego=eye.copy(),
        ego_from_cam=np.broadcast_to(np.eye(4), (c, 4, 4)).copy(),
        intrinsics=np.broadcast_to(k, (c, 3, 3)).copy(),
        times=context * 0.1 + np.arange(steps, dtype=np.float64) * 0.1,
        shift_m=np.full(steps, 1.0, np.float32),
        yaw_rad=np.zeros(steps, np.float32),
        source=source,
        kind=kind,
        scene=scene,
        condition=condition,
        **extra,
        scene_version=SCENE_SOURCES.get(scene).version if scene_version is None else scene_version,
    )


@pytest.fixture(scope="session")
def tiny_town_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jwmsim.logs.procedural import LogConfig, write_town_log

    cfg = LogConfig(duration=1.0, width=96, height=54, lidar_azimuth_steps=256, workers=1)
    return write_town_log(TOWN_SEED, tmp_path_factory.mktemp("worldgen") / "town", cfg, progress=False)


@pytest.fixture()
def scene_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scene and data caches in a temporary folder."""
    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


TINY = {
    "image_hw": (32, 48),
    "stem_channels": (4, 8, 8, 16),
    "dim": 32,
    "depth": 2,
    "heads": 2,
    "mlp_ratio": 2.0,
    "max_frames": 6,
}
CAM_NAMES = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")


def rig(c: int, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``[C, 3, 3]`` intrinsics and ``[C, 4, 4]`` ego_from_cam of a fan of forward cameras."""
    h, w = hw
    k = np.array([[0.8 * w, 0, w / 2], [0, 0.8 * w, h / 2], [0, 0, 1.0]])
    ks = np.repeat(k[None], c, 0)
    base = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)  # OpenCV camera -> ego
    poses = []
    for i in range(c):
        yaw = (i - (c - 1) / 2) * -0.9
        rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
        m = np.eye(4)
        m[:3, :3] = rz @ base
        m[:3, 3] = (1.5, 0.0, 1.6)
        poses.append(m)
    return ks, np.stack(poses)


def write_clip(path: Path, t: int = 6, c: int = 3, hw: tuple[int, int] = (32, 48), seed: int = 0,
               source: str = "town-000100") -> Path:  # fmt: skip
    """A synthetic clip: moving colour gradients as targets, the skeleton a copy with a hole."""
    rng = np.random.default_rng(seed)
    h, w = hw
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    target = np.zeros((t, c, h, w, 3), np.uint8)
    for i in range(t):
        for j in range(c):
            phase = rng.random(3)
            img = np.stack([np.sin(6 * xx + i * 0.3 + p * 6) * 0.5 + 0.5 for p in phase], -1) * (
                0.5 + 0.5 * yy[..., None]
            )
            target[i, j] = (img * 255).astype(np.uint8)
    alpha = np.ones((t, c, h, w), np.float32)
    alpha[:, :, : h // 3] = 0.0  # the "sky" is not covered
    skel = (target * alpha[..., None]).astype(np.uint8)
    depth = (alpha * (5.0 + 20 * yy)).astype(np.float16)
    ks, cams = rig(c, hw)
    poses = np.repeat(np.eye(4)[None], t, 0)
    poses[:, 0, 3] = np.arange(t) * 1.0
    np.savez_compressed(
        path,
        cameras=np.array(CAM_NAMES[:c]),
        target=target,
        skel_rgb=skel,
        skel_depth=depth,
        skel_alpha=(alpha * 255).astype(np.uint8),
        world_from_ego=poses,
        log_world_from_ego=poses,
        ego_from_cam=cams,
        intrinsics=ks,
        times=np.arange(t) * 0.1,
        shift_m=np.zeros(t, np.float32),
        yaw_rad=np.zeros(t, np.float32),
        source=np.array(source),
        kind=np.array("town"),
        scene=np.array("lidar"),
    )
    return path


@pytest.fixture()
def tiny_model() -> WorldGenModel:
    torch.manual_seed(0)
    return WorldGenModel(**TINY).eval()


def trained_like(model: WorldGenModel, seed: int = 1) -> WorldGenModel:
    """Perturb every parameter (the zero-initialised ones included), as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def random_inputs(model: WorldGenModel, b: int = 1, f: int = 3, c: int = 3, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    h, w = model.config.image_hw
    ks, cams = rig(c, (h, w))
    return {
        "x": torch.randn(b, f, c, 3, h, w, generator=g),
        "levels": torch.rand(b, f, generator=g),
        "cond": torch.randn(b, f, c, 5, h, w, generator=g),
        "rays": token_rays(ks, cams, (h, w), model.config.patch)[None],
        "motion": torch.randn(b, f, 4, generator=g) * 0.5,
        "positions": torch.arange(f),
    }


@pytest.fixture()
def trained_model(tiny_model: WorldGenModel) -> WorldGenModel:
    return trained_like(tiny_model)


@pytest.fixture()
def make_inputs():
    return random_inputs


@pytest.fixture()
def clip_writer():
    return write_clip


@pytest.fixture()
def rig_fn():
    return rig


@pytest.fixture()
def clips(tmp_path: Path, clip_writer) -> Path:
    """A folder of three synthetic training clips (training towns 100-102)."""
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(3):
        clip_writer(folder / f"clip-{i}.npz", seed=i, source=f"town-{100 + i:06d}")
    return folder

"""Shared fixtures: synthetic clips (no rendering) and one tiny town log (1 s, 96x54)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jwmsim.worldgen.dataset import Clip

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
) -> Clip:
    """A clip of random images with consistent shapes (for format and harness tests)."""
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

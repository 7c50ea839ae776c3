"""The lidar skeleton's voxel levels: flat ground splats, coarser voxels far from the path, the v1
preset, config errors; on the built-in seed log where it is generated, and on the real log."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians import lidar_skeleton as ls
from jwmsim.gaussians.lidar_skeleton import SKELETON_V1, SkeletonConfig, lidar_skeleton


def _street(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A road plane (z ~ 0, 40 x 10 m) and a facade (x = 5 m, z 0.3 to 4 m), random colours."""
    rng = np.random.default_rng(seed)
    road = np.c_[rng.uniform(-20, 20, 20000), rng.uniform(-5, 5, 20000), rng.normal(0, 0.01, 20000)]
    wall = np.c_[rng.uniform(-20, 20, 8000), np.full(8000, 5.0), rng.uniform(0.3, 4.0, 8000)]
    pts = np.concatenate([road, wall])
    return pts, rng.uniform(0, 1, (len(pts), 3))


def test_config_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="far_voxel"):
        SkeletonConfig(far_voxel=0.0)
    with pytest.raises(ConfigError, match="near_distance"):
        SkeletonConfig(near_distance=-1.0)
    with pytest.raises(ConfigError, match="max_sweeps"):
        SkeletonConfig(max_sweeps=0)
    with pytest.raises(ConfigError, match="ground_voxel"):
        SkeletonConfig(ground_voxel=-0.5)
    with pytest.raises(ConfigError, match="ground_near_distance"):
        SkeletonConfig(ground_near_distance=-1.0)


def test_ground_points_are_the_road_not_the_facade() -> None:
    pts, _ = _street()
    ground = ls._ground_mask(pts, SkeletonConfig())
    assert ground[:20000].mean() > 0.99  # the road
    assert ground[20000:].mean() == 0.0  # the facade starts 0.3 m above it


def test_ground_becomes_flat_splats_and_far_points_coarser_voxels() -> None:
    pts, cols = _street()
    path = np.c_[np.linspace(-20, 20, 50), np.zeros(50)]
    cfg = SkeletonConfig(ground_voxel=0.8, ground_near_distance=None, near_distance=3.0, far_voxel=0.6)
    comp = ls._background(pts, cols, path, cfg)
    scales = comp.scales.numpy()
    flat = np.isclose(scales[:, 2], cfg.ground_sigma_z, rtol=1e-4)
    assert np.allclose(scales[flat, :2], 0.6 * 0.8, rtol=1e-4)
    assert 50 * 13 <= flat.sum() <= 51 * 14  # one splat per 0.8 m cell of the 40 x 10 m road
    # the facade is 5 m from the path, beyond near_distance: 0.6 m voxels, isotropic
    assert np.allclose(scales[~flat], 0.6 * 0.6, rtol=1e-4)
    # ground beyond ground_near_distance of the path: the coarser ground_far_voxel
    two = ls._background(pts, cols, path, SkeletonConfig(ground_voxel=0.5, ground_near_distance=2.0))
    xy, means = two.scales.numpy()[:, 0], two.means.numpy()
    flat2 = np.isclose(two.scales.numpy()[:, 2], 0.05, rtol=1e-4)
    assert np.allclose(xy[flat2 & (np.abs(means[:, 1]) < 1.9)], 0.6 * 0.5, rtol=1e-4)
    assert np.allclose(xy[flat2 & (np.abs(means[:, 1]) > 2.6)], 0.6 * 0.8, rtol=1e-4)
    v1 = ls._background(pts, cols, path, SKELETON_V1)
    assert np.allclose(v1.scales.numpy(), 0.6 * 0.3, rtol=1e-4) and len(v1) > 3 * len(comp)
    # colours are voxel means of the inputs, kept in (0, 1)
    assert float(comp.colors.min()) > 0.0 and float(comp.colors.max()) < 1.0


def test_v1_preset_is_the_old_builder() -> None:
    assert SKELETON_V1.near_distance is None and SKELETON_V1.ground_voxel is None
    assert SKELETON_V1.background_voxel == 0.3 and SKELETON_V1.actor_voxel == 0.1


def _check_skeleton(log, min_ratio: float) -> None:
    new = lidar_skeleton(log, progress=False, max_sweeps=10)
    old = lidar_skeleton(log, progress=False, max_sweeps=10, config=SKELETON_V1)
    assert new.metadata["method"] == ls.BUILDER_VERSION and old.metadata["method"].endswith("-custom")
    assert old.num_gaussians > min_ratio * new.num_gaussians
    assert set(new.actors) == set(old.actors)  # the same points per actor, only coarser voxels
    assert torch.isfinite(new.background.means).all()


def test_skeleton_of_the_real_log_is_smaller(pandaset_log) -> None:
    _check_skeleton(pandaset_log, 1.3)


def test_skeleton_of_the_builtin_log_is_smaller() -> None:
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.logs.procedural import DEFAULT_SEED, GENERATOR_VERSION, cache_dir
    from jwmsim.logs.procedural.default_log import default_log_path
    from jwmsim.logs.procedural.write_log import VERSION

    prefix = f"seed-log-{GENERATOR_VERSION}-s{DEFAULT_SEED}-"
    if not [p for p in cache_dir().glob(prefix + "*") if (p / VERSION / "sample_data.json").is_file()]:
        pytest.skip(f"the built-in seed log is not generated yet in {cache_dir()}: run `jwmsim info` once")
    _check_skeleton(load_nuscenes_log(default_log_path(progress=False)), 1.3)

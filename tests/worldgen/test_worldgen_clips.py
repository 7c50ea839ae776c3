"""Making clips: seed policy, the real log's held-out second, perturbations, and a tiny town's
clips lining up with its log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.geometry import SE3
from jwmsim.worldgen.training.perturb import (
    EgoOffsets,
    PerturbConfig,
    ego_hits_actor,
    lane_poses,
    ramp_offsets,
    sample_ego_offsets,
)
from jwmsim.worldgen.training.prepare import PrepareConfig, parse_seeds
from jwmsim.worldgen.training.real_clips import check_training_targets

# --- policies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [900, 904, 3, 99, 200])
def test_training_refuses_non_training_towns(tmp_path: Path, seed: int) -> None:
    with pytest.raises(ConfigError, match=f"town seed {seed} may not be used for training"):
        PrepareConfig(root=tmp_path, towns=(100, seed), clips_per_town=1)


def test_eval_set_refuses_training_towns(tmp_path: Path) -> None:
    from jwmsim.worldgen.training.eval_set import EvalSetConfig

    with pytest.raises(ConfigError, match="not evaluation towns"):
        EvalSetConfig(root=tmp_path, towns=(900, 100))


def test_parse_seeds() -> None:
    assert parse_seeds("100-102,110") == (100, 101, 102, 110)
    with pytest.raises(ConfigError, match="cannot read"):
        parse_seeds("100-x")


def test_evaluation_frames_are_never_training_targets() -> None:
    check_training_targets(range(32, 40))
    with pytest.raises(ConfigError, match=r"\[40, 41, 42\].*kept for evaluation"):
        check_training_targets(range(35, 43))


def test_real_training_jobs_stay_below_the_evaluation_frames(tmp_path: Path) -> None:
    from jwmsim.worldgen.training.prepare import PrepareConfig, real_jobs
    from jwmsim.worldgen.training.real_clips import TRAIN_FRAME_END

    cfg = PrepareConfig(root=tmp_path, towns=(100,), clips_per_town=0, real_clips=200, real_log=tmp_path)
    jobs = real_jobs(cfg)
    assert len(jobs) == 200
    for _, _, last, first in jobs:
        assert last < TRAIN_FRAME_END and first + cfg.spec.steps <= TRAIN_FRAME_END


def test_real_clip_maker_refuses_heldout_targets(pandaset_root: Path) -> None:
    from jwmsim.worldgen.training.real_clips import RealClipMaker

    maker = RealClipMaker(pandaset_root)
    with pytest.raises(ConfigError, match="kept for evaluation"):
        maker.make("lidar", 35, 36, train=True)
    with pytest.raises(ConfigError, match="end at frame"):
        maker.make("lidar", 45, 20, train=True)


# --- perturbations ----------------------------------------------------------------------------


def test_sampled_offsets_stay_in_bounds() -> None:
    cfg = PerturbConfig(p_logged=0.1)
    rng = np.random.default_rng(0)
    labels = set()
    for _ in range(200):
        off = sample_ego_offsets(rng, 8, 10.0, cfg)
        labels.add(off.label)
        assert np.abs(off.shift_m).max() <= cfg.max_shift + 1e-6
        assert np.abs(off.yaw_rad).max() <= np.deg2rad(cfg.max_yaw_deg) + 1e-6
    assert labels == {"logged", "constant", "ramp"}


def test_ramp_yaw_follows_the_lateral_velocity() -> None:
    off = ramp_offsets(0.0, 3.5, 26, 10.0, 0.1)
    assert off.shift_m[0] == pytest.approx(0.0) and off.shift_m[-1] == pytest.approx(3.5)
    mid = 12
    rate = (off.shift_m[mid + 1] - off.shift_m[mid - 1]) / 0.2
    assert off.yaw_rad[mid] == pytest.approx(np.arctan2(rate, 10.0), rel=1e-3)
    assert abs(off.yaw_rad[0]) < 0.1 * off.yaw_rad[mid]  # the lane change starts straight


def test_offsets_move_the_ego_to_its_left() -> None:
    log = SE3.from_xy_yaw(10.0, 5.0, np.pi / 2)  # facing +y: its left is -x
    off = EgoOffsets(np.array([2.0], np.float32), np.array([0.1], np.float32), "constant")
    moved = off.pose(log, 0)
    assert moved.translation[:2] == pytest.approx([8.0, 5.0])
    assert moved.yaw == pytest.approx(np.pi / 2 + 0.1)


def test_ego_hits_actor() -> None:
    ego = SE3.from_xy_yaw(0.0, 0.0, 0.0)
    size = {"a": (4.5, 1.9, 1.6)}
    assert ego_hits_actor(ego, {"a": SE3.from_xy_yaw(1.5, 1.0, 0.3)}, size)  # overlapping
    assert not ego_hits_actor(ego, {"a": SE3.from_xy_yaw(1.5, 3.6, 0.0)}, size)  # next lane
    assert not ego_hits_actor(ego, {"a": SE3.from_xy_yaw(12.0, 0.0, 0.0)}, size)  # ahead
    beside = {"a": SE3.from_xy_yaw(1.5, 2.4, 0.0)}  # its near side 1.45 m from the ego's centre line
    assert ego_hits_actor(ego, beside, size, margin=0.4) and not ego_hits_actor(ego, beside, size, margin=0.0)


def test_lane_poses_drive_along_the_lane() -> None:
    lane = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    poses = lane_poses(lane, 8.0, 5.0, np.array([0.0, 0.2, 0.4]), z=0.8)
    assert poses is not None
    assert poses[0].translation == pytest.approx([8.0, 0.0, 0.8])
    assert poses[2].translation[:2] == pytest.approx([10.0, 0.0])
    assert lane_poses(lane, 19.0, 5.0, np.array([0.0, 1.0]), z=0.8) is None  # runs off the end


# --- a tiny town ------------------------------------------------------------------------------


def test_town_clips_line_up_with_the_log(tiny_town_log: Path, scene_cache: Path, tmp_path: Path) -> None:
    from jwmsim.gaussians.image_metrics import psnr
    from jwmsim.scenes.sources import SCENE_SOURCES
    from jwmsim.worldgen.training.dataset import load_clip, save_clip
    from jwmsim.worldgen.training.town_clips import ClipSpec, TownClipMaker

    spec = ClipSpec(steps=2, cameras=("CAM_FRONT",), image_hw=(27, 48))
    maker = TownClipMaker(tiny_town_log, "town-000121", spec)
    t0 = float(maker.start_times(margin_steps=2)[0])
    logged = maker.make(np.random.default_rng(0), "lidar", t0, context_steps=2)
    assert logged.condition == "logged" and np.all(logged.shift_m == 0)
    assert np.allclose(logged.world_from_ego, logged.log_world_from_ego)
    # the oracle at the logged pose is the log's own (JPEG) image
    import torch

    log_img = maker.segment.image("CAM_FRONT", maker.segment.nearest_frame("CAM_FRONT", t0), (27, 48))
    p = psnr(torch.from_numpy(logged.target[0, 0]) / 255.0, torch.from_numpy(log_img) / 255.0)
    assert p > 28.0
    assert logged.context is not None and logged.context.shape == (2, 1, 27, 48, 3)
    assert logged.skel_alpha.mean() > 0.3 * 255 and logged.skel_depth.max() > 1.0
    # shifted: the pose is the logged one moved sideways, the target differs from the logged view
    off = EgoOffsets(np.full(2, 1.5, np.float32), np.zeros(2, np.float32), "constant")
    shifted = maker.make(np.random.default_rng(1), "lidar", t0, PerturbConfig(p_logged=0.0), offsets=off)
    rel = np.linalg.inv(shifted.log_world_from_ego[1]) @ shifted.world_from_ego[1]
    assert rel[:3, 3] == pytest.approx([0.0, 1.5, 0.0], abs=1e-9)
    assert np.abs(shifted.target.astype(int) - logged.target.astype(int)).mean() > 2.0
    back = load_clip(save_clip(shifted, tmp_path / "c.npz"))
    assert back.condition == "constant" and back.kind == "town"
    assert back.scene_version == SCENE_SOURCES.get("lidar").version != ""


def test_town_log_of_another_generator_is_refused(tiny_town_log: Path, tmp_path: Path) -> None:
    from jwmsim.worldgen.training.town_clips import town_of_log

    copy = tmp_path / "old"
    shutil.copytree(tiny_town_log / "extras", copy / "extras")
    info = json.loads((copy / "extras" / "generator.json").read_text())
    info["generator"] = "town-v4"
    (copy / "extras" / "generator.json").write_text(json.dumps(info))
    with pytest.raises(LogFormatError, match="town-v4"):
        town_of_log(copy)
    with pytest.raises(LogFormatError, match="not a procedural town log"):
        town_of_log(tmp_path)

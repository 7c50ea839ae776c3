"""The **lidar skeleton** of a log: a learning-free Gaussian scene from the log's coloured lidar points.

Every lidar point is coloured from the camera frame nearest in time that sees it; points inside an
actor's box (box enlarged by 0.25 m) go to that actor, in its box frame, the rest to the
background (points on the ego's own body are dropped); each set is averaged on a voxel grid
(0.3 m background, 0.1 m actors) and every voxel becomes one isotropic Gaussian (standard
deviation 0.6 voxel, opacity 0.95). The sky is the default gradient. It renders plausible views
near the logged path, with holes where the lidar saw nothing.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from jwmsim.errors import ConfigError
from jwmsim.gaussians.lidar_colours import colour_points
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel
from jwmsim.logs.segment import LogSegment

BUILDER_VERSION = "lidar-skeleton-v1"
BACKGROUND_VOXEL = 0.3  # [m]
EGO_BODY = ((-1.5, 4.5), (-1.3, 1.3), (-0.5, 2.5))  # [m] ego-frame box of the ego's own body, dropped
ACTOR_VOXEL = 0.1  # [m]
BOX_MARGIN = 0.25  # [m]
MIN_ACTOR_POINTS = 20


def _voxel_mean(points: np.ndarray, colors: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """Average positions ``[N, 3]`` and colours ``[N, 3]`` per voxel of size ``voxel``."""
    if len(points) == 0:
        return points, colors
    keys = np.floor(points / voxel).astype(np.int64)
    _, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    out_p = np.stack([np.bincount(inv, points[:, k]) for k in range(3)], 1) / counts[:, None]
    out_c = np.stack([np.bincount(inv, colors[:, k]) for k in range(3)], 1) / counts[:, None]
    return out_p, out_c


def _component(points: np.ndarray, colors: np.ndarray, voxel: float) -> GaussianComponent:
    p, c = _voxel_mean(points, colors, voxel)
    n = len(p)
    return GaussianComponent.from_values(
        torch.as_tensor(p, dtype=torch.float32),
        torch.full((n, 3), 0.6 * voxel),
        torch.full((n,), 0.95),
        torch.as_tensor(np.clip(c, 0.02, 0.98), dtype=torch.float32),
    )


def lidar_skeleton(segment: LogSegment, progress: bool = True, max_sweeps: int = 40) -> GaussianScene:
    """Build the lidar skeleton of ``segment`` (see the module docstring).

    Raises:
        ConfigError: the log has no lidar sweeps.
    """
    if not segment.lidar:
        raise ConfigError(
            f"log {segment.name!r} has no lidar sweeps, so no lidar skeleton can be built",
            hint="pass scene=<path of a saved GaussianScene>, or observation='log_frames' / 'none'",
        )
    step = max(1, len(segment.lidar) // max_sweeps)
    sweeps = segment.lidar[::step]
    bg_pts, bg_col = [], []
    act_pts: dict[str, list[np.ndarray]] = {}
    act_col: dict[str, list[np.ndarray]] = {}
    for sweep in tqdm(sweeps, desc=f"lidar skeleton {segment.name}", disable=not progress):
        pts_ego = sweep.points_ego()
        (x0, x1), (y0, y1), (z0, z1) = EGO_BODY
        body = (
            (pts_ego[:, 0] > x0)
            & (pts_ego[:, 0] < x1)
            & (pts_ego[:, 1] > y0)
            & (pts_ego[:, 1] < y1)
            & (pts_ego[:, 2] > z0)
            & (pts_ego[:, 2] < z1)
        )
        pts = sweep.world_from_ego.apply(pts_ego[~body])
        if len(pts) == 0:
            continue
        col, seen = colour_points(segment, pts, sweep.time)
        in_actor = np.zeros(len(pts), dtype=bool)
        for aid, tr in segment.tracks.items():
            if not tr.is_present(sweep.time):
                continue
            pose = tr.pose_at(sweep.time)
            w, length, h = tr.size_wlh
            near = np.flatnonzero(
                np.linalg.norm(pts[:, :2] - pose.translation[:2], axis=1)
                < 0.5 * np.hypot(w, length) + BOX_MARGIN
            )
            if len(near) == 0:
                continue
            local = pose.inverse().apply(pts[near])
            half = np.array([length, w, h]) / 2 + BOX_MARGIN
            inside = np.all(np.abs(local) <= half, axis=1)
            in_actor[near[inside]] = True
            keep = inside & seen[near]
            if keep.any():
                act_pts.setdefault(aid, []).append(local[keep])
                act_col.setdefault(aid, []).append(col[near[keep]])
        bg = seen & ~in_actor
        bg_pts.append(pts[bg])
        bg_col.append(col[bg])
    background = _component(np.concatenate(bg_pts), np.concatenate(bg_col), BACKGROUND_VOXEL)
    actors = {}
    for aid, parts in act_pts.items():
        p = np.concatenate(parts)
        if len(p) >= MIN_ACTOR_POINTS:
            actors[aid] = _component(p, np.concatenate(act_col[aid]), ACTOR_VOXEL)
    meta = {
        "source": segment.source,
        "log": segment.name,
        "method": BUILDER_VERSION,
        "sweeps": str(len(sweeps)),
    }
    return GaussianScene(background, actors, SkyModel.gradient(), meta)

"""The Gaussian scene a driving environment renders, cached per log.

``scene_for_log(segment, source)``:

* ``source`` is a path to a saved :class:`~jwmsim.gaussians.scene.GaussianScene` (``.safetensors``):
  that scene (e.g. a WorldRec reconstruction);
* ``source == "lidar"``: the **lidar skeleton** of the log (below), built on first use and cached
  under ``$JWMSIM_CACHE/scenes`` (default ``~/.cache/jwmsim/scenes``), keyed by the log's name,
  source, duration and the builder version, written atomically;
* ``source == "fit"``: a per-scene optimised scene (:func:`jwmsim.gaussians.fit.fit_scene` with its
  default :class:`~jwmsim.gaussians.fit.FitConfig`; minutes on a CPU), cached the same way.

The lidar skeleton is a learning-free stand-in until a trained reconstruction is available: every
lidar point is coloured from the camera frame nearest in time that sees it; points inside an
actor's box (box enlarged by 0.25 m) go to that actor, in its box frame, the rest to the
background (points on the ego's own body are dropped); each set is averaged on a voxel grid
(0.3 m background, 0.1 m actors) and every voxel
becomes one isotropic Gaussian (standard deviation 0.6 voxel, opacity 0.95). The sky is the default
gradient. It renders plausible views near the logged path, with holes where the lidar saw nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.gaussians.lidar_colours import colour_points
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel
from jwmsim.logs.segment import LogSegment

BUILDER_VERSION = "lidar-skeleton-v1"
SOURCES = {"lidar": BUILDER_VERSION, "fit": "fit-default-v2"}
BACKGROUND_VOXEL = 0.3  # [m]
EGO_BODY = ((-1.5, 4.5), (-1.3, 1.3), (-0.5, 2.5))  # [m] ego-frame box of the ego's own body, dropped
ACTOR_VOXEL = 0.1  # [m]
BOX_MARGIN = 0.25  # [m]
MIN_ACTOR_POINTS = 20


def cache_root() -> Path:
    """``$JWMSIM_CACHE/scenes`` or ``~/.cache/jwmsim/scenes``."""
    env = os.environ.get("JWMSIM_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "jwmsim") / "scenes"


def scene_cache_path(segment: LogSegment, method: str = "lidar") -> Path:
    """Cache file of the ``method`` (``"lidar"`` / ``"fit"``) scene of ``segment``."""
    key = f"{segment.name}|{segment.source}|{segment.start_us}|{segment.duration:.3f}|{SOURCES[method]}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in segment.name)
    return cache_root() / f"{safe}-{method}-{digest}.safetensors"


def scene_for_log(
    segment: LogSegment, source: str | os.PathLike[str] = "lidar", progress: bool = True
) -> GaussianScene:
    """The scene to render for ``segment`` (see the module docstring)."""
    method = str(source)
    if method not in SOURCES:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(
                f"Gaussian scene {path} does not exist",
                hint=f"pass the path of a saved GaussianScene, or one of {sorted(SOURCES)}",
            )
        return GaussianScene.load(path)
    path = scene_cache_path(segment, method)
    if path.is_file():
        try:
            return GaussianScene.load(path)
        except Exception:  # a corrupt cache entry is rebuilt, not trusted
            path.unlink(missing_ok=True)
    if method == "fit":
        from jwmsim.gaussians.fit import fit_scene

        scene, _ = fit_scene(segment, progress=progress)
    else:
        scene = lidar_skeleton(segment, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.save(path)
    return scene


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

"""A log held in memory for WorldRec (images at the model's size, camera matrices, lidar, tracks),
and the tensors of one window of context views.

A **view** is one image: ``(camera index, frame index)``. A **window** is a few time steps of the
log, all cameras at each; its views get a time index (position of the step in the window), which
the model embeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.lidar_skeleton import EGO_BODY
from jwmsim.geometry import SE3
from jwmsim.logs.segment import ActorTrack, LogSegment, category_kind


@dataclass(frozen=True)
class LidarFrame:
    """One sweep: ``points`` ``[P, 3]`` float32 world [m] (ego body removed), at ``time`` [s]."""

    time: float
    points: np.ndarray
    world_from_ego: np.ndarray  # [4, 4]


@dataclass(frozen=True)
class LogCache:
    """Everything WorldRec reads from a log, in memory.

    Attributes:
        name: log name. cameras: channel names, in order (index = camera index).
        image_hw: ``(H, W)`` of ``images`` [px].
        images: ``[C, F, H, W, 3]`` uint8 (F frames per camera).
        times: ``[C, F]`` frame times [s].
        world_from_cam: ``[C, F, 4, 4]`` float64 camera poses.
        world_from_ego: ``[C, F, 4, 4]`` float64 ego poses at the frame times.
        ks: ``[C, 3, 3]`` float64 intrinsics at ``image_hw``.
        lidar: sweeps sorted by time.
        tracks: non-static actor tracks by id.
    """

    name: str
    cameras: tuple[str, ...]
    image_hw: tuple[int, int]
    images: np.ndarray
    times: np.ndarray
    world_from_cam: np.ndarray
    world_from_ego: np.ndarray
    ks: np.ndarray
    lidar: tuple[LidarFrame, ...]
    tracks: dict[str, ActorTrack]

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[1])

    @classmethod
    def from_segment(
        cls,
        segment: LogSegment,
        image_hw: tuple[int, int],
        frames: Sequence[int] | None = None,
        lidar_frames: Sequence[int] | None = None,
    ) -> LogCache:
        """Load ``segment`` (all cameras; frames ``frames`` of each, default all) at ``image_hw``.

        Args:
            frames: frame indices to load; other frames (e.g. held out) are never read.
            lidar_frames: keep only the sweeps nearest in time to these frames (default: the sweeps
                nearest to ``frames``), so that held-out times contribute no lidar either.
        """
        cams = tuple(segment.camera_names)
        n = min(len(segment.frames[c]) for c in cams)
        idx = list(range(n)) if frames is None else [int(i) for i in frames]
        if not idx or max(idx) >= n or min(idx) < 0:
            raise ConfigError(f"log {segment.name}: frame indices must lie in [0, {n}), got {idx[:5]}...")
        images = np.stack([np.stack([segment.image(c, i, image_hw) for i in idx]) for c in cams])
        times = np.array([[segment.frames[c][i].time for i in idx] for c in cams])
        wfc = np.array(
            [[segment.frames[c][i].world_from_cam(segment.cameras[c]).matrix for i in idx] for c in cams]
        )
        wfe = np.array([[segment.frames[c][i].world_from_ego.matrix for i in idx] for c in cams])
        ks = np.stack([segment.intrinsics(c, image_hw).matrix for c in cams])
        keep_times = (
            times[0]
            if lidar_frames is None
            else np.array([segment.frames[cams[0]][i].time for i in lidar_frames])
        )
        sweeps = []
        if segment.lidar:
            sweep_times = np.array([s.time for s in segment.lidar])
            picks = sorted({int(np.argmin(np.abs(sweep_times - t))) for t in keep_times})
            for si in picks:
                if np.min(np.abs(keep_times - sweep_times[si])) > 0.15:
                    continue  # no sweep near this frame (e.g. a gap in the log)
                sweeps.append(_lidar_frame(segment.lidar[si]))
        tracks = {k: t for k, t in segment.tracks.items() if category_kind(t.category) != "static"}
        return cls(segment.name, cams, tuple(image_hw), images, times, wfc, wfe, ks, tuple(sweeps), tracks)


def _lidar_frame(sweep: object) -> LidarFrame:
    pts = np.asarray(sweep.points_ego(), dtype=np.float64)  # type: ignore[attr-defined]
    (x0, x1), (y0, y1), (z0, z1) = EGO_BODY
    body = (
        (pts[:, 0] > x0)
        & (pts[:, 0] < x1)
        & (pts[:, 1] > y0)
        & (pts[:, 1] < y1)
        & (pts[:, 2] > z0)
        & (pts[:, 2] < z1)
    )
    pose: SE3 = sweep.world_from_ego  # type: ignore[attr-defined]
    return LidarFrame(float(sweep.time), pose.apply(pts[~body]).astype(np.float32), pose.matrix)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WindowViews:
    """The context views of one window as tensors (float32).

    Attributes:
        images: ``[V, H, W, 3]`` in [0, 1].
        viewmats: ``[V, 4, 4]`` camera_from_world.
        ks: ``[V, 3, 3]`` at the image size.
        time_index: ``[V]`` long, position of the view's time step in the window.
        times: ``[V]`` float64 NumPy view times [s].
        ref_world_from_ego: ``[4, 4]`` NumPy ego pose of the window's middle step (its frame
            centres the anchor grid and the position encoding).
        sweeps: the lidar sweeps of the window.
    """

    images: torch.Tensor
    viewmats: torch.Tensor
    ks: torch.Tensor
    time_index: torch.Tensor
    times: np.ndarray
    ref_world_from_ego: np.ndarray
    sweeps: tuple[LidarFrame, ...]

    @property
    def num_views(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> WindowViews:
        """The same views with the tensors on ``device``."""
        return WindowViews(
            self.images.to(device),
            self.viewmats.to(device),
            self.ks.to(device),
            self.time_index.to(device),
            self.times,
            self.ref_world_from_ego,
            self.sweeps,
        )

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])


def window_views(cache: LogCache, frames: Sequence[int], cameras: Sequence[int] | None = None) -> WindowViews:
    """Views of ``cameras`` (indices, default all) at the frame indices ``frames`` (of the cache)."""
    cams = list(range(len(cache.cameras))) if cameras is None else list(cameras)
    frames = [int(f) for f in frames]
    pairs = [(c, f, ti) for ti, f in enumerate(frames) for c in cams]
    imgs = np.stack([cache.images[c, f] for c, f, _ in pairs])
    wfc = np.stack([cache.world_from_cam[c, f] for c, f, _ in pairs])
    times = np.array([cache.times[c, f] for c, f, _ in pairs])
    mid = frames[len(frames) // 2]
    sweeps = ()
    if cache.lidar:  # the sweep nearest to each context step (within 60 ms), not everything between
        st = np.array([s.time for s in cache.lidar])
        picks = sorted({int(np.argmin(np.abs(st - cache.times[0, f]))) for f in frames})
        sweeps = tuple(
            cache.lidar[i] for i in picks if np.min(np.abs(cache.times[0, frames] - st[i])) <= 0.06
        )
    return WindowViews(
        images=torch.from_numpy(imgs).float() / 255.0,
        viewmats=torch.from_numpy(np.linalg.inv(wfc)).float(),
        ks=torch.from_numpy(np.stack([cache.ks[c] for c, _, _ in pairs])).float(),
        time_index=torch.tensor([ti for _, _, ti in pairs], dtype=torch.long),
        times=times,
        ref_world_from_ego=cache.world_from_ego[0, mid],
        sweeps=sweeps,
    )

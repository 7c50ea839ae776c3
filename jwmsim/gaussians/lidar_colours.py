"""Colour lidar points from the camera images: the common start of the lidar skeleton
(:mod:`jwmsim.scenes.sources`) and of per-scene fitting (:mod:`jwmsim.gaussians.fit`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jwmsim.logs.segment import LogSegment

MIN_DEPTH = 0.5  # [m] points closer to a camera than this are not coloured by it


def colour_points(
    log: LogSegment,
    points_world: np.ndarray,
    time: float,
    cameras: Sequence[str] | None = None,
    size_hw: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour world points by the camera frames nearest in time to ``time``.

    The first camera (in ``cameras`` order, default the log's) whose image contains a point, at
    least :data:`MIN_DEPTH` in front of it, gives its colour (nearest pixel).

    Args:
        points_world: ``[N, 3]`` world points [m].
        size_hw: image size to sample at (None: native resolution).

    Returns:
        ``colors`` ``[N, 3]`` float64 in [0, 1] (0 where unseen) and ``seen`` ``[N]`` bool.
    """
    pts = np.asarray(points_world, dtype=np.float64)
    seen = np.zeros(len(pts), dtype=bool)
    colors = np.zeros((len(pts), 3))
    for cam in cameras if cameras is not None else log.camera_names:
        todo = np.flatnonzero(~seen)
        if len(todo) == 0:
            break
        fi = log.nearest_frame(cam, time)
        frame = log.frames[cam][fi]
        k = log.intrinsics(cam, size_hw)
        uv, z = k.project(frame.world_from_cam(log.cameras[cam]).inverse().apply(pts[todo]))
        ok = (z > MIN_DEPTH) & k.in_image(uv)
        if not ok.any():
            continue
        img = log.image(cam, fi, size_hw)
        px = np.clip(np.round(uv[ok]).astype(int), 0, [k.width - 1, k.height - 1])
        colors[todo[ok]] = img[px[:, 1], px[:, 0]] / 255.0
        seen[todo[ok]] = True
    return colors, seen

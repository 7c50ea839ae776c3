"""Small in-memory logs for the pure simulation tests (no images: frame paths point nowhere).

Imported by the tests of this folder as ``sim_logs`` (pytest puts the folder on sys.path).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.segment import ActorTrack, Camera, CameraFrame, LogSegment

LANE_W = 3.5
# a forward-looking camera 1.5 m ahead of the rear axle, 1.5 m up (OpenCV axes -> ego axes)
FRONT_CAMERA = SE3(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), np.array([1.5, 0.0, 1.5]))


def make_log(
    ego_xy_yaw: Callable[[float], tuple[float, float, float]],
    duration: float = 6.0,
    tracks: dict[str, ActorTrack] | None = None,
    drivable=None,
    lanes: dict[str, np.ndarray] | None = None,
    name: str = "test",
) -> LogSegment:
    """A log whose ego follows ``ego_xy_yaw(t)`` at 10 Hz for ``duration`` seconds."""
    times = tuple(float(t) for t in np.round(np.arange(0.0, duration + 1e-9, 0.1), 6))
    poses = tuple(SE3.from_xy_yaw(*ego_xy_yaw(t)) for t in times)
    cam = Camera("CAM_FRONT", CameraIntrinsics(100.0, 100.0, 63.5, 35.5, 128, 72), FRONT_CAMERA)
    frames = {
        "CAM_FRONT": tuple(
            CameraFrame("CAM_FRONT", t, p, Path("/nonexistent/img.jpg"))
            for t, p in zip(times, poses, strict=True)
        )
    }
    return LogSegment(
        name,
        0,
        duration,
        {"CAM_FRONT": cam},
        frames,
        times,
        poses,
        tracks or {},
        (),
        drivable,
        lanes or {},
        "tests/sim",
    )


def straight_track(
    tid: str,
    x0: float,
    y: float,
    speed: float,
    duration: float = 6.0,
    category: str = "vehicle.car",
    size=(1.9, 4.6, 1.6),
    t_start: float = 0.0,
    t_end: float | None = None,
) -> ActorTrack:
    """An actor moving along +x at ``speed`` on the line ``y``, annotated at 2 Hz."""
    t_end = duration if t_end is None else t_end
    kt = np.arange(t_start, t_end + 1e-9, 0.5)
    return ActorTrack(
        tid,
        category,
        size,
        tuple(float(t) for t in kt),
        tuple(SE3.from_xy_yaw(x0 + speed * t, y, 0.0, 0.8) for t in kt),
    )


def straight_road(
    with_lanes: bool = True,
    tracks: dict[str, ActorTrack] | None = None,
    speed: float = 10.0,
    duration: float = 6.0,
) -> LogSegment:
    """Two lanes along +x: the ego's at y = 0 and one to its left at y = 3.5; the drivable area
    spans y in [-1.75, 5.25]. The ego drives at ``speed`` along y = 0."""
    area = shapely.box(-300.0, -LANE_W / 2, 600.0, 1.5 * LANE_W)
    xs = np.linspace(-300.0, 600.0, 901)
    lanes = {
        "lane_0": np.stack([xs, np.zeros_like(xs)], 1),
        "lane_1": np.stack([xs, np.full_like(xs, LANE_W)], 1),
    }
    return make_log(
        lambda t: (speed * t, 0.0, 0.0),
        duration,
        tracks,
        area,
        lanes if with_lanes else None,
        name="straight",
    )


def curve_road(radius: float = 40.0, speed: float = 8.0, duration: float = 6.0) -> LogSegment:
    """The ego on a left-hand circular arc of ``radius`` centred at (0, radius); no lane map; the
    drivable area is the annulus one lane either side."""

    def pose(t: float) -> tuple[float, float, float]:
        a = speed * t / radius
        return radius * math.sin(a), radius * (1 - math.cos(a)), a

    ring = (
        shapely.Point(0.0, radius)
        .buffer(radius + LANE_W * 1.5, 256)
        .difference(shapely.Point(0.0, radius).buffer(radius - LANE_W * 1.5, 256))
    )
    return make_log(pose, duration, {}, ring, None, name="curve")

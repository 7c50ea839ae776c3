"""Fixtures of the scenario tests: a small in-memory log with a three-lane road."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from jwmsim.geometry import SE3
from jwmsim.logs.segment import ActorTrack, LogSegment


def _track(instance_id: str, category: str, xs: list[float], y: float, yaw: float = 0.0) -> ActorTrack:
    times = tuple(float(t) for t in range(len(xs)))
    return ActorTrack(
        instance_id, category, (1.9, 4.5, 1.6), times, tuple(SE3.from_xy_yaw(x, y, yaw) for x in xs)
    )


@pytest.fixture(scope="session")
def toy_log() -> LogSegment:
    return make_toy_log()


def make_toy_log() -> LogSegment:
    """10 s along +x at 10 m/s on lane ``main`` (y = 0), with ``fast`` to its left (y = 3.5) and
    ``back`` (y = 7, running -x) beyond; a car ahead and a pedestrian on the right sidewalk."""
    x = np.linspace(-100.0, 300.0, 81)
    lanes = {
        "main": np.stack([x, np.zeros_like(x)], 1),
        "fast": np.stack([x, np.full_like(x, 3.5)], 1),
        "back": np.stack([x[::-1], np.full_like(x, 7.0)], 1),
    }
    times = tuple(i * 0.5 for i in range(21))
    return LogSegment(
        name="toy-road",
        start_us=0,
        duration=10.0,
        cameras={},
        frames={},
        ego_times=times,
        ego_poses=tuple(SE3.from_xy_yaw(10.0 * t, 0.0, 0.0) for t in times),
        tracks={
            "car_ahead": _track("car_ahead", "vehicle.car", [30 + 8 * t for t in range(11)], 0.0),
            "walker_1": _track("walker_1", "human.pedestrian.adult", [60.0] * 11, -5.0, 1.57),
        },
        drivable_area=shapely.box(-100, -1.75, 300, 8.75),
        lanes=lanes,
        source="tests",
    )

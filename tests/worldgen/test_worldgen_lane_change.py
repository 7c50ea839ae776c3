"""The closed-loop lane change of the WorldGen evaluation set (jwmsim.worldgen.training.lane_change)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from jwmsim.config import VehicleLimits
from jwmsim.geometry import SE3
from jwmsim.worldgen.training.lane_change import closed_loop_lane_change

SPEED = 10.0  # [m/s]


def straight_log(t: float) -> SE3:
    """A log driving along +x at SPEED from x = 0."""
    return SE3.from_xy_yaw(SPEED * t, 0.0, 0.0)


def curved_log(t: float) -> SE3:
    """A log on a circle of radius 60 m, counter-clockwise at SPEED."""
    r = 60.0
    a = SPEED * t / r
    return SE3.from_xy_yaw(r * math.sin(a), r * (1.0 - math.cos(a)), a)


@pytest.mark.parametrize("lateral", [3.5, -3.5])
def test_reaches_the_other_lane_and_settles(lateral: float) -> None:
    off = closed_loop_lane_change(straight_log, lambda t: SPEED, 0.0, 41, lateral)
    assert off.label == "closed-loop"
    assert off.shift_m[0] == 0.0 and off.yaw_rad[0] == 0.0
    assert abs(off.shift_m[-1] - lateral) < 0.2  # in the target lane after 4 s
    assert abs(off.yaw_rad[-1]) < math.radians(1.0)  # heading back along the lane
    # the move goes one way, with the heading turned towards it while it lasts
    assert np.all(np.sign(lateral) * np.diff(off.shift_m) > -0.02)
    assert np.sign(lateral) * off.yaw_rad[5] > math.radians(3.0)
    assert abs(off.ahead_m).max() < 1.0  # the speed controller keeps it near the logged position


@pytest.mark.parametrize("lateral", [3.5, -3.5])
def test_follows_a_curved_lane(lateral: float) -> None:
    """On a circular log of radius 60 m the ego ends on the concentric lane of radius 60 - lateral,
    heading along it (at the logged speed it runs ahead of / behind the logged pose there)."""
    off = closed_loop_lane_change(curved_log, lambda t: SPEED, 0.0, 41, lateral)
    end = off.pose(curved_log(4.0), 40)
    x, y = end.translation[:2]
    radius = math.hypot(x, y - 60.0)
    assert abs(radius - (60.0 - lateral)) < 0.25
    tangent = math.atan2(y - 60.0, x) + math.pi / 2
    assert abs(math.remainder(end.yaw - tangent, 2 * math.pi)) < math.radians(4.0)  # still settling after 4 s


def test_poses_follow_the_bicycle_model() -> None:
    """Step to step, the rendered poses move by at most speed x dt and turn no faster than the
    steering limit allows at that speed."""
    lim = VehicleLimits()
    off = closed_loop_lane_change(straight_log, lambda t: SPEED, 0.0, 26, 3.5)
    poses = [off.pose(straight_log(0.1 * k), k) for k in range(26)]
    xy = np.array([p.translation[:2] for p in poses])
    yaw = np.array([p.yaw for p in poses])
    step = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    assert np.all(step < SPEED * 0.1 * 1.02) and np.all(step > SPEED * 0.1 * 0.9)
    max_rate = SPEED * math.tan(lim.max_steer) / lim.wheelbase
    assert np.all(np.abs(np.diff(yaw)) <= max_rate * 0.1 + 1e-6)


def test_is_feedback_not_a_script() -> None:
    """A slower steering actuator changes the path the controller produces (a scripted curve would
    not notice), and the controller still gets there."""
    fast = closed_loop_lane_change(straight_log, lambda t: SPEED, 0.0, 61, 3.5)
    slow = closed_loop_lane_change(
        straight_log, lambda t: SPEED, 0.0, 61, 3.5, limits=replace(VehicleLimits(), max_steer_rate=0.15)
    )
    assert not np.allclose(fast.shift_m, slow.shift_m, atol=0.05)
    assert slow.shift_m[8] < fast.shift_m[8]  # the slow actuator lags
    assert abs(slow.shift_m[-1] - 3.5) < 0.4

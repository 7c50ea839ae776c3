"""A closed-loop lane change for the WorldGen evaluation set.

The ego is driven by the simulator's kinematic bicycle model (:func:`jwmsim.sim.dynamics.bicycle_step`,
the environment's vehicle limits) under a feedback controller that is told, at the first step, to
move to the lane ``lateral_m`` to the side of the logged path: pure-pursuit steering towards a
look-ahead point on the logged path shifted by ``lateral_m``, and a proportional speed controller
that tracks the logged speed. Each step's control is computed from the state the previous step's
control produced, so the path (its overshoot, its lag, the heading it takes) is the controller's
and the dynamics', not a scripted curve.

The result is expressed as :class:`~jwmsim.worldgen.training.perturb.EgoOffsets` in the logged ego frame of
the same log time (sideways shift, yaw and the small longitudinal difference ``ahead_m``), so that
clip writers render exactly the simulated poses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jwmsim.config import VehicleLimits
from jwmsim.geometry import SE3, wrap_angle
from jwmsim.sim.dynamics import bicycle_step
from jwmsim.sim.state import EgoState
from jwmsim.worldgen.training.perturb import EgoOffsets


@dataclass(frozen=True)
class LaneChangeController:
    """Gains of the lane-change controller.

    Attributes:
        lookahead_s: pure-pursuit look-ahead time [s] (distance = speed x time).
        min_lookahead_m: shortest look-ahead distance [m].
        speed_gain: proportional gain of the speed controller [1/s].
    """

    lookahead_s: float = 0.9
    min_lookahead_m: float = 4.0
    speed_gain: float = 1.5


def reference_path(
    log_pose_at: Callable[[float], SE3],
    t_start: float,
    t_end: float,
    lateral_m: float,
    extend_m: float = 40.0,
) -> np.ndarray:
    """The logged path from ``t_start`` to ``t_end`` [s], shifted ``lateral_m`` to the left of the
    logged heading and extended straight by ``extend_m`` beyond its end: ``[N, 2]`` world xy [m]."""
    times = np.arange(t_start, t_end + 1e-9, 0.02)
    pts = []
    for t in times:
        p = log_pose_at(float(t))
        pts.append(p.apply(np.array([[0.0, lateral_m, 0.0]]))[0, :2])
    last = log_pose_at(float(t_end))
    for d in np.arange(1.0, extend_m + 1e-9, 1.0):
        pts.append(last.apply(np.array([[d, lateral_m, 0.0]]))[0, :2])
    return np.asarray(pts)


def pure_pursuit_steer(ego: EgoState, path_xy: np.ndarray, lookahead_m: float, wheelbase: float) -> float:
    """Front-wheel angle [rad] that steers the rear axle onto the point ``lookahead_m`` ahead along
    ``path_xy`` ``[N, 2]`` of the path point nearest the ego."""
    d = np.linalg.norm(path_xy - np.array([ego.x, ego.y]), axis=1)
    i = int(np.argmin(d))
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path_xy[i:], axis=0), axis=1))])
    j = i + int(np.searchsorted(cum, lookahead_m))
    tx, ty = path_xy[min(j, len(path_xy) - 1)]
    c, s = math.cos(ego.yaw), math.sin(ego.yaw)
    dx, dy = tx - ego.x, ty - ego.y
    lx, ly = c * dx + s * dy, -s * dx + c * dy  # target in the ego frame
    dist2 = max(lx * lx + ly * ly, 1e-6)
    return math.atan(2.0 * wheelbase * ly / dist2)


def closed_loop_lane_change(
    log_pose_at: Callable[[float], SE3],
    log_speed_at: Callable[[float], float],
    t0: float,
    steps: int,
    lateral_m: float,
    dt: float = 0.1,
    limits: VehicleLimits | None = None,
    controller: LaneChangeController = LaneChangeController(),
) -> EgoOffsets:
    """Drive a lane change of ``lateral_m`` [m] (+ left) in closed loop from the logged state at
    ``t0`` [s] for ``steps`` steps of ``dt`` [s].

    Args:
        log_pose_at: ``t -> world_from_ego`` of the log (held at its ends).
        log_speed_at: ``t -> speed`` [m/s] of the log.

    Returns:
        Offsets ``[steps]`` of the simulated poses in the logged ego frame at each step's log time
        (step 0 is the logged pose itself), label ``"closed-loop"``.
    """
    lim = limits if limits is not None else VehicleLimits()
    t_end = t0 + (steps - 1) * dt
    path = reference_path(log_pose_at, t0, t_end, lateral_m)
    start = log_pose_at(t0)
    ego = EgoState(
        x=float(start.translation[0]),
        y=float(start.translation[1]),
        yaw=start.yaw,
        speed=float(log_speed_at(t0)),
        z=float(start.translation[2]),
    )
    shift, yaw, ahead = [0.0], [0.0], [0.0]
    for k in range(1, steps):
        t = t0 + k * dt
        look = max(controller.min_lookahead_m, controller.lookahead_s * ego.speed)
        steer = pure_pursuit_steer(ego, path, look, lim.wheelbase)
        accel = controller.speed_gain * (float(log_speed_at(t)) - ego.speed)
        ego = bicycle_step(ego, accel, steer, dt, lim)
        log = log_pose_at(t)
        rel = log.inverse() @ SE3.from_xy_yaw(ego.x, ego.y, ego.yaw, float(log.translation[2]))
        ahead.append(float(rel.translation[0]))
        shift.append(float(rel.translation[1]))
        yaw.append(float(wrap_angle(ego.yaw - log.yaw)))
    return EgoOffsets(
        np.asarray(shift, np.float32),
        np.asarray(yaw, np.float32),
        "closed-loop",
        ahead_m=np.asarray(ahead, np.float32),
    )

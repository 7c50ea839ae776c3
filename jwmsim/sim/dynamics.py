"""Kinematic bicycle model about the rear axle, and its inverse.

State ``(x, y, yaw, v)``, controls acceleration ``a`` [m/s^2] and front-wheel angle ``delta``
[rad], wheelbase ``L``. One step of length ``dt`` (exact inverse below):

* ``v' = clip(v + a dt, 0, v_max)``; the acceleration actually applied is ``(v' - v) / dt``
  (braking stops the car, it never reverses);
* ``v_mid = (v + v') / 2``, ``yaw_rate = v_mid tan(delta) / L``, ``yaw' = yaw + yaw_rate dt``;
* ``x' = x + v_mid dt cos((yaw + yaw') / 2)``, likewise ``y``.

The steering angle is clipped to ``+-max_steer`` and its change per step to ``max_steer_rate dt``.
"""

from __future__ import annotations

import math

import numpy as np

from jwmsim.config import VehicleLimits
from jwmsim.geometry import wrap_angle
from jwmsim.sim.state import EgoState


def bicycle_step(ego: EgoState, accel: float, steer: float, dt: float, limits: VehicleLimits) -> EgoState:
    """Advance the ego one step with physical controls (clipped to ``limits``).

    Args:
        accel: requested longitudinal acceleration [m/s^2].
        steer: requested front-wheel angle [rad].
        dt: step [s].
    """
    accel = min(max(accel, -limits.max_decel), limits.max_accel)
    max_delta = limits.max_steer_rate * dt
    steer = min(max(steer, ego.steer - max_delta, -limits.max_steer), ego.steer + max_delta, limits.max_steer)
    v0 = ego.speed
    v1 = min(max(v0 + accel * dt, 0.0), limits.max_speed)
    v_mid = 0.5 * (v0 + v1)
    yaw_rate = v_mid * math.tan(steer) / limits.wheelbase
    yaw1 = ego.yaw + yaw_rate * dt
    yaw_mid = 0.5 * (ego.yaw + yaw1)
    return EgoState(
        x=ego.x + v_mid * dt * math.cos(yaw_mid),
        y=ego.y + v_mid * dt * math.sin(yaw_mid),
        yaw=float(wrap_angle(yaw1)),
        speed=v1,
        accel=(v1 - v0) / dt,
        steer=steer,
        yaw_rate=yaw_rate,
        lat_accel=v_mid * yaw_rate,
        z=ego.z,
    )


def inverse_bicycle(
    yaw: np.ndarray, speed: np.ndarray, dt: float, wheelbase: float, min_speed: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Controls that take the bicycle model through given headings and speeds.

    Exact inverse of :func:`bicycle_step` (without clipping): rolling the model out from the first
    state with these controls reproduces ``yaw`` and ``speed`` (and hence the positions).

    Args:
        yaw: ``[T]`` headings [rad]; speed: ``[T]`` speeds [m/s] (>= 0).
        min_speed: below this mean speed over a step the steering is undetermined and set to 0.

    Returns:
        ``accel`` ``[T-1]`` [m/s^2] and ``steer`` ``[T-1]`` [rad].
    """
    yaw = np.asarray(yaw, dtype=np.float64)
    speed = np.asarray(speed, dtype=np.float64)
    accel = np.diff(speed) / dt
    v_mid = 0.5 * (speed[1:] + speed[:-1])
    dyaw = np.asarray(wrap_angle(np.diff(yaw)))
    with np.errstate(divide="ignore", invalid="ignore"):
        steer = np.where(v_mid > min_speed, np.arctan(wheelbase * dyaw / (dt * v_mid)), 0.0)
    return accel, steer


def states_from_poses(xy: np.ndarray, yaw: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Speeds and headings for a logged trajectory sampled every ``dt``.

    The mean speed over step k is the displacement along the mean heading divided by ``dt``
    (clipped at 0: the model does not reverse); node speeds average the mean speeds of the two
    steps around them (the ends take their one step's). Smooth, and robust to position noise;
    a rollout of :func:`actions_from_poses` then follows the log to centimetres over seconds.

    Args:
        xy: ``[T, 2]`` rear-axle positions [m]; yaw: ``[T]`` headings [rad].

    Returns:
        ``yaw`` ``[T]`` (unchanged) and ``speed`` ``[T]`` [m/s].
    """
    xy = np.asarray(xy, dtype=np.float64)
    yaw = np.asarray(yaw, dtype=np.float64)
    if len(xy) < 2:
        return yaw, np.zeros(len(xy))
    yaw_mid = yaw[:-1] + 0.5 * np.asarray(wrap_angle(np.diff(yaw)))
    disp = np.diff(xy, axis=0)
    v_mid = np.maximum(0.0, (disp[:, 0] * np.cos(yaw_mid) + disp[:, 1] * np.sin(yaw_mid)) / dt)
    speed = np.concatenate([[v_mid[0]], 0.5 * (v_mid[:-1] + v_mid[1:]), [v_mid[-1]]])
    return yaw, speed


def actions_from_poses(
    xy: np.ndarray, yaw: np.ndarray, dt: float, limits: VehicleLimits
) -> tuple[np.ndarray, np.ndarray]:
    """Physical controls ``(accel [T-1], steer [T-1])`` expressing a logged ego trajectory."""
    yaw, speed = states_from_poses(xy, yaw, dt)
    return inverse_bicycle(yaw, speed, dt, limits.wheelbase)

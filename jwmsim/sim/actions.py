"""Ego actions: the normalised (acceleration, steering) box and the waypoint option.

Normalised action ``[a_n, delta_n]`` in ``[-1, 1]^2``:

* acceleration, asymmetric: ``a = a_n * max_accel`` for ``a_n >= 0`` and ``a_n * max_decel`` below
  0 (defaults +4 / -8 m/s^2: +1 is full throttle, -1 full braking);
* steering: ``delta = delta_n * max_steer`` (default 0.6 rad front-wheel angle, left positive).

Waypoint action: ``K`` points ``[K, 2]`` (or flat ``[2K]``), normalised to ``[-1, 1]`` (clipped),
the ego's intended positions ``waypoint_dt, 2 waypoint_dt, ...`` seconds ahead (NeuroNCAP style).
:func:`denormalise_waypoints` maps them linearly onto the ego-frame metre ranges of the action spec
(``SimConfig.waypoint_x_range``, default x forward in [-5, 60] m, and ``waypoint_y_range``, y left
in [-20, 20] m: -1 is the low end, +1 the high end); :func:`normalise_waypoints` is its inverse for
planners that think in metres. :func:`track_waypoints` turns metre waypoints into physical
controls: pure pursuit for the steering (look-ahead ``max(3 m, 0.8 s * speed)`` along the waypoint
polyline) and a proportional speed controller towards the speed implied by the first waypoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from jwmsim.config import SimConfig, VehicleLimits
from jwmsim.errors import JwmsimError
from jwmsim.registry import Registry
from jwmsim.sim.state import EgoState

SPEED_GAIN = 1.5  # [1/s] of the waypoint speed controller
LOOKAHEAD_TIME = 0.8  # [s]
MIN_LOOKAHEAD = 3.0  # [m]


class ActionError(JwmsimError, ValueError):
    """An action has the wrong shape, is not finite, or cannot be interpreted."""


def validate_action(action: object, config: SimConfig) -> np.ndarray:
    """Check an action against ``config.action_type`` (:data:`ACTION_TYPES`); return it as float64.

    Returns:
        ``[2]`` (accel_steer) or ``[K, 2]`` (normalised waypoints), clipped to [-1, 1].

    Raises:
        ActionError: wrong shape or non-finite values.
    """
    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ActionError(
            f"action {action!r} is not numeric", hint="pass a float array (numpy or list)"
        ) from None
    arr = action_type(config).shaped(arr, config)
    if not np.all(np.isfinite(arr)):
        raise ActionError(
            f"action contains NaN or infinity: {arr.tolist()}", hint="check the policy's output"
        )
    return np.clip(arr, -1.0, 1.0)


def denormalise(action: np.ndarray, limits: VehicleLimits) -> tuple[float, float]:
    """``[2]`` normalised action -> ``(accel [m/s^2], steer [rad])``."""
    a_n, d_n = float(action[0]), float(action[1])
    accel = a_n * (limits.max_accel if a_n >= 0 else limits.max_decel)
    return accel, d_n * limits.max_steer


def normalise(accel: np.ndarray | float, steer: np.ndarray | float, limits: VehicleLimits) -> np.ndarray:
    """Physical controls -> normalised ``[..., 2]`` actions (clipped to [-1, 1])."""
    accel = np.asarray(accel, dtype=np.float64)
    a_n = np.where(accel >= 0, accel / limits.max_accel, accel / limits.max_decel)
    d_n = np.asarray(steer, dtype=np.float64) / limits.max_steer
    return np.clip(np.stack([a_n, d_n], -1), -1.0, 1.0)


def _ranges(config: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([config.waypoint_x_range[0], config.waypoint_y_range[0]])
    hi = np.array([config.waypoint_x_range[1], config.waypoint_y_range[1]])
    return lo, hi


def denormalise_waypoints(action: np.ndarray, config: SimConfig) -> np.ndarray:
    """Normalised waypoints ``[..., 2]`` in [-1, 1] -> ego-frame metres ``[..., 2]`` (x, y) [m]."""
    lo, hi = _ranges(config)
    return lo + (np.asarray(action, dtype=np.float64) + 1.0) * 0.5 * (hi - lo)


def normalise_waypoints(points: np.ndarray, config: SimConfig) -> np.ndarray:
    """Ego-frame metre waypoints ``[..., 2]`` (x, y) [m] -> the normalised action ``[..., 2]``,
    clipped to [-1, 1] (points outside the action spec's ranges land on its border)."""
    lo, hi = _ranges(config)
    return np.clip(2.0 * (np.asarray(points, dtype=np.float64) - lo) / (hi - lo) - 1.0, -1.0, 1.0)


def track_waypoints(
    ego: EgoState, waypoints: np.ndarray, waypoint_dt: float, limits: VehicleLimits
) -> tuple[float, float]:
    """Physical controls ``(accel, steer)`` following ego-frame waypoints ``[K, 2]`` [m].

    The rear-axle pure-pursuit law: ``delta = atan(2 L y / l^2)`` for the look-ahead point
    ``(x, y)`` at distance ``l``; waypoints behind the ego (x <= 0) steer nowhere (delta = 0).
    """
    wp = np.asarray(waypoints, dtype=np.float64)
    path = np.concatenate([np.zeros((1, 2)), wp])
    seg = np.hypot(*np.diff(path, axis=0).T)
    target_speed = float(seg[0]) / waypoint_dt
    accel = SPEED_GAIN * (target_speed - ego.speed)
    lookahead = max(MIN_LOOKAHEAD, LOOKAHEAD_TIME * ego.speed)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] < 1e-6:
        return accel, 0.0
    if lookahead <= cum[-1]:
        i = int(np.searchsorted(cum, lookahead, side="right") - 1)
        i = min(i, len(seg) - 1)
        f = (lookahead - cum[i]) / max(seg[i], 1e-9)
        point = path[i] + f * (path[i + 1] - path[i])
    else:  # extend the last segment straight
        direction = path[-1] - path[-2] if seg[-1] > 1e-9 else path[-1]
        norm = float(np.hypot(*direction))
        point = path[-1] + (lookahead - cum[-1]) * direction / max(norm, 1e-9)
    x, y = float(point[0]), float(point[1])
    if x <= 0.0:
        return accel, 0.0
    dist2 = x * x + y * y
    steer = math.atan(2.0 * limits.wheelbase * y / dist2)
    return accel, steer


def controls_from_action(action: np.ndarray, ego: EgoState, config: SimConfig) -> tuple[float, float]:
    """A validated action -> physical ``(accel, steer)``."""
    return action_type(config).to_controls(action, ego, config)


def normalised_action(accel: float, steer: float, config: SimConfig) -> np.ndarray:
    """``[2]`` normalised (acceleration, steering) in [-1, 1] for physical controls [m/s^2, rad]."""
    lim = config.vehicle
    a = accel / lim.max_accel if accel >= 0 else accel / lim.max_decel
    return np.clip(np.array([a, steer / lim.max_steer]), -1.0, 1.0)


def waypoints_along(ego: EgoState, path_xy: np.ndarray, speeds: np.ndarray, config: SimConfig) -> np.ndarray:
    """The normalised waypoint action ``[K, 2]`` for the ego-frame points at ``k * waypoint_dt`` s
    along a path ``[N, 2]`` (world xy, from the ego onwards) driven at ``speeds`` ``[K]`` [m/s]
    (constant within each interval)."""
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path_xy, axis=0), axis=1))])
    dist = np.cumsum(speeds * config.waypoint_dt)
    x = np.interp(dist, cum, path_xy[:, 0])
    y = np.interp(dist, cum, path_xy[:, 1])
    c, s = math.cos(ego.yaw), math.sin(ego.yaw)
    dx, dy = x - ego.x, y - ego.y
    return normalise_waypoints(np.stack([c * dx + s * dy, -s * dx + c * dy], -1), config)


# --- action types ---------------------------------------------------------------------------------
PathFn = Callable[[], np.ndarray]  # () -> world xy [N, 2] of the path ahead, from the ego on


class ActionType(Protocol):
    """One format of the ego's action, chosen by ``SimConfig.action_type``: it knows its size,
    its shape, how it becomes physical controls and how a planner's controls become it."""

    name: str

    def size(self, config: SimConfig) -> int:
        """Length of the flat ``Box(-1, 1)`` action."""
        ...

    def shaped(self, arr: np.ndarray, config: SimConfig) -> np.ndarray:
        """``arr`` in this type's shape; :class:`ActionError` when it cannot be."""
        ...

    def to_controls(self, action: np.ndarray, ego: EgoState, config: SimConfig) -> tuple[float, float]:
        """A validated action -> physical ``(accel [m/s^2], steer [rad])``."""
        ...

    def encode(
        self, accel: float, steer: float, ego: EgoState, config: SimConfig, path: PathFn | None = None
    ) -> np.ndarray:
        """A planner's controls as this type's action; ``path`` (called only when needed) gives
        the path it follows (None: straight ahead along the ego's heading)."""
        ...


@dataclass(frozen=True)
class AccelSteer:
    """``[2]`` normalised (acceleration, steering) in [-1, 1] (see the module docstring)."""

    name: str = "accel_steer"

    def size(self, config: SimConfig) -> int:
        return 2

    def shaped(self, arr: np.ndarray, config: SimConfig) -> np.ndarray:
        if arr.shape not in ((2,), (1, 2)):
            raise ActionError(
                f"action has shape {arr.shape}; action_type 'accel_steer' needs shape (2,)",
                hint="pass [acceleration, steering], each in [-1, 1]",
            )
        return arr.reshape(2)

    def to_controls(self, action: np.ndarray, ego: EgoState, config: SimConfig) -> tuple[float, float]:
        return denormalise(action, config.vehicle)

    def encode(
        self, accel: float, steer: float, ego: EgoState, config: SimConfig, path: PathFn | None = None
    ) -> np.ndarray:
        return normalised_action(accel, steer, config)


@dataclass(frozen=True)
class Waypoints:
    """``[K, 2]`` normalised ego-frame waypoints ``waypoint_dt`` s apart (see the module docstring);
    controls become waypoints along the planner's path at the speeds its acceleration gives."""

    name: str = "waypoints"

    def size(self, config: SimConfig) -> int:
        return 2 * config.num_waypoints

    def shaped(self, arr: np.ndarray, config: SimConfig) -> np.ndarray:
        k = config.num_waypoints
        if arr.shape == (2 * k,):
            arr = arr.reshape(k, 2)
        if arr.shape != (k, 2):
            raise ActionError(
                f"action has shape {arr.shape}; action_type 'waypoints' needs ({k}, 2) or ({2 * k},)",
                hint=f"pass {k} normalised ego-frame points (x forward, y left) in [-1, 1], "
                f"{config.waypoint_dt} s apart (normalise_waypoints maps metres to them)",
            )
        return arr

    def to_controls(self, action: np.ndarray, ego: EgoState, config: SimConfig) -> tuple[float, float]:
        return track_waypoints(ego, denormalise_waypoints(action, config), config.waypoint_dt, config.vehicle)

    def encode(
        self, accel: float, steer: float, ego: EgoState, config: SimConfig, path: PathFn | None = None
    ) -> np.ndarray:
        speeds, v = [], ego.speed
        for _ in range(config.num_waypoints):
            v = max(0.0, v + accel * config.waypoint_dt)
            speeds.append(v)
        if path is None:
            k = np.arange(1, config.num_waypoints + 1)
            if accel == 0.0:  # coasting straight: the points are exact
                ahead = np.stack([k * config.waypoint_dt * ego.speed, np.zeros(len(k))], -1)  # [m]
                return normalise_waypoints(ahead, config)
            reach = 1.0 + float(np.sum(speeds)) * config.waypoint_dt
            line = np.linspace(0.0, reach, 2)
            xy = np.stack([ego.x + line * math.cos(ego.yaw), ego.y + line * math.sin(ego.yaw)], -1)
        else:
            xy = path()
        return waypoints_along(ego, xy, np.asarray(speeds), config)


ACTION_TYPES: Registry[ActionType] = Registry("action type")
ACTION_TYPES.add("accel_steer", AccelSteer())
ACTION_TYPES.add("waypoints", Waypoints())


def action_type(config: SimConfig) -> ActionType:
    """The :class:`ActionType` of ``config.action_type`` (ConfigError naming the choices)."""
    return ACTION_TYPES.get(config.action_type)

"""Shared control helpers of the rule-based planners: physical controls -> action formats."""

from __future__ import annotations

import math

import numpy as np

from jwmsim.config import SimConfig
from jwmsim.sim.actions import normalise_waypoints
from jwmsim.sim.state import EgoState


def normalised_action(accel: float, steer: float, config: SimConfig) -> np.ndarray:
    """``[2]`` normalised (acceleration, steering) in [-1, 1] for physical controls [m/s^2, rad]."""
    lim = config.vehicle
    a = accel / lim.max_accel if accel >= 0 else accel / lim.max_decel
    return np.clip(np.array([a, steer / lim.max_steer]), -1.0, 1.0)


def waypoints_along(ego: EgoState, path_xy: np.ndarray, speeds: np.ndarray, config: SimConfig) -> np.ndarray:
    """The normalised waypoint action ``[K, 2]`` (see :mod:`jwmsim.sim.actions`) for the ego-frame
    points at ``k * waypoint_dt`` s along a path ``[N, 2]`` (world xy, from the ego onwards, 1 m
    spacing) driven at ``speeds`` ``[K]`` [m/s] (constant within each interval)."""
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path_xy, axis=0), axis=1))])
    dist = np.cumsum(speeds * config.waypoint_dt)
    x = np.interp(dist, cum, path_xy[:, 0])
    y = np.interp(dist, cum, path_xy[:, 1])
    c, s = math.cos(ego.yaw), math.sin(ego.yaw)
    dx, dy = x - ego.x, y - ego.y
    return normalise_waypoints(np.stack([c * dx + s * dy, -s * dx + c * dy], -1), config)

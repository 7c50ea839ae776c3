"""Oriented boxes as shapely polygons: ego/actor overlap, drivable-area checks and the
constant-velocity time-to-collision projection."""

from __future__ import annotations

import math

import numpy as np
import shapely

from jwmsim.config import VehicleLimits
from jwmsim.sim.state import ActorsState, EgoState

_SIGNS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])  # counter-clockwise


def box_corners(
    cx: np.ndarray, cy: np.ndarray, yaw: np.ndarray, length: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """Corners of oriented rectangles.

    Args:
        cx, cy: ``[...]`` centres [m]; yaw: ``[...]`` headings [rad]; length, width: ``[...]`` [m]
            (all broadcast together).

    Returns:
        ``[..., 4, 2]`` corners, counter-clockwise.
    """
    cx, cy, yaw, length, width = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (cx, cy, yaw, length, width))
    )
    c, s = np.cos(yaw)[..., None], np.sin(yaw)[..., None]
    lx = _SIGNS[:, 0] * (length[..., None] / 2)
    ly = _SIGNS[:, 1] * (width[..., None] / 2)
    return np.stack([cx[..., None] + c * lx - s * ly, cy[..., None] + s * lx + c * ly], -1)


def box_polygons(
    cx: np.ndarray, cy: np.ndarray, yaw: np.ndarray, length: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """``[...]`` array of shapely Polygons for the boxes (see :func:`box_corners`)."""
    return shapely.polygons(box_corners(cx, cy, yaw, length, width))


def ego_centre(x: float, y: float, yaw: float, limits: VehicleLimits) -> tuple[float, float]:
    """Box centre [m] of the ego whose rear axle is at ``(x, y)``."""
    off = limits.centre_offset
    return x + off * math.cos(yaw), y + off * math.sin(yaw)


def ego_polygon(ego: EgoState, limits: VehicleLimits) -> shapely.Polygon:
    cx, cy = ego_centre(ego.x, ego.y, ego.yaw, limits)
    return box_polygons(cx, cy, ego.yaw, limits.length, limits.width)


def overlapping_actors(ego: EgoState, actors: ActorsState, limits: VehicleLimits) -> np.ndarray:
    """Indices of active actors whose boxes intersect the ego's box."""
    if len(actors) == 0:
        return np.zeros(0, dtype=int)
    cx, cy = ego_centre(ego.x, ego.y, ego.yaw, limits)
    reach = math.hypot(limits.length, limits.width) / 2 + np.hypot(actors.length, actors.width) / 2
    near = actors.active & (np.hypot(actors.x - cx, actors.y - cy) <= reach)
    idx = np.flatnonzero(near)
    if len(idx) == 0:
        return idx
    ego_poly = box_polygons(cx, cy, ego.yaw, limits.length, limits.width)
    polys = box_polygons(actors.x[idx], actors.y[idx], actors.yaw[idx], actors.length[idx], actors.width[idx])
    return idx[shapely.intersects(ego_poly, polys)]


def time_to_collision(
    ego: EgoState,
    actors: ActorsState,
    limits: VehicleLimits,
    horizon: float,
    step: float,
    exclude: np.ndarray | None = None,
    stopped_speed: float = 0.05,
) -> tuple[int, float]:
    """First actor ahead that the ego would hit if both kept their velocity (NAVSIM TTC).

    The ego and every active actor are moved at constant velocity for ``step, 2 step, ...,
    horizon`` seconds; the first overlap with an actor whose centre is ahead of the ego's rear axle
    counts. A standing ego (speed below ``stopped_speed``) is never at risk (score 1). Actors in
    ``exclude`` (already in contact) are skipped.

    Returns:
        ``(actor index, time [s])`` or ``(-1, inf)``.
    """
    if len(actors) == 0 or ego.speed < stopped_speed:
        return -1, math.inf
    times = np.arange(1, int(round(horizon / step)) + 1) * step  # [T]
    ch, sh = math.cos(ego.yaw), math.sin(ego.yaw)
    cx, cy = ego_centre(ego.x, ego.y, ego.yaw, limits)
    rel_x, rel_y = actors.x - ego.x, actors.y - ego.y
    ahead = rel_x * ch + rel_y * sh > 0.0
    vx, vy = actors.speed * np.cos(actors.yaw), actors.speed * np.sin(actors.yaw)
    # coarse filter: could the two be within reach at some time of the horizon?
    reach = math.hypot(limits.length, limits.width) / 2 + np.hypot(actors.length, actors.width) / 2
    rvx, rvy = vx - ego.speed * ch, vy - ego.speed * sh
    dx0, dy0 = actors.x - cx, actors.y - cy
    tt = np.clip(-(dx0 * rvx + dy0 * rvy) / np.maximum(rvx * rvx + rvy * rvy, 1e-12), 0.0, horizon)
    closest = np.hypot(dx0 + rvx * tt, dy0 + rvy * tt)
    cand = actors.active & ahead & (closest <= reach)
    if exclude is not None and len(exclude):
        cand[exclude] = False
    idx = np.flatnonzero(cand)
    if len(idx) == 0:
        return -1, math.inf
    ego_polys = box_polygons(
        cx + ego.speed * ch * times, cy + ego.speed * sh * times, ego.yaw, limits.length, limits.width
    )  # [T]
    ax = actors.x[idx][None, :] + vx[idx][None, :] * times[:, None]
    ay = actors.y[idx][None, :] + vy[idx][None, :] * times[:, None]
    polys = box_polygons(
        ax, ay, actors.yaw[idx][None, :], actors.length[idx][None, :], actors.width[idx][None, :]
    )  # [T, M]
    hit = shapely.intersects(ego_polys[:, None], polys)
    if not hit.any():
        return -1, math.inf
    t_i, m_i = np.unravel_index(int(np.argmax(hit)), hit.shape)
    return int(idx[m_i]), float(times[t_i])

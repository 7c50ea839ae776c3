"""The reference route: the logged ego path from the start time on, extended ahead.

The extension follows the lane the log ends on (the lane nearest the last logged pose, heading
within 60 degrees) up to that lane's end, then continues straight, until ``route_extension``
metres have been added. A 10 m straight lead-in behind the start keeps the start projection off
the route's end. Progress is the arc length of the ego's projection, searched in a window around
the previous projection so that a route crossing itself is followed in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jwmsim.logs.segment import LogSegment
from jwmsim.sim.map import RoadMap, ego_path, path_polyline
from jwmsim.sim.polyline import Polyline

LEAD_IN = 10.0  # [m] straight route piece behind the start pose
_BACK_WINDOW = 10.0  # [m] progress search window behind the last projection
_AHEAD_WINDOW = 40.0  # [m] and ahead of it


@dataclass(frozen=True, eq=False)
class Route:
    """Reference route with the logged ego ("expert") progress along it.

    Attributes:
        line: the route polyline.
        start_s: arc length [m] of the ego's start position.
        end_s: arc length [m] at which the route counts as completed (its end).
        expert_s: ``[K]`` arc length of the logged ego at sim steps ``0..K-1`` (held after the log).
        z_s / z: ground height [m] of the logged ego along the route (for rendering).
    """

    line: Polyline
    start_s: float
    end_s: float
    expert_s: np.ndarray
    z_s: np.ndarray
    z: np.ndarray

    @property
    def length(self) -> float:
        """Route length [m] to drive, from the start position."""
        return self.end_s - self.start_s

    def project(self, x: float, y: float, s_hint: float | None = None) -> tuple[float, float]:
        """``(s, d)`` of a position [m], searched around ``s_hint`` when given."""
        if s_hint is None:
            return self.line.project_point(x, y)
        return self.line.project_point(x, y, s_hint - _BACK_WINDOW, s_hint + _AHEAD_WINDOW)

    def expert_progress(self, step: int) -> float:
        """Metres the logged ego progressed along the route from the start up to ``step``."""
        k = min(max(step, 0), len(self.expert_s) - 1)
        return float(self.expert_s[k] - self.start_s)

    def ground_z(self, s: float) -> float:
        return float(np.interp(s, self.z_s, self.z))


def build_route(segment: LogSegment, road: RoadMap, start_time: float, dt: float, extension: float) -> Route:
    """Route from the log's ego path after ``start_time``, extended by ``extension`` metres."""
    start_pose = segment.ego_pose_at(start_time)
    pts = np.concatenate([start_pose.translation[None, :2], ego_path(segment, start_time + 1e-6)])
    path = path_polyline(pts, start_pose.yaw)
    pieces = [path.interpolate(np.arange(-LEAD_IN, 0.0, 1.0))[0], path.points]
    end_x, end_y = path.points[-1]
    end_yaw = path.heading_at(path.length)
    remaining = extension
    lane, s, _ = road.locate(end_x, end_y, end_yaw, max_heading_diff=math.pi / 3)
    if lane >= 0 and remaining > 0:
        c = road.lanes[lane].centreline
        follow = min(remaining, max(0.0, c.length - s))
        if follow >= 1.0:
            n = int(math.ceil(follow))
            lane_pts = c.interpolate(s + np.linspace(0.0, follow, n + 1)[1:])[0]
            # join smoothly: shift the lane piece so that it starts at the path's end
            offset = np.array([end_x, end_y]) - c.interpolate(np.array([s]))[0][0]
            fade = np.clip(1.0 - np.linspace(0.0, follow, n + 1)[1:] / 10.0, 0.0, 1.0)[:, None]
            pieces.append(lane_pts + offset * fade)
            remaining -= follow
    tail = Polyline.from_points(np.concatenate(pieces), min_step=0.2)
    if remaining > 0:
        tail = tail.extended(0.0, remaining)
    line = Polyline.from_points(tail.points, spacing=0.5, min_step=0.05)
    start_s, _ = line.project_point(*start_pose.translation[:2], s_max=LEAD_IN + 5.0)
    # expert progress on the sim grid, while the log lasts
    t_end = segment.ego_times[-1]
    n_steps = max(1, int(math.floor((t_end - start_time) / dt + 1e-6)) + 1)
    expert = np.empty(n_steps)
    s_prev = start_s
    for k in range(n_steps):
        p = segment.ego_pose_at(start_time + k * dt).translation
        s_k, _ = line.project_point(p[0], p[1], s_prev - _BACK_WINDOW, s_prev + _AHEAD_WINDOW)
        expert[k] = s_k
        s_prev = s_k
    zs = np.array([p.translation[2] for p in segment.ego_poses])
    xy = np.array([p.translation[:2] for p in segment.ego_poses])
    z_s, _ = line.project(xy)
    order = np.argsort(z_s)
    return Route(line, float(start_s), float(line.length), expert, z_s[order], zs[order])

"""The reference route: the logged ego path from the start time on, continued along the lanes.

**Geometry.** A 10 m straight lead-in behind the start pose, the logged ego path from the start
time to the log's end, then the continuation: from the lane the log ends on (nearest the last
logged pose, heading within 60 degrees) to that lane's end, then from lane to successor lane
through junctions, straight on where it can (:meth:`~jwmsim.sim.map.RoadMap.straight_on`), joined
smoothly to the path's end over 10 m. Where the lanes end without a successor (the edge of the
map; a log without lane graph, whose derived lanes end 60 m past the logged path) the route goes on
straight: the documented fall-back. The continuation is long enough for the rest of the episode at
the logged ego's end speed plus ``extension`` metres of look-ahead.

**What counts as completed** (``end_s``, the route length for RC): the distance the episode can
cover, i.e. the logged ego's ("expert's") progress over the episode's duration; where the episode
outlasts the log, the expert's progress at the log's end plus the remaining time at its end speed
(mean over the log's last second). A drive as far as the expert (within ``ROUTE_END_TOLERANCE``)
completes the route: RC = 1.

Progress is the arc length of the ego's projection, searched in a window around the previous
projection so that a route crossing itself is followed in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jwmsim.logs.segment import LogSegment
from jwmsim.sim.map import RoadMap, ego_path, path_polyline
from jwmsim.sim.polyline import Polyline
from jwmsim.sim.segment_memo import per_segment

LEAD_IN = 10.0  # [m] straight route piece behind the start pose
JOIN_FADE = 10.0  # [m] the lane continuation is blended into the logged path's end over this length
END_SPEED_WINDOW = 1.0  # [s] the logged end speed is the mean over the log's last second
_BACK_WINDOW = 10.0  # [m] progress search window behind the last projection
_AHEAD_WINDOW = 40.0  # [m] and ahead of it
_MAX_LANE_HOPS = 200  # guards lane graphs with cycles of very short lanes


@dataclass(frozen=True, eq=False)
class Route:
    """Reference route with the logged ego ("expert") progress along it.

    Attributes:
        line: the route polyline (longer than ``end_s``: planners look ahead on it).
        start_s: arc length [m] of the ego's start position.
        end_s: arc length [m] at which the route counts as completed (see the module docstring).
        expert_s: ``[K]`` arc length of the logged ego at sim steps ``0..K-1`` (held after the log).
        end_speed: [m/s] the logged ego's speed at the log's end (the route beyond it assumes it).
        z_s / z: ground height [m] of the logged ego along the route (for rendering).
        reference: ``[K]`` metres a reference planner progressed from the start by sim steps
            ``0..K-1`` in the same run, already zeroed where it collided at fault or left the
            drivable area (NAVSIM's EP denominator; :mod:`jwmsim.ep_reference`); None:
            EP falls back to the logged ego's progress.
    """

    line: Polyline
    start_s: float
    end_s: float
    expert_s: np.ndarray
    z_s: np.ndarray
    z: np.ndarray
    end_speed: float = 0.0
    reference: np.ndarray | None = None

    @property
    def length(self) -> float:
        """Route length [m] to drive, from the start position (RC's denominator)."""
        return self.end_s - self.start_s

    def project(self, x: float, y: float, s_hint: float | None = None) -> tuple[float, float]:
        """``(s, d)`` of a position [m], searched around ``s_hint`` when given."""
        if s_hint is None:
            return self.line.project_point(x, y)
        return self.line.project_point(x, y, s_hint - _BACK_WINDOW, s_hint + _AHEAD_WINDOW)

    def project_many(self, xy: np.ndarray, s_hint: float) -> tuple[np.ndarray, np.ndarray]:
        """``(s [N], d [N])`` of positions ``xy`` ``[N, 2]`` [m], searched around ``s_hint`` (one
        vectorised pass; the same values as :meth:`project` point by point)."""
        return self.line.project(xy, s_hint - _BACK_WINDOW, s_hint + _AHEAD_WINDOW)

    def expert_progress(self, step: int) -> float:
        """Metres the logged ego progressed along the route from the start up to ``step``."""
        k = min(max(step, 0), len(self.expert_s) - 1)
        return float(self.expert_s[k] - self.start_s)

    def reference_progress(self, step: int) -> float | None:
        """Metres the reference planner progressed by ``step`` (held after its run ended), or None
        without a reference."""
        if self.reference is None or len(self.reference) == 0:
            return None
        return float(self.reference[min(max(step, 0), len(self.reference) - 1)])

    def ground_z(self, s: float) -> float:
        return float(np.interp(s, self.z_s, self.z))


def follow_lanes(road: RoadMap, x: float, y: float, yaw: float, length: float) -> tuple[np.ndarray, float]:
    """Points along the lane graph from a pose, for ``length`` metres.

    Starts on the lane nearest ``(x, y)`` heading within 60 degrees of ``yaw``, follows it to its
    end, then the straight-on successor, and so on.

    Returns:
        ``[M, 2]`` points [m] about 1 m apart (M may be 0: no lane near the pose), and the metres
        still missing where the lanes ended without a successor.
    """
    lane, s, _ = road.locate(x, y, yaw, max_heading_diff=math.pi / 3)
    pieces: list[np.ndarray] = []
    remaining = length
    for _ in range(_MAX_LANE_HOPS):
        if lane < 0 or remaining <= 0:
            break
        c = road.lanes[lane].centreline
        follow = min(remaining, max(0.0, c.length - s))
        if follow > 1e-6:
            n = max(1, int(math.ceil(follow)))
            pieces.append(c.interpolate(s + np.linspace(0.0, follow, n + 1)[1:])[0])
            remaining -= follow
        if remaining <= 0:
            break
        nxt = road.straight_on(lane)
        if nxt is None:
            break
        lane, s = nxt
    pts = np.concatenate(pieces) if pieces else np.zeros((0, 2))
    return pts, max(0.0, remaining)


def _end_speed(segment: LogSegment) -> float:
    """Mean logged speed [m/s] over the log's last ``END_SPEED_WINDOW`` seconds."""
    t1 = segment.ego_times[-1]
    t0 = max(segment.ego_times[0], t1 - END_SPEED_WINDOW)
    if t1 - t0 < 1e-6:
        return 0.0
    ts = np.linspace(t0, t1, 11)
    xy = np.array([segment.ego_pose_at(float(t)).translation[:2] for t in ts])
    return float(np.sum(np.linalg.norm(np.diff(xy, axis=0), axis=1)) / (t1 - t0))


@per_segment
def build_route(
    segment: LogSegment,
    road: RoadMap,
    start_time: float,
    dt: float,
    extension: float,
    episode_seconds: float | None = None,
) -> Route:
    """The route of an episode starting at log time ``start_time`` (see the module docstring).

    Args:
        dt: simulation step [s] (the expert's progress is sampled on this grid).
        extension: look-ahead [m] beyond the completion point.
        episode_seconds: the episode's duration [s]; None: as long as the log lasts from the start.
    """
    start_pose = segment.ego_pose_at(start_time)
    t_end = segment.ego_times[-1]
    horizon = (t_end - start_time) if episode_seconds is None else float(episode_seconds)
    beyond_log = max(0.0, start_time + horizon - t_end)  # [s] the episode outlasts the log by this
    v_end = _end_speed(segment)
    pts = np.concatenate([start_pose.translation[None, :2], ego_path(segment, start_time + 1e-6)])
    path = path_polyline(pts, start_pose.yaw)
    pieces = [path.interpolate(np.arange(-LEAD_IN, 0.0, 1.0))[0], path.points]
    end_x, end_y = path.points[-1]
    end_yaw = path.heading_at(path.length)
    lane_pts, missing = follow_lanes(road, end_x, end_y, end_yaw, beyond_log * v_end + extension)
    if len(lane_pts):
        # join smoothly: shift the lane piece so that it starts at the path's end, fading out
        first, s0, _ = road.locate(end_x, end_y, end_yaw, max_heading_diff=math.pi / 3)
        offset = np.array([end_x, end_y]) - road.lanes[first].centreline.interpolate(np.array([s0]))[0][0]
        along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(lane_pts, axis=0), axis=1))]) + 1.0
        fade = np.clip(1.0 - along / JOIN_FADE, 0.0, 1.0)[:, None]
        pieces.append(lane_pts + offset * fade)
    tail = Polyline.from_points(np.concatenate(pieces), min_step=0.2)
    if missing > 0:
        tail = tail.extended(0.0, missing)
    line = Polyline.from_points(tail.points, spacing=0.5, min_step=0.05)
    start_s, _ = line.project_point(*start_pose.translation[:2], s_max=LEAD_IN + 5.0)
    # expert progress on the sim grid, while the log lasts
    n_steps = max(1, int(math.floor((t_end - start_time) / dt + 1e-6)) + 1)
    expert = np.empty(n_steps)
    s_prev = start_s
    for k in range(n_steps):
        p = segment.ego_pose_at(start_time + k * dt).translation
        s_k, _ = line.project_point(p[0], p[1], s_prev - _BACK_WINDOW, s_prev + _AHEAD_WINDOW)
        expert[k] = s_k
        s_prev = s_k
    n_episode = int(round(horizon / dt))
    if n_episode < n_steps:
        end_s = float(np.max(expert[: n_episode + 1]))
    else:
        end_s = float(np.max(expert)) + beyond_log * v_end
    end_s = min(max(end_s, float(start_s)), line.length)
    zs = np.array([p.translation[2] for p in segment.ego_poses])
    xy = np.array([p.translation[:2] for p in segment.ego_poses])
    z_s, _ = line.project(xy)
    order = np.argsort(z_s)
    return Route(line, float(start_s), end_s, expert, z_s[order], zs[order], end_speed=v_end)

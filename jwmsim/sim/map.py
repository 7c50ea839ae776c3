"""The road: drivable area (shapely) and lane centrelines (:class:`Polyline`), with lane look-ups.

Where the log has lane centrelines (a nuScenes map with lanes, the procedural town) they are used
as they are. Where it has none, lanes are **derived** (see :func:`derive_lanes`):

1. the logged ego path (deduplicated, resampled every metre, extended straight by
   ``lane_extension`` at both ends) is lane ``"ego"``;
2. parallel copies at ``k * lane_width`` to the left and right (``"ego_left_1"``,
   ``"ego_right_1"``, ...) are kept where they lie on the drivable area: each is clipped to it and its
   longest piece kept if at least 20 m long. Without a drivable area one lane each side is kept;
3. the logged paths of moving vehicles (>= 10 m travelled) become lanes ``"track:<id>"`` unless
   they run along an existing lane (same direction, mean distance < 0.4 lane widths). This adds
   oncoming and crossing lanes, which step 2 cannot know about.

Derived lanes next to the ego all run in the ego's direction of travel. Where the log has no
drivable area, the drivable area is the union of the lanes buffered by half a lane width
(documented fall-back: DAC then measures "stays on some lane").

**Lane graph.** A lane's successors are the other lanes that continue it where it ends: their
centreline passes within :data:`JOIN_DISTANCE` of its end point, heading within 45 degrees of its
end heading (nuScenes lanes and lane connectors meet end to start; a procedural junction's turn
connectors end on the crossing road's lane). :meth:`RoadMap.straight_on` picks the successor whose
heading 10 m on turns least: straight on at a junction where it can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

from jwmsim.geometry import wrap_angle
from jwmsim.logs.segment import LogSegment
from jwmsim.sim.polyline import Polyline
from jwmsim.sim.segment_memo import per_segment

_MIN_DERIVED_LANE = 20.0  # [m] shorter clipped neighbour lanes are dropped
_MIN_TRACK_TRAVEL = 10.0  # [m] vehicles that moved less do not define a lane
JOIN_DISTANCE = 0.5  # [m] a lane continuing another one passes this close to its end point
_JOIN_HEADING = math.radians(45.0)  # and runs within this angle of its end heading
_TURN_PROBE = 10.0  # [m] how far into a successor its turn is measured


@dataclass(frozen=True, eq=False)
class Lane:
    """A lane centreline, in its direction of travel."""

    id: str
    centreline: Polyline
    derived: bool = False


@dataclass(frozen=True, eq=False)
class RoadMap:
    """Lanes and drivable area.

    Attributes:
        lanes: lane centrelines; an actor refers to a lane by its index in this tuple.
        drivable_area: drivable surface (prepared for fast predicates).
        lane_width: [m] used for lane membership and derived lanes.
        source: ``"log"`` or ``"derived"`` (lanes), for messages and the docs.
        drivable_source: ``"log"`` or ``"lanes"`` (buffered lanes fall-back).
    """

    lanes: tuple[Lane, ...]
    drivable_area: BaseGeometry
    lane_width: float
    source: str = "log"
    drivable_source: str = "log"
    _index: dict = field(init=False, repr=False)
    _seg_a: np.ndarray = field(init=False, repr=False)  # [S, 2] segment starts over all lanes
    _seg_u: np.ndarray = field(init=False, repr=False)  # [S, 2] unit directions
    _seg_len: np.ndarray = field(init=False, repr=False)  # [S]
    _seg_s0: np.ndarray = field(init=False, repr=False)  # [S] arc length of the segment start in its lane
    _seg_lane: np.ndarray = field(init=False, repr=False)  # [S] lane index
    _tree: cKDTree = field(init=False, repr=False)  # segment midpoints, to search near a point only
    _half_seg: float = field(init=False, repr=False)  # [m] longest half segment
    _successors: dict = field(init=False, repr=False)  # lane index -> successors, filled lazily

    def __post_init__(self) -> None:
        if not self.lanes:
            raise ValueError("a road map needs at least one lane")
        object.__setattr__(self, "_index", {lane.id: i for i, lane in enumerate(self.lanes)})
        if len(self._index) != len(self.lanes):
            raise ValueError("lane ids must be unique")
        shapely.prepare(self.drivable_area)
        a, u, ln, s0, li = [], [], [], [], []
        for i, lane in enumerate(self.lanes):
            c = lane.centreline
            a.append(c.points[:-1])
            u.append(c._dir)
            ln.append(c._seg_len)
            s0.append(c.cum_s[:-1])
            li.append(np.full(len(c._seg_len), i))
        for name, arr in (("_seg_a", a), ("_seg_u", u), ("_seg_len", ln), ("_seg_s0", s0), ("_seg_lane", li)):
            object.__setattr__(self, name, np.concatenate(arr))
        mid = self._seg_a + 0.5 * self._seg_len[:, None] * self._seg_u
        object.__setattr__(self, "_tree", cKDTree(mid))
        object.__setattr__(self, "_half_seg", float(self._seg_len.max()) / 2)
        object.__setattr__(self, "_successors", {})

    # --- look-ups ------------------------------------------------------------------------------
    def lane_index(self, lane_id: str) -> int:
        try:
            return self._index[lane_id]
        except KeyError:
            from jwmsim.errors import ConfigError

            raise ConfigError(
                f"unknown lane {lane_id!r}", hint=f"lanes of this map: {sorted(self._index)}"
            ) from None

    def locate(
        self,
        x: float,
        y: float,
        yaw: float | None = None,
        max_heading_diff: float = math.pi / 3,
        max_distance: float | None = None,
    ) -> tuple[int, float, float]:
        """The lane nearest to a point (optionally with a heading within ``max_heading_diff``).

        Returns:
            ``(lane index, s, d)``: arc length and signed lateral offset [m] on that lane, or
            ``(-1, nan, nan)`` when no lane qualifies (``max_distance`` defaults to one lane width).
        """
        max_distance = self.lane_width if max_distance is None else max_distance
        near = self._tree.query_ball_point((x, y), max_distance + self._half_seg)
        if not near:
            return -1, math.nan, math.nan
        near = np.asarray(near)
        seg_u = self._seg_u[near]
        rel = np.array([x, y]) - self._seg_a[near]
        t = np.clip(np.einsum("sk,sk->s", rel, seg_u), 0.0, self._seg_len[near])
        diff = rel - t[:, None] * seg_u
        dist2 = np.einsum("sk,sk->s", diff, diff)
        if yaw is not None:
            cos_diff = seg_u[:, 0] * math.cos(yaw) + seg_u[:, 1] * math.sin(yaw)
            dist2 = np.where(cos_diff >= math.cos(max_heading_diff), dist2, np.inf)
        best = int(np.argmin(dist2))
        if not dist2[best] <= max_distance**2:
            return -1, math.nan, math.nan
        lane = int(self._seg_lane[near[best]])
        s, d = self.lanes[lane].centreline.project_point(x, y)
        return lane, s, d

    def neighbour(self, lane: int, side: str, s: float = 0.0) -> int:
        """The lane one lane width to the ``side`` (``"left"``/``"right"``) of ``lane`` at arc length
        ``s``, running the same way; -1 if there is none."""
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        c = self.lanes[lane].centreline
        sign = 1.0 if side == "left" else -1.0
        x, y, yaw = c.frenet_to_xy(s, sign * self.lane_width)
        j, _, d = self.locate(x, y, yaw, max_heading_diff=math.pi / 6, max_distance=0.4 * self.lane_width)
        return j if j != lane else -1

    def successors(self, lane: int) -> tuple[tuple[int, float], ...]:
        """Lanes continuing ``lane`` from its end (see the module docstring), as
        ``(lane index, arc length [m] on that lane where it joins)``, sorted by lane index."""
        cached = self._successors.get(lane)
        if cached is not None:
            return cached
        c = self.lanes[lane].centreline
        x, y, yaw = c.pose_at(c.length)
        near = self._tree.query_ball_point((x, y), JOIN_DISTANCE + self._half_seg)
        found: dict[int, float] = {}
        for j in sorted({int(self._seg_lane[k]) for k in near} - {lane}):
            other = self.lanes[j].centreline
            s, d = other.project_point(x, y)
            if not (0.0 <= s < other.length - 1.0 and abs(d) <= JOIN_DISTANCE):
                continue
            if math.cos(float(wrap_angle(other.heading_at(s) - yaw))) >= math.cos(_JOIN_HEADING):
                found[j] = s
        out = tuple(sorted(found.items()))
        self._successors[lane] = out
        return out

    def straight_on(self, lane: int) -> tuple[int, float] | None:
        """The successor of ``lane`` that turns least over its first 10 m (``None``: the lane
        ends without one, at the edge of the map)."""
        c = self.lanes[lane].centreline
        yaw = c.heading_at(c.length)
        best, best_turn = None, math.inf
        for j, s in self.successors(lane):
            other = self.lanes[j].centreline
            turn = abs(float(wrap_angle(other.heading_at(min(s + _TURN_PROBE, other.length)) - yaw)))
            if turn < best_turn - 1e-9:
                best, best_turn = (j, s), turn
        return best

    def covers(self, polygons: np.ndarray | BaseGeometry) -> np.ndarray:
        """``[N]`` bool: polygons entirely inside the drivable area."""
        return np.atleast_1d(shapely.covers(self.drivable_area, polygons))

    @property
    def lane_ids(self) -> list[str]:
        return [lane.id for lane in self.lanes]


# ------------------------------------------------------------------------------------------------
# Construction
# ------------------------------------------------------------------------------------------------
def _longest_line(geom: BaseGeometry) -> LineString | None:
    if geom.is_empty:
        return None
    if isinstance(geom, LineString):
        return geom
    lines = [g for g in getattr(geom, "geoms", []) if isinstance(g, LineString) and not g.is_empty]
    if isinstance(geom, MultiLineString) or lines:
        return max(lines, key=lambda g: g.length) if lines else None
    return None


def _oriented_like(line: LineString, ref: Polyline) -> np.ndarray:
    """Coordinates of ``line`` ordered in the direction of ``ref``."""
    pts = np.asarray(line.coords)[:, :2]
    s, _ = ref.project(pts[[0, -1]])
    return pts if s[0] <= s[1] else pts[::-1]


def _track_path(segment: LogSegment, track_id: str) -> Polyline | None:
    tr = segment.tracks[track_id]
    if not tr.kind == "vehicle" or len(tr.poses) < 2:
        return None
    pts = np.array([p.translation[:2] for p in tr.poses])
    if np.hypot(*(pts[-1] - pts[0])) < _MIN_TRACK_TRAVEL:
        return None
    try:
        return Polyline.from_points(pts, spacing=1.0, min_step=0.5)
    except ValueError:
        return None


def ego_path(segment: LogSegment, t_from: float = -math.inf) -> np.ndarray:
    """``[M, 2]`` logged ego positions with time >= ``t_from`` [m]."""
    pts = [
        p.translation[:2]
        for t, p in zip(segment.ego_times, segment.ego_poses, strict=True)
        if t >= t_from - 1e-9
    ]
    if not pts:
        pts = [segment.ego_poses[-1].translation[:2]]
    return np.asarray(pts)


def path_polyline(points: np.ndarray, heading: float, min_length: float = 1.0) -> Polyline:
    """A polyline through ``points`` ``[M, 2]``; when they span less than ``min_length`` (a standing
    ego) a straight ``min_length`` segment along ``heading`` from the first point."""
    try:
        line = Polyline.from_points(points, spacing=1.0, min_step=0.5)
        if line.length >= min_length:
            return line
    except ValueError:
        pass
    p0 = np.asarray(points[0], dtype=np.float64)
    return Polyline(np.stack([p0, p0 + min_length * np.array([math.cos(heading), math.sin(heading)])]))


def derive_lanes(
    segment: LogSegment, lane_width: float, extension: float, max_lanes_each_side: int = 2
) -> list[Lane]:
    """Lanes for a log without a lane map (the fall-back described in the module docstring)."""
    base = path_polyline(ego_path(segment), segment.ego_poses[0].yaw).extended(extension, extension)
    lanes = [Lane("ego", base, derived=True)]
    ref = LineString(base.points)
    area = segment.drivable_area
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for k in range(1, max_lanes_each_side + 1):
            off = ref.offset_curve(sign * k * lane_width, join_style="round")
            if area is not None:
                off = _longest_line(off.intersection(area))
            else:
                off = _longest_line(off) if k == 1 else None
            if off is None or off.length < _MIN_DERIVED_LANE:
                break
            try:
                line = Polyline.from_points(_oriented_like(off, base), spacing=1.0, min_step=0.2)
            except ValueError:
                break
            lanes.append(Lane(f"ego_{side}_{k}", line, derived=True))
    for tid in sorted(segment.tracks):
        path = _track_path(segment, tid)
        if path is None:
            continue
        if _runs_along(path, lanes, lane_width):
            continue
        lanes.append(Lane(f"track:{tid}", path.extended(extension, extension), derived=True))
    return lanes


def _runs_along(path: Polyline, lanes: list[Lane], lane_width: float) -> bool:
    probe, yaw = path.interpolate(np.linspace(0.0, path.length, 8))
    for lane in lanes:
        s, d = lane.centreline.project(probe)
        _, lane_yaw = lane.centreline.interpolate(s)
        same_dir = np.mean(np.cos(lane_yaw - yaw)) > 0.7
        if same_dir and np.mean(np.abs(d)) < 0.4 * lane_width:
            return True
    return False


def lanes_from_log(lanes: Mapping[str, np.ndarray]) -> list[Lane]:
    """Lanes from a log's lane map (``id -> [N, 2]`` centrelines); degenerate ones are skipped."""
    out = []
    for lid in sorted(lanes):
        try:
            out.append(Lane(str(lid), Polyline.from_points(np.asarray(lanes[lid])[:, :2], spacing=1.0)))
        except ValueError:
            continue
    return out


@per_segment
def build_road_map(segment: LogSegment, lane_width: float = 3.5, lane_extension: float = 60.0) -> RoadMap:
    """The road of a log: its own lanes and drivable area, or the derived fall-backs."""
    lanes = lanes_from_log(segment.lanes) if segment.lanes else []
    source = "log"
    if not lanes:
        lanes = derive_lanes(segment, lane_width, lane_extension)
        source = "derived"
    area = segment.drivable_area
    drivable_source = "log"
    if area is None or area.is_empty:
        area = shapely.union_all(
            [LineString(lane.centreline.points).buffer(lane_width / 2) for lane in lanes]
        )
        drivable_source = "lanes"
    return RoadMap(tuple(lanes), area, lane_width, source=source, drivable_source=drivable_source)

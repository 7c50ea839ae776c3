"""Road geometry of the procedural town: reference lines in Frenet form, roads with lanes, the
drivable area, and lane markings as flat stripes.

A road is a reference line (its median) with ``lanes_forward`` lanes on the right (driving along
the line, right-hand traffic) and ``lanes_backward`` lanes on the left (driving against it), each
``lane_width`` wide, plus an optional parking strip on each side. Positions on a road are Frenet
coordinates ``(s, d)``: arc length along the reference line [m] and lateral offset, positive to the
left [m].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class RefLine:
    """A smooth polyline with arc-length parametrisation.

    Attributes:
        points: ``[N, 2]`` world xy [m], about 0.5 m apart.
        s: ``[N]`` arc length at each point [m], from 0.
        heading: ``[N]`` direction of travel [rad].
    """

    points: np.ndarray
    s: np.ndarray
    heading: np.ndarray

    @classmethod
    def from_segments(
        cls,
        start: tuple[float, float],
        heading: float,
        segments: list[tuple[str, float, float]],
        step: float = 0.5,
    ) -> RefLine:
        """Chain ``("straight", length, 0)`` and ``("arc", length, curvature)`` segments
        (curvature [1/m], positive = turning left) from ``start`` with ``heading`` [rad]."""
        pts = [np.asarray(start, dtype=np.float64)]
        heads = [float(heading)]
        for _, length, curvature in segments:
            n = max(1, int(np.ceil(length / step)))
            ds = length / n
            for _ in range(n):
                h0 = heads[-1]
                h1 = h0 + curvature * ds
                hm = 0.5 * (h0 + h1)
                pts.append(pts[-1] + ds * np.array([np.cos(hm), np.sin(hm)]))
                heads.append(h1)
        points = np.stack(pts)
        seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
        return cls(points, np.concatenate([[0.0], np.cumsum(seg)]), np.asarray(heads))

    @property
    def length(self) -> float:
        return float(self.s[-1])

    def frame_at(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Point ``[..., 2]`` and heading ``[...]`` at arc length ``s`` (clamped to the line;
        beyond the ends the line is extended straight)."""
        s = np.asarray(s, dtype=np.float64)
        sc = np.clip(s, 0.0, self.length)
        x = np.interp(sc, self.s, self.points[:, 0])
        y = np.interp(sc, self.s, self.points[:, 1])
        h = np.interp(sc, self.s, np.unwrap(self.heading))
        extra = s - sc
        return np.stack([x + extra * np.cos(h), y + extra * np.sin(h)], -1), h

    def to_xy(self, s: np.ndarray | float, d: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Frenet ``(s, d)`` -> world xy ``[..., 2]`` and the line's heading ``[...]`` there."""
        p, h = self.frame_at(s)
        d = np.asarray(d, dtype=np.float64)
        normal = np.stack([-np.sin(h), np.cos(h)], -1)
        return p + d[..., None] * normal, h

    def project(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World xy ``[M, 2]`` -> Frenet ``(s, d)`` (nearest polyline vertex; ~0.25 m accurate)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        dist = np.linalg.norm(xy[:, None, :] - self.points[None, :, :], axis=-1)
        i = np.argmin(dist, axis=1)
        rel = xy - self.points[i]
        h = self.heading[i]
        along = rel[:, 0] * np.cos(h) + rel[:, 1] * np.sin(h)
        d = -rel[:, 0] * np.sin(h) + rel[:, 1] * np.cos(h)
        return self.s[i] + along, d


@dataclass(frozen=True)
class Road:
    """A road: reference line plus its lane layout.

    Attributes:
        name: id prefix of its lanes.
        ref: the reference line (median).
        lanes_forward / lanes_backward: lanes right / left of the median.
        lane_width: [m]. median: gap between the two directions [m] (holds the centre lines).
        parking_width: parking strip on each side [m] (0 for none).
    """

    name: str
    ref: RefLine
    lanes_forward: int
    lanes_backward: int
    lane_width: float
    median: float = 0.3
    parking_width: float = 0.0

    @property
    def half_width_right(self) -> float:
        return self.median / 2 + self.lanes_forward * self.lane_width + self.parking_width

    @property
    def half_width_left(self) -> float:
        return self.median / 2 + self.lanes_backward * self.lane_width + self.parking_width

    def lane_offset(self, forward: bool, index: int) -> float:
        """Lateral offset ``d`` [m] of a lane centre; ``index`` 0 is next to the median."""
        d = self.median / 2 + (index + 0.5) * self.lane_width
        return -d if forward else d

    def parking_offset(self, right: bool) -> float:
        """Lateral offset of the parking strip centre on the right (or left) side."""
        if right:
            return -(self.median / 2 + self.lanes_forward * self.lane_width + self.parking_width / 2)
        return self.median / 2 + self.lanes_backward * self.lane_width + self.parking_width / 2

    def lane_ids(self) -> list[tuple[str, bool, int]]:
        """``(lane id, forward, index)`` for every lane."""
        out = [(f"{self.name}:fwd:{i}", True, i) for i in range(self.lanes_forward)]
        return out + [(f"{self.name}:bwd:{i}", False, i) for i in range(self.lanes_backward)]

    def lane_centerline(self, forward: bool, index: int, step: float = 2.0) -> np.ndarray:
        """``[N, 2]`` world xy of a lane centre, ordered in its direction of travel."""
        s = np.linspace(0.0, self.ref.length, max(2, int(self.ref.length / step) + 1))
        xy, _ = self.ref.to_xy(s, np.full_like(s, self.lane_offset(forward, index)))
        return xy if forward else xy[::-1]

    def polygon(self) -> BaseGeometry:
        """The road surface (carriageway + parking strips) as a polygon."""
        s = self.ref.s
        left, _ = self.ref.to_xy(s, np.full_like(s, self.half_width_left))
        right, _ = self.ref.to_xy(s, np.full_like(s, -self.half_width_right))
        return shapely.geometry.Polygon(np.concatenate([left, right[::-1]])).buffer(0)


@dataclass(frozen=True)
class Stripe:
    """A painted stripe on a road: from ``s0`` to ``s1`` along the road, centred at lateral offset
    ``d`` with ``width`` [m]; ``across`` stripes run across the road instead (from ``d0`` = s0 to
    ``d1`` = s1 at arc length ``d``)."""

    s0: float
    s1: float
    d: float
    width: float
    color: tuple[float, float, float]
    across: bool = False


WHITE = (0.85, 0.85, 0.82)
YELLOW = (0.85, 0.65, 0.12)


@dataclass(frozen=True)
class JunctionZone:
    """Arc-length interval ``[s_min, s_max]`` of a road covered by another road.

    Attributes:
        kind: ``crossing`` (four-way: lines stop, zebra crossings and stop lines on both sides),
            ``through`` (this road has priority at a T junction: only the edge line on ``side``
            is interrupted), or ``branch`` (this road ends at a T junction at its start: lines
            start after it, with a zebra crossing and a stop line for the approaching lane).
        side: for ``through``, the side of the branch (+1 left, -1 right).
    """

    s_min: float
    s_max: float
    kind: str = "crossing"
    side: float = 0.0


def _cut(intervals: list[tuple[float, float]], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Intervals minus holes (all ``(lo, hi)``)."""
    out = intervals
    for h0, h1 in holes:
        nxt = []
        for a, b in out:
            if b <= h0 or a >= h1:
                nxt.append((a, b))
                continue
            if a < h0:
                nxt.append((a, h0))
            if b > h1:
                nxt.append((h1, b))
        out = nxt
    return [(a, b) for a, b in out if b - a > 0.05]


@dataclass
class MarkingPlan:
    """Stripes of one road, built by :func:`plan_markings`."""

    road: Road
    stripes: list[Stripe] = field(default_factory=list)


def plan_markings(
    road: Road, junctions: list[JunctionZone], dash: float = 3.0, gap: float = 6.0
) -> MarkingPlan:
    """Centre lines, dashed lane separators, edge lines, and at each junction stop lines and zebra
    crossings, for ``road``; longitudinal lines stop 6 m before a junction."""
    plan = MarkingPlan(road)
    length = road.ref.length
    stop_gap, cross_near, cross_far = 6.0, 1.5, 4.5
    holes = [(j.s_min - stop_gap, j.s_max + stop_gap) for j in junctions if j.kind != "through"]
    spans = _cut([(0.0, length)], holes)
    m2, w = road.median / 2, road.lane_width
    edge_holes = {
        side: [(j.s_min - 1.0, j.s_max + 1.0) for j in junctions if j.kind == "through" and j.side == side]
        for side in (-1.0, 1.0)
    }
    for a, b in spans:
        # double yellow centre line
        for d in (-m2 + 0.06, m2 - 0.06) if road.median >= 0.25 else (0.0,):
            plan.stripes.append(Stripe(a, b, d, 0.1, YELLOW))
        for forward, n in ((True, road.lanes_forward), (False, road.lanes_backward)):
            sign = -1.0 if forward else 1.0
            for k in range(1, n):  # dashed separators
                d = sign * (m2 + k * w)
                s = a + 1.0
                while s + dash < b:
                    plan.stripes.append(Stripe(s, s + dash, d, 0.12, WHITE))
                    s += dash + gap
            for ea, eb in _cut([(a, b)], edge_holes[sign]):  # edge line, open where a road branches off
                plan.stripes.append(Stripe(ea, eb, sign * (m2 + n * w - 0.15), 0.12, WHITE))
    for j in junctions:
        if j.kind == "through":
            continue
        for side in (-1.0, 1.0) if j.kind == "crossing" else (1.0,):
            s_edge = j.s_min if side < 0 else j.s_max
            near, far = s_edge + side * cross_near, s_edge + side * cross_far
            lo, hi = min(near, far), max(near, far)
            d = -road.half_width_right + road.parking_width + 0.5
            while d < road.half_width_left - road.parking_width - 0.5:  # zebra crossing
                plan.stripes.append(Stripe(lo, hi, d, 0.5, WHITE))
                d += 1.0
            # stop line across the approaching lanes (forward lanes approach from lower s)
            s_stop = s_edge + side * (cross_far + 1.0)
            if side < 0:
                plan.stripes.append(
                    Stripe(-m2, -(m2 + road.lanes_forward * w), s_stop, 0.4, WHITE, across=True)
                )
            else:
                plan.stripes.append(Stripe(m2, m2 + road.lanes_backward * w, s_stop, 0.4, WHITE, across=True))
    return plan


def stripe_quads(road: Road, stripe: Stripe, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A stripe as a flat triangle strip: vertices ``[2M, 2]`` (xy) and faces ``[2(M-1), 3]``."""
    if stripe.across:
        s = np.array([stripe.d - stripe.width / 2, stripe.d + stripe.width / 2])
        d_lo, d_hi = sorted((stripe.s0, stripe.s1))
        left, _ = road.ref.to_xy(s, np.full(2, d_hi))
        right, _ = road.ref.to_xy(s, np.full(2, d_lo))
    else:
        n = max(2, int(np.ceil((stripe.s1 - stripe.s0) / step)) + 1)
        s = np.linspace(stripe.s0, stripe.s1, n)
        left, _ = road.ref.to_xy(s, np.full(n, stripe.d + stripe.width / 2))
        right, _ = road.ref.to_xy(s, np.full(n, stripe.d - stripe.width / 2))
    m = len(left)
    verts = np.concatenate([right, left])  # i: right edge, m + i: left edge
    i = np.arange(m - 1)
    faces = np.concatenate([np.stack([i, i + 1, m + i + 1], -1), np.stack([i, m + i + 1, m + i], -1)])
    return verts, faces


def junction_zone(road: Road, other: BaseGeometry) -> JunctionZone | None:
    """Arc-length interval of ``road`` covered by the polygon ``other`` (None if disjoint)."""
    inter = road.polygon().intersection(other)
    if inter.is_empty:
        return None
    coords = np.asarray(shapely.get_coordinates(inter))
    s, _ = road.ref.project(coords)
    return JunctionZone(float(s.min()), float(s.max()))


def _lane_end(road: Road, forward: bool, index: int, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Point ``[2]`` and unit direction of travel ``[2]`` of a lane at arc length ``s`` of its road."""
    p, h = road.ref.to_xy(s, road.lane_offset(forward, index))
    h = float(h) + (0.0 if forward else np.pi)
    return np.asarray(p, dtype=np.float64), np.array([np.cos(h), np.sin(h)])


def turn_connectors(
    road: Road, zone: JunctionZone, other: Road, other_zone: JunctionZone, step: float = 1.0
) -> dict[str, np.ndarray]:
    """Turning lanes of a four-way junction from ``road`` into ``other``.

    For each direction of ``road``: a right turn from its outermost lane into the outermost lane of
    ``other`` heading right, and a left turn from its innermost lane into the innermost lane of
    ``other`` heading left. Each is a cubic Bezier curve from the approaching lane 1 m before the
    junction zone to the exit lane 1 m past it, tangent to both, so that it starts on the
    approaching lane and ends on the exit lane (the lane graph then links it to the exit lane).

    Returns:
        lane id (``"<from lane>><to lane>"``) -> ``[N, 2]`` centreline, in the direction of travel.
    """
    out = {}
    for forward, n in ((True, road.lanes_forward), (False, road.lanes_backward)):
        s_in = zone.s_min - 1.0 if forward else zone.s_max + 1.0
        for o_forward, o_n in ((True, other.lanes_forward), (False, other.lanes_backward)):
            s_out = other_zone.s_max + 1.0 if o_forward else other_zone.s_min - 1.0
            _, d0 = _lane_end(road, forward, 0, s_in)
            _, d3 = _lane_end(other, o_forward, 0, s_out)
            left = d0[0] * d3[1] - d0[1] * d3[0] > 0
            i, j = (0, 0) if left else (n - 1, o_n - 1)
            p0, d0 = _lane_end(road, forward, i, s_in)
            p3, d3 = _lane_end(other, o_forward, j, s_out)
            k = 0.45 * float(np.linalg.norm(p3 - p0))
            ctrl = np.stack([p0, p0 + k * d0, p3 - k * d3, p3])
            m = max(8, int(np.ceil(2.2 * k / step)))
            t = np.linspace(0.0, 1.0, m + 1)[:, None]
            curve = (
                (1 - t) ** 3 * ctrl[0] + 3 * (1 - t) ** 2 * t * ctrl[1] + 3 * (1 - t) * t**2 * ctrl[2]
            ) + t**3 * ctrl[3]
            src = f"{road.name}:{'fwd' if forward else 'bwd'}:{i}"
            dst = f"{other.name}:{'fwd' if o_forward else 'bwd'}:{j}"
            out[f"{src}>{dst}"] = curve
    return out

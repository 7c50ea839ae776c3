"""Arc-length parametrised 2D polylines (lane centrelines, routes) with Frenet projection.

Beyond either end a polyline continues along its end segment's direction, so ``interpolate`` and
``project`` extrapolate linearly (an actor driving off the end of a lane keeps going straight).
Headings are interpolated between vertex headings (the mean of the two adjacent segments), which
keeps actor headings smooth; lanes and routes are therefore resampled every 0.5-1 m, where this
differs from the segment direction by at most the turn over one metre.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np


def _dedupe(points: np.ndarray, min_step: float) -> np.ndarray:
    """Drop points closer than ``min_step`` to the last kept one."""
    kept = [points[0]]
    for p in points[1:]:
        if math.hypot(p[0] - kept[-1][0], p[1] - kept[-1][1]) >= min_step:
            kept.append(p)
    return np.asarray(kept)


@dataclass(frozen=True, eq=False)
class Polyline:
    """A 2D polyline with cumulative arc length.

    Attributes:
        points: ``[M, 2]`` vertices [m], M >= 2, consecutive vertices distinct.
        cum_s: ``[M]`` arc length at each vertex [m], ``cum_s[0] == 0``.
    """

    points: np.ndarray
    cum_s: np.ndarray = field(init=False, repr=False)
    _dir: np.ndarray = field(init=False, repr=False)  # [M-1, 2] unit segment directions
    _seg_len: np.ndarray = field(init=False, repr=False)  # [M-1]
    _vertex_yaw: np.ndarray = field(init=False, repr=False)  # [M] unwrapped heading at vertices
    _cum_list: list = field(init=False, repr=False)
    _pts_list: list = field(init=False, repr=False)  # python copies for the scalar fast path
    _dir_list: list = field(init=False, repr=False)
    _yaw_list: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.all(np.isfinite(pts)):
            raise ValueError(f"a polyline needs >= 2 finite points of shape [M, 2], got shape {pts.shape}")
        seg = np.diff(pts, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        if np.any(seg_len < 1e-9):
            raise ValueError(
                "polyline has repeated consecutive points; use Polyline.from_points to clean them"
            )
        direction = seg / seg_len[:, None]
        seg_yaw = np.unwrap(np.arctan2(direction[:, 1], direction[:, 0]))
        vertex_yaw = np.empty(len(pts))
        vertex_yaw[0], vertex_yaw[-1] = seg_yaw[0], seg_yaw[-1]
        vertex_yaw[1:-1] = 0.5 * (seg_yaw[:-1] + seg_yaw[1:])
        cum_s = np.concatenate([[0.0], np.cumsum(seg_len)])
        for name, arr in (
            ("points", pts),
            ("cum_s", cum_s),
            ("_dir", direction),
            ("_seg_len", seg_len),
            ("_vertex_yaw", vertex_yaw),
        ):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "_cum_list", cum_s.tolist())
        object.__setattr__(self, "_pts_list", pts.tolist())
        object.__setattr__(self, "_dir_list", direction.tolist())
        object.__setattr__(self, "_yaw_list", vertex_yaw.tolist())

    @classmethod
    def from_points(
        cls, points: np.ndarray, spacing: float | None = None, min_step: float = 0.05
    ) -> Polyline:
        """Build from raw points: drop near-duplicates, optionally resample every ``spacing`` metres.

        Args:
            points: ``[M, 2]`` (or ``[M, 3]``, z dropped) points [m].
            spacing: resampling step [m], or None to keep the (deduplicated) vertices.
        """
        pts = np.asarray(points, dtype=np.float64)[:, :2]
        if len(pts) < 2:
            raise ValueError(f"need at least 2 points for a polyline, got {len(pts)}")
        pts = _dedupe(pts, min_step)
        if len(pts) < 2:
            raise ValueError("all points of the polyline coincide (the path has no length)")
        line = cls(pts)
        if spacing is None:
            return line
        n = max(2, int(math.ceil(line.length / spacing)) + 1)
        xy, _ = line.interpolate(np.linspace(0.0, line.length, n))
        return cls(xy)

    @property
    def length(self) -> float:
        return float(self.cum_s[-1])

    # --- evaluation ---------------------------------------------------------------------------
    def interpolate(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points and headings at arc lengths ``s`` ``[N]`` (linear extrapolation off the ends).

        Returns:
            ``xy`` ``[N, 2]`` [m] and ``yaw`` ``[N]`` [rad] (interpolated between vertex headings).
        """
        s = np.atleast_1d(np.asarray(s, dtype=np.float64))
        idx = np.clip(np.searchsorted(self.cum_s, s, side="right") - 1, 0, len(self._seg_len) - 1)
        xy = self.points[idx] + self._dir[idx] * (s - self.cum_s[idx])[:, None]
        yaw = np.interp(s, self.cum_s, self._vertex_yaw)
        return xy, yaw

    def pose_at(self, s: float) -> tuple[float, float, float]:
        """Scalar fast path of :meth:`interpolate`: ``(x, y, yaw)`` at arc length ``s``."""
        cum = self._cum_list
        i = min(max(bisect.bisect_right(cum, s) - 1, 0), len(cum) - 2)
        ds = s - cum[i]
        px, py = self._pts_list[i]
        dx, dy = self._dir_list[i]
        yaws = self._yaw_list
        if s <= 0.0:
            yaw = yaws[0]
        elif s >= cum[-1]:
            yaw = yaws[-1]
        else:
            f = ds / (cum[i + 1] - cum[i])
            yaw = (1.0 - f) * yaws[i] + f * yaws[i + 1]
        return px + dx * ds, py + dy * ds, yaw

    def frenet_to_xy(self, s: float, d: float) -> tuple[float, float, float]:
        """``(x, y, lane_yaw)`` of the point at arc length ``s`` and signed lateral offset ``d``
        (left of the direction of travel positive)."""
        x, y, yaw = self.pose_at(s)
        return x - d * math.sin(yaw), y + d * math.cos(yaw), yaw

    def project(
        self, xy: np.ndarray, s_min: float | None = None, s_max: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frenet coordinates of points: arc length of the closest point and signed lateral offset.

        Args:
            xy: ``[N, 2]`` or ``[2]`` points [m].
            s_min, s_max: only segments overlapping ``[s_min, s_max]`` are searched (keeps the
                projection on the right branch of a self-overlapping route).

        Returns:
            ``s`` ``[N]`` [m] (negative / beyond ``length`` off the ends) and ``d`` ``[N]`` [m], left
            positive.
        """
        p = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        nseg = len(self._seg_len)
        lo, hi = 0, nseg
        if s_min is not None:
            lo = min(max(bisect.bisect_right(self._cum_list, s_min) - 1, 0), nseg - 1)
        if s_max is not None:
            hi = max(min(bisect.bisect_left(self._cum_list, s_max), nseg), lo + 1)
        a = self.points[lo:hi]
        u = self._dir[lo:hi]
        seg_len = self._seg_len[lo:hi]
        rel = p[:, None, :] - a[None, :, :]  # [N, S, 2]
        t = np.einsum("nsk,sk->ns", rel, u)
        lower = np.zeros_like(seg_len)
        upper = seg_len.copy()
        if lo == 0:
            lower[0] = -np.inf
        if hi == nseg:
            upper[-1] = np.inf
        tc = np.clip(t, lower, upper)
        diff = rel - tc[..., None] * u[None]
        dist2 = np.einsum("nsk,nsk->ns", diff, diff)
        best = np.argmin(dist2, axis=1)
        rows = np.arange(len(p))
        tb = tc[rows, best]
        ub = u[best]
        relb = rel[rows, best]
        d = ub[:, 0] * relb[:, 1] - ub[:, 1] * relb[:, 0]
        return self.cum_s[lo + best] + tb, d

    def project_point(
        self, x: float, y: float, s_min: float | None = None, s_max: float | None = None
    ) -> tuple[float, float]:
        """Scalar convenience form of :meth:`project`."""
        s, d = self.project(np.array([[x, y]]), s_min, s_max)
        return float(s[0]), float(d[0])

    def heading_at(self, s: float) -> float:
        return self.pose_at(s)[2]

    def extended(self, before: float = 0.0, after: float = 0.0, spacing: float = 1.0) -> Polyline:
        """A copy extended straight by ``before`` metres behind the start and ``after`` beyond the end."""
        parts = []
        if before > 0:
            n = max(1, int(math.ceil(before / spacing)))
            parts.append(self.interpolate(np.linspace(-before, 0.0, n + 1)[:-1])[0])
        parts.append(self.points)
        if after > 0:
            n = max(1, int(math.ceil(after / spacing)))
            parts.append(self.interpolate(self.length + np.linspace(0.0, after, n + 1)[1:])[0])
        return Polyline(np.concatenate(parts))

    def slice(self, s0: float, s1: float, spacing: float = 1.0) -> Polyline:
        """The piece between arc lengths ``s0 < s1`` (extrapolating off the ends), resampled."""
        n = max(2, int(math.ceil((s1 - s0) / spacing)) + 1)
        return Polyline(self.interpolate(np.linspace(s0, s1, n))[0])

"""Log actor tracks resampled once on the simulation's time grid, for O(1) replay per step.

Tracks are annotated at their own times (nuScenes keyframes: 2 Hz); positions and headings are
interpolated linearly (heading unwrapped per track, planar yaw), speeds come from central
differences of the interpolated positions over one step, signed along the heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jwmsim.logs.segment import LogSegment
from jwmsim.sim.segment_memo import per_segment

_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class LogTraffic:
    """Actor tracks on the grid ``t_k = start_time + k dt``, ``k = 0..G-1``.

    Attributes:
        ids, kinds, categories: per track (``N``); size: ``[N, 3]`` width, length, height [m].
        x, y, z, yaw, speed, accel, present: ``[G, N]`` box centre [m], heading [rad], speed
            [m/s], acceleration [m/s^2], whether annotated at ``t_k``.
        end_step: ``[N]`` last grid step with the track present (-1 if never).
        releasable: ``[N]`` the track is annotated until the end of the log's annotations (it did
            not leave the scene), so it may carry on after the log (released to a behaviour).
    """

    ids: tuple[str, ...]
    kinds: tuple[str, ...]
    categories: tuple[str, ...]
    size: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    accel: np.ndarray
    present: np.ndarray
    end_step: np.ndarray
    releasable: np.ndarray

    @property
    def num_steps(self) -> int:
        return self.x.shape[0]

    def available(self, step: int) -> bool:
        return 0 <= step < self.num_steps


@per_segment
def resample_tracks(segment: LogSegment, start_time: float, dt: float) -> LogTraffic:
    """Resample every track of ``segment`` on the grid from ``start_time`` every ``dt`` seconds,
    up to the last annotation (or the ego trajectory's end, whichever is later)."""
    tracks = [segment.tracks[k] for k in sorted(segment.tracks)]
    ends = [tr.end for tr in tracks]
    annotation_end = max(ends) if ends else start_time
    t_last = max(annotation_end, segment.ego_times[-1])
    g = max(1, int(math.floor((t_last - start_time) / dt + _EPS)) + 1)
    grid = start_time + dt * np.arange(g)
    n = len(tracks)
    arrays = {k: np.zeros((g, n)) for k in ("x", "y", "z", "yaw", "speed", "accel")}
    present = np.zeros((g, n), dtype=bool)
    for j, tr in enumerate(tracks):
        times = np.asarray(tr.times)
        pos = np.array([p.translation for p in tr.poses])
        yaw = np.unwrap([p.yaw for p in tr.poses])
        present[:, j] = (grid >= tr.start - _EPS) & (grid <= tr.end + _EPS)
        arrays["x"][:, j] = np.interp(grid, times, pos[:, 0])
        arrays["y"][:, j] = np.interp(grid, times, pos[:, 1])
        arrays["z"][:, j] = np.interp(grid, times, pos[:, 2])
        arrays["yaw"][:, j] = np.interp(grid, times, yaw)
        if len(times) > 1:
            t_lo = np.clip(grid - dt / 2, tr.start, tr.end)
            t_hi = np.clip(grid + dt / 2, tr.start, tr.end)
            span = np.maximum(t_hi - t_lo, 1e-9)
            vx = (np.interp(t_hi, times, pos[:, 0]) - np.interp(t_lo, times, pos[:, 0])) / span
            vy = (np.interp(t_hi, times, pos[:, 1]) - np.interp(t_lo, times, pos[:, 1])) / span
            yw = arrays["yaw"][:, j]
            arrays["speed"][:, j] = np.maximum(0.0, vx * np.cos(yw) + vy * np.sin(yw))
            arrays["accel"][:, j] = np.gradient(arrays["speed"][:, j], dt) if g > 1 else 0.0
    arrays["yaw"] = (arrays["yaw"] + np.pi) % (2 * np.pi) - np.pi
    end_step = np.array(
        [int(np.flatnonzero(present[:, j])[-1]) if present[:, j].any() else -1 for j in range(n)], dtype=int
    )
    releasable = np.array([tr.end >= annotation_end - _EPS for tr in tracks], dtype=bool)
    out = LogTraffic(
        ids=tuple(tr.instance_id for tr in tracks),
        kinds=tuple(tr.kind for tr in tracks),
        categories=tuple(tr.category for tr in tracks),
        size=np.array([tr.size_wlh for tr in tracks], dtype=np.float64).reshape(n, 3),
        present=present,
        end_step=end_step,
        releasable=releasable,
        **arrays,
    )
    for name in ("size", "x", "y", "z", "yaw", "speed", "accel", "present", "end_step", "releasable"):
        getattr(out, name).setflags(write=False)
    return out

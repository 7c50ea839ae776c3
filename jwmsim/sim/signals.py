"""Traffic lights in the simulation: where their stop lines cross the route and the lanes, which
phase each shows, and when the ego runs a red light.

A light's phase is a pure function of the log time (:class:`jwmsim.logs.signals.SignalProgram`), so
the state carries none: ``phases(world, log_time)``.

**Red-light infraction** (CARLA leaderboard's ``RunningRedLightTest``, which Bench2Drive scores):
the ego runs a red light when its tail crosses the light's stop line while the light is red,
driving in the light's direction (heading within 90 degrees of it). CARLA tests a short segment
at the vehicle's tail (from 0.8 half-lengths behind its centre to 1 m behind its rear) against the
stop line at every tick; here the rear bumper's path over the step is tested, which does not miss
a line crossed between two 10 Hz steps. Each light counts once per episode. Yellow is not an
infraction (CARLA counts red only).

Drivers stop for a light (the rule-based planners and IDM traffic): red when the front bumper has
not reached the stop line; yellow when they can still stop before it at their comfortable
deceleration (``gap >= v^2 / (2 b)``), else they drive on (the usual yellow dilemma-zone rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString

from jwmsim.logs.signals import TrafficLight
from jwmsim.sim.map import RoadMap
from jwmsim.sim.polyline import Polyline

HEADING_TOLERANCE = math.radians(60.0)  # a path crossing a stop line this close to its direction obeys it


@dataclass(frozen=True)
class StopPoint:
    """Where a path (the route, or a lane) crosses a light's stop line in the light's direction.

    Attributes:
        light: index into :attr:`SignalMap.lights`; path: lane index (-1: the route); s: arc length
            of the stop line on that path [m].
    """

    light: int
    path: int
    s: float


@dataclass(frozen=True)
class SignalMap:
    """The lights of an episode and their stop points on the route and on the lanes.

    Attributes:
        lights: the log's lights.
        route_stops: stop points on the route, by increasing ``s``.
        lane_stops: stop points on the road map's lanes.
    """

    lights: tuple[TrafficLight, ...] = ()
    route_stops: tuple[StopPoint, ...] = ()
    lane_stops: tuple[StopPoint, ...] = ()

    def phases(self, log_time: float) -> tuple[str, ...]:
        """Phase of every light at ``log_time`` [s], in :attr:`lights` order."""
        return tuple(light.phase_at(log_time) for light in self.lights)

    def phase_by_id(self, log_time: float) -> dict[str, str]:
        """``{light id: phase}`` at ``log_time`` [s]."""
        return {light.id: light.phase_at(log_time) for light in self.lights}

    def stop_lines(self, log_time: float) -> list[tuple[np.ndarray, str]]:
        """``([2, 2] stop line world xy [m], phase)`` of every light at ``log_time`` (what a BEV draws)."""
        return [(light.stop_line_array(), light.phase_at(log_time)) for light in self.lights]


NO_SIGNALS = SignalMap()


def _stops_on(line: Polyline, lights: Sequence[TrafficLight], path: int) -> list[StopPoint]:
    geom = LineString(line.points)
    out = []
    for k, light in enumerate(lights):
        hit = geom.intersection(LineString(light.stop_line_array()))
        if hit.is_empty:
            continue
        points = np.array([(p.x, p.y) for p in getattr(hit, "geoms", [hit]) if p.geom_type == "Point"])
        if len(points) == 0:
            continue
        s_all, _ = line.project(points)
        for s in s_all:
            if math.cos(line.heading_at(float(s)) - light.heading) >= math.cos(HEADING_TOLERANCE):
                out.append(StopPoint(k, path, float(s)))
    return out


def build_signal_map(lights: Sequence[TrafficLight], road: RoadMap, route: Polyline) -> SignalMap:
    """Stop points of ``lights`` on the route polyline and on every lane of ``road``."""
    if not lights:
        return NO_SIGNALS
    lights = tuple(lights)
    route_stops = sorted(_stops_on(route, lights, -1), key=lambda p: p.s)
    lane_stops = [p for j, lane in enumerate(road.lanes) for p in _stops_on(lane.centreline, lights, j)]
    return SignalMap(lights, tuple(route_stops), tuple(lane_stops))


def must_stop(phase: str, gap: float, speed: float, comfort_decel: float) -> bool:
    """Whether a driver ``gap`` metres (front bumper to stop line) before a light showing ``phase``
    at ``speed`` [m/s] stops for it (see the module docstring)."""
    if gap <= 0.0:
        return False
    if phase == "red":
        return True
    return phase == "yellow" and gap >= speed * speed / (2.0 * comfort_decel)


def route_stop_ahead(
    signals: SignalMap, log_time: float, front_s: float, speed: float, comfort_decel: float
) -> float | None:
    """Route arc length [m] of the nearest stop line ahead of the front bumper at ``front_s`` that a
    driver at ``speed`` must stop for at ``log_time`` (None: none)."""
    for stop in signals.route_stops:
        if stop.s <= front_s:
            continue
        if must_stop(signals.lights[stop.light].phase_at(log_time), stop.s - front_s, speed, comfort_decel):
            return stop.s
    return None


def lane_stop_gaps(
    signals: SignalMap,
    log_time: float,
    lane: np.ndarray,
    s: np.ndarray,
    half_length: np.ndarray,
    speed: np.ndarray,
    comfort_decel: float,
) -> np.ndarray:
    """``[N]`` gap [m] from each actor's front (``s + half_length`` on its lane ``lane``) to the
    nearest stop line ahead it must stop for (inf: none or not on a lane)."""
    out = np.full(len(lane), np.inf)
    if not signals.lane_stops:
        return out
    phases = signals.phases(log_time)
    for stop in signals.lane_stops:
        if phases[stop.light] == "green":
            continue
        on = np.flatnonzero((lane == stop.path) & np.isfinite(s))
        for i in on:
            gap = stop.s - (s[i] + half_length[i])
            if gap < out[i] and must_stop(phases[stop.light], gap, float(speed[i]), comfort_decel):
                out[i] = gap
    return out


@dataclass(frozen=True)
class RedLightEvent:
    """The ego ran a red light.

    Attributes:
        step / time: when [s of episode]; light: the light's id.
    """

    step: int
    time: float
    light: str


def _segments_cross(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> bool:
    """Whether segment ``p0 p1`` meets segment ``q0 q1`` (2D, end points included)."""
    return bool(shapely.intersects(LineString([p0, p1]), LineString([q0, q1])))


def red_light_runs(
    signals: SignalMap,
    rear_before: tuple[float, float],
    rear_after: tuple[float, float],
    yaw: float,
    log_time: float,
    already: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """Ids of the red lights whose stop line the ego's rear bumper crossed moving from
    ``rear_before`` to ``rear_after`` (world xy [m]) with heading ``yaw``, red at ``log_time``;
    lights in ``already`` are not counted again."""
    if not signals.lights or rear_before == rear_after:
        return ()
    p0, p1 = np.asarray(rear_before, dtype=np.float64), np.asarray(rear_after, dtype=np.float64)
    out = []
    for light in signals.lights:
        if light.id in already or math.cos(yaw - light.heading) <= 0.0:
            continue
        line = light.stop_line_array()
        if _segments_cross(p0, p1, line[0], line[1]) and light.phase_at(log_time) == "red":
            out.append(light.id)
    return tuple(out)


__all__ = [
    "NO_SIGNALS",
    "RedLightEvent",
    "SignalMap",
    "StopPoint",
    "build_signal_map",
    "lane_stop_gaps",
    "must_stop",
    "red_light_runs",
    "route_stop_ahead",
]

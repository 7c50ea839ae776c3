"""Lane references of scenario files, resolved on a road map at the ego's start pose.

A lane reference is one of

* ``ego``: the lane the ego starts in;
* ``ego_left`` / ``ego_right`` (= ``ego_left_1`` / ``ego_right_1``), ``ego_left_2`` ...: the k-th lane
  to the left / right of it, running the same way;
* ``ego_adjacent``: the lane next to the ego's running the same way, on its left if there is one,
  else on its right (a scenario that needs "a neighbour lane" on any road);
* ``oncoming`` (= ``oncoming_1``), ``oncoming_2`` ...: the k-th lane to the ego's left running the
  other way;
* any lane id of the map (``RoadMap.lane_ids``: the log's own lanes, or the derived ``ego``,
  ``ego_left_1``, ``track:<id>`` ... of :func:`jwmsim.sim.map.derive_lanes`).

The keywords make a scenario portable across logs; a map lane id pins it to one log.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from jwmsim.scenario.params import closest
from jwmsim.sim.map import RoadMap

_KEYWORD = re.compile(r"^(?:(ego)|ego_(left|right)(?:_(\d+))?|(oncoming)(?:_(\d+))?|(ego_adjacent))$")


class LaneRefError(ValueError):
    """A lane reference that names no lane here; the message says why."""


@dataclass(frozen=True)
class StartPose:
    """The ego's start pose in the world: rear-axle ``x``, ``y`` [m], ``yaw`` [rad]."""

    x: float
    y: float
    yaw: float


def is_keyword(ref: str) -> bool:
    return _KEYWORD.match(ref) is not None


def _ego_lane(road: RoadMap, pose: StartPose) -> tuple[int, float]:
    lane, s, _ = road.locate(pose.x, pose.y, pose.yaw)
    if lane < 0:
        raise LaneRefError(
            f"the ego's start pose ({pose.x:.1f}, {pose.y:.1f}) is on no lane (none within "
            f"{road.lane_width:g} m with a heading within 60 degrees)"
        )
    return lane, s


def _oncoming(road: RoadMap, lane: int, s: float, k: int) -> int:
    """The k-th distinct lane to the left of ``lane`` at ``s`` that runs the other way (-1: none)."""
    centre = road.lanes[lane].centreline
    found: list[int] = []
    step = road.lane_width / 2
    for j in range(1, 17):
        x, y, yaw = centre.frenet_to_xy(s, j * step)
        other, _, _ = road.locate(
            x, y, yaw + math.pi, max_heading_diff=math.pi / 6, max_distance=0.4 * road.lane_width
        )
        if other >= 0 and other != lane and other not in found:
            found.append(other)
            if len(found) == k:
                return other
    return -1


def resolve_lane(road: RoadMap, ref: str, pose: StartPose) -> int:
    """Index into ``road.lanes`` of lane reference ``ref`` for an ego starting at ``pose``.

    Raises:
        LaneRefError: no such lane (the message says what is missing).
    """
    m = _KEYWORD.match(ref)
    if m is None:
        if ref in road.lane_ids:
            return road.lane_ids.index(ref)
        near = closest(ref, road.lane_ids)
        raise LaneRefError(
            f"{ref!r} is neither a lane keyword nor a lane id of this map"
            + (f" (did you mean {near!r}?)" if near else "")
        )
    ego, side, side_k, oncoming, oncoming_k, adjacent = m.groups()
    lane, s = _ego_lane(road, pose)
    if ego:
        return lane
    if adjacent:
        s_lane = road.lanes[lane].centreline.project_point(pose.x, pose.y)[0]
        for side_name in ("left", "right"):
            nxt = road.neighbour(lane, side_name, s_lane)
            if nxt >= 0:
                return nxt
        raise LaneRefError(
            f"'ego_adjacent': the ego's lane {road.lanes[lane].id!r} has no neighbour running the same way"
        )
    if side:
        k = int(side_k or 1)
        current = lane
        for i in range(k):
            nxt = road.neighbour(
                current, side, road.lanes[current].centreline.project_point(pose.x, pose.y)[0]
            )
            if nxt < 0:
                raise LaneRefError(
                    f"{ref!r}: the ego's lane {road.lanes[lane].id!r} has only {i} lane(s) to "
                    f"its {side} running the same way"
                )
            current = nxt
        return current
    k = int(oncoming_k or 1)
    other = _oncoming(road, lane, s, k)
    if other < 0:
        raise LaneRefError(
            f"{ref!r}: no {k}. lane running against the ego to the left of its lane {road.lanes[lane].id!r}"
        )
    return other


def available_refs(road: RoadMap, pose: StartPose, limit: int = 12) -> list[str]:
    """Lane references that resolve here (keywords first, then map lane ids), for messages."""
    out = []
    for ref in (
        "ego",
        "ego_left",
        "ego_left_2",
        "ego_right",
        "ego_right_2",
        "ego_adjacent",
        "oncoming",
        "oncoming_2",
    ):
        try:
            resolve_lane(road, ref, pose)
            out.append(ref)
        except LaneRefError:
            pass
    ids = road.lane_ids
    out += ids[: max(0, limit - len(out))] + (["..."] if len(ids) > limit - len(out) else [])
    return out

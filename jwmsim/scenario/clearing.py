"""``log_actors.clear``: which log actors are in the way on the named lanes near the ego's start."""

from __future__ import annotations

import bisect
import math

import numpy as np

from jwmsim.logs.segment import LogSegment
from jwmsim.scenario.lanes import StartPose, resolve_lane
from jwmsim.scenario.params import options
from jwmsim.scenario.schema import Scenario
from jwmsim.sim.map import RoadMap


def cleared_actor_ids(scenario: Scenario, log: LogSegment, road: RoadMap, pose: StartPose) -> list[str]:
    """Ids of the log actors that ``scenario.log_actors.clear`` removes (sorted; overridden actors
    are kept).

    An actor is cleared when its box centre, at the start time (or at its first annotation if that
    is later, within the scenario's duration), lies within half a lane width of one of the lanes and
    between ``behind`` metres behind and ``ahead`` metres ahead of the ego's projection on that lane
    (ahead in the ego's direction of travel, also on a lane running the other way).

    Raises:
        LaneRefError: a lane reference names no lane (``validate_against_log`` reports it located).
    """
    spec = scenario.log_actors.clear
    if spec is None:
        return []
    t0 = float(max(options(scenario.ego.start_time)))
    t1 = t0 + float(max(options(scenario.duration)))
    keep = {ov.id for ov in scenario.log_actors.override}
    lanes = sorted({resolve_lane(road, str(ref), pose) for lane in spec.lanes for ref in options(lane)})
    ahead, behind = float(spec.ahead), float(spec.behind)
    # the ego's place on each lane, once (an environment builds a world at every reset)
    ego_on = []
    for li in lanes:
        line = road.lanes[li].centreline
        s_ego, _ = line.project_point(pose.x, pose.y)
        along = 1.0 if math.cos(line.heading_at(s_ego) - pose.yaw) >= 0 else -1.0  # "ahead" of the ego
        ego_on.append((line, s_ego, along))
    out = []
    for actor_id, track in log.tracks.items():
        if actor_id in keep or track.end < t0 or track.start > t1:
            continue
        p = _position_at(track.times, track.poses, max(t0, track.start))
        for line, s_ego, along in ego_on:
            s, d = line.project_point(float(p[0]), float(p[1]))
            if abs(d) <= road.lane_width / 2 and -behind <= along * (s - s_ego) <= ahead:
                out.append(actor_id)
                break
    return sorted(out)


def _position_at(times: tuple[float, ...], poses: tuple, t: float) -> np.ndarray:
    """The translation of ``ActorTrack.pose_at(t)`` (the same linear interpolation, without the
    rotation's slerp, which cost most of a reset's time)."""
    i = bisect.bisect_right(times, t)
    if i == 0:
        return poses[0].translation
    if i >= len(times):
        return poses[-1].translation
    alpha = (t - times[i - 1]) / (times[i] - times[i - 1])
    return (1.0 - alpha) * poses[i - 1].translation + alpha * poses[i].translation

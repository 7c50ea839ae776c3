"""Checks of a scenario against its seed log: what the schema alone cannot know.

* the ego start time lies within the log;
* removed and overridden log actors exist; inserted ids do not clash with log ids;
* trigger ``actor`` references name an actor present in the run (a log actor neither removed nor
  cleared, or an inserted one);
* behaviours of overridden log actors suit the actor's kind (no pedestrian crossing for a car);
* lane references (``lane``, ``cut_in.target_lane``, ``log_actors.clear.lanes``) name lanes of the
  road map at the ego's start; every option of a ``{choice: ...}`` is checked, ranges at their middle.

All problems found are reported together in one :class:`ScenarioError` (exit code 2).
"""

from __future__ import annotations

import math
from pathlib import Path

from jwmsim.logs.segment import LogSegment
from jwmsim.scenario.clearing import cleared_actor_ids
from jwmsim.scenario.errors import Issue, Loc, ScenarioError, format_loc, line_of, parse_path
from jwmsim.scenario.lanes import LaneRefError, StartPose, available_refs, resolve_lane
from jwmsim.scenario.loader import load_scenario, load_seed_log, source_lines
from jwmsim.scenario.params import closest, nominal, options
from jwmsim.scenario.schema import BEHAVIOUR_KINDS, CutIn, Scenario
from jwmsim.sim.map import RoadMap, build_road_map


def ego_start_pose(scenario: Scenario, log: LogSegment) -> StartPose:
    """The ego's start pose for the scenario's nominal values (ranges at their middle)."""
    t = float(nominal(scenario.ego.start_time))
    pose = log.ego_pose_at(t)
    off = scenario.ego.offset
    lon, lat, dyaw = (float(nominal(v)) for v in (off.longitudinal, off.lateral, off.yaw))
    yaw = pose.yaw
    x = pose.translation[0] + lon * math.cos(yaw) - lat * math.sin(yaw)
    y = pose.translation[1] + lon * math.sin(yaw) + lat * math.cos(yaw)
    return StartPose(float(x), float(y), float(yaw + dyaw))


def _ids_text(ids: list[str], limit: int = 8) -> str:
    shown = sorted(ids)[:limit]
    return f"{shown}" + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def validate_against_log(
    scenario: Scenario,
    log: LogSegment,
    path: str | Path,
    road: RoadMap | None = None,
    lane_width: float = 3.5,
) -> RoadMap:
    """Check ``scenario`` (loaded from ``path``) against its seed ``log``.

    Args:
        road: the road map of ``log`` if already built (default: built with ``lane_width`` [m]).

    Returns:
        The road map used (the bridge to the simulator reuses it).

    Raises:
        ScenarioError: every problem found, each with the file, line and field.
    """
    file = str(path)
    lines = source_lines(scenario)
    issues: list[Issue] = []

    def add(loc: Loc | str, found: str, expected: str) -> None:
        loc = parse_path(loc) if isinstance(loc, str) else loc
        issues.append(Issue(file, line_of(lines, loc), format_loc(loc), found, expected))

    # --- start time ---------------------------------------------------------------------------
    t_end = max(log.duration, log.ego_times[-1])
    for t in options(scenario.ego.start_time):
        if not 0.0 <= float(t) <= t_end:
            add("ego.start_time", f"{t:g} s", f"a time within the log {log.name!r}: 0 to {t_end:.2f} s")
            break

    # --- log actor ids ------------------------------------------------------------------------
    log_ids = list(log.tracks)
    removed = scenario.log_actors.remove
    removed_ids = set(log_ids) if removed == "all" else set(removed)

    def unknown_actor(loc: str, actor_id: str, what: str) -> None:
        near = closest(actor_id, log_ids)
        add(
            loc,
            f"{actor_id!r}, which is not an actor of the log {log.name!r}",
            f"the id of {what}: one of {_ids_text(log_ids)}" + (f" (did you mean {near!r}?)" if near else ""),
        )

    if removed != "all":
        for i, actor_id in enumerate(removed):
            if actor_id not in log.tracks:
                unknown_actor(f"log_actors.remove[{i}]", actor_id, "a log actor to remove")
    for j, ov in enumerate(scenario.log_actors.override):
        if ov.id not in log.tracks:
            unknown_actor(f"log_actors.override[{j}].id", ov.id, "a log actor to override")
            continue
        kind = log.tracks[ov.id].kind
        for key in ("behaviour", "then"):
            b = getattr(ov, key)
            if b is not None and kind not in BEHAVIOUR_KINDS[b.type]:
                add(
                    f"log_actors.override[{j}].{key}.type",
                    f"{b.type!r} for log actor {ov.id!r} ({kind})",
                    f"a behaviour for a {kind}: one of "
                    f"{[n for n, k in BEHAVIOUR_KINDS.items() if kind in k]}",
                )
    inserted = {a.id for a in scenario.actors}
    for i, actor in enumerate(scenario.actors):
        if actor.id in log.tracks:
            add(
                f"actors[{i}].id",
                f"{actor.id!r}, the id of an actor of the log",
                "a new id (to change a log actor, use log_actors.override)",
            )

    # --- lanes --------------------------------------------------------------------------------
    road = build_road_map(log, lane_width=lane_width) if road is None else road
    pose = ego_start_pose(scenario, log)
    refs: list[tuple[str, str]] = []
    if scenario.log_actors.clear is not None:
        for k, lane in enumerate(scenario.log_actors.clear.lanes):
            refs += [(f"log_actors.clear.lanes[{k}]", r) for r in options(lane)]
    for where, _, script in scenario.scripted():
        if where.startswith("actors["):
            refs += [(f"{where}.lane", r) for r in options(script.lane)]  # type: ignore[attr-defined]
        for key in ("behaviour", "then"):
            b = getattr(script, key)
            if isinstance(b, CutIn):
                refs += [(f"{where}.{key}.target_lane", r) for r in options(b.target_lane)]
    reported: set[str] = set()
    for loc, ref in refs:
        try:
            resolve_lane(road, str(ref), pose)
        except LaneRefError as err:
            if loc in reported:
                continue
            reported.add(loc)
            add(
                loc,
                str(err),
                f"a lane reference that exists on this log's road ({road.source} lanes): "
                f"one of {available_refs(road, pose)}",
            )
    if not any(loc.startswith("log_actors.clear") for loc in reported):
        removed_ids |= set(cleared_actor_ids(scenario, log, road, pose))

    # --- trigger references -------------------------------------------------------------------
    present = (set(log_ids) - removed_ids) | {ov.id for ov in scenario.log_actors.override} | inserted
    for where, _, script in scenario.scripted():
        trig = script.trigger
        ref = getattr(trig, "actor", None) if trig is not None else None
        if ref is None or ref in present:
            continue
        if ref in removed_ids:
            add(
                f"{where}.trigger.actor",
                f"{ref!r}, a log actor this scenario removes",
                "an actor present in the run (drop it from log_actors.remove / clear, or override it)",
            )
        else:
            near = closest(ref, sorted(present))
            add(
                f"{where}.trigger.actor",
                f"{ref!r}, which is neither in the log nor inserted",
                f"an inserted actor id {sorted(inserted)} or a log actor id"
                + (f" (did you mean {near!r}?)" if near else ""),
            )

    if issues:
        raise ScenarioError(issues)
    return road


def load_and_validate(path: str | Path) -> tuple[Scenario, LogSegment]:
    """Load a scenario file, its seed log, and check the scenario against the log."""
    scenario = load_scenario(path)
    log = load_seed_log(scenario)
    validate_against_log(scenario, log, path)
    return scenario, log

"""The bridge from a sampled scenario to the simulator: :class:`ConcreteScenario` -> :class:`World`.

What is built (:func:`build_world_for_run`):

* ``SimConfig.start_time`` / ``episode_seconds`` from ``ego.start_time`` / ``duration``;
* the ego's initial state (:class:`~jwmsim.sim.scripts.EgoStart`): the logged one at the start
  time, moved by ``ego.offset`` (in the logged ego frame) and with ``ego.speed`` when given;
* inserted actors: asset -> category and box size (:mod:`jwmsim.scenario.assets`); the pose is
  computed here from the lane reference (:mod:`jwmsim.scenario.lanes`), ``offset`` metres along the
  lane ahead of the (offset) ego's projection (on a lane running against the ego: towards the ego's
  front too), ``lateral`` to the lane's left and ``yaw`` off the lane's direction; speed from
  ``speed``, ``speed_ratio`` times the ego's start speed, or the ego's start speed;
* scripts: ``behaviour`` / ``trigger`` / ``then`` -> :class:`~jwmsim.sim.scripts.ActorScript`
  (behaviour and trigger names and parameters of :mod:`jwmsim.sim.behaviours` and
  :mod:`jwmsim.sim.triggers`; ``follow_lane`` is ``idm``; the crossing ``direction`` and ``angle``
  become the simulator's angle to the lane; ``ego_start`` waypoints become world waypoints);
* removed log actors (``all``: every one not overridden) and those ``log_actors.clear`` finds on
  the named lanes near the ego (:mod:`jwmsim.scenario.clearing`).

The scenario must be concrete (every range drawn, see :func:`jwmsim.scenario.jitter.sample`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from jwmsim.config import SimConfig
from jwmsim.errors import ConfigError
from jwmsim.logs.segment import LogSegment
from jwmsim.scenario.assets import known_assets
from jwmsim.scenario.clearing import cleared_actor_ids
from jwmsim.scenario.errors import ScenarioError
from jwmsim.scenario.jitter import ConcreteScenario, jittered_paths
from jwmsim.scenario.lanes import StartPose, is_keyword, resolve_lane
from jwmsim.scenario.loader import issue_at
from jwmsim.scenario.schema import (
    CutIn,
    EgoSpeedTrigger,
    HardBrake,
    PedestrianCrossing,
    Scenario,
    Scripted,
    Stop,
    TimeTrigger,
    TTCTrigger,
    Waypoints,
)
from jwmsim.scenario.validate import ego_start_pose
from jwmsim.sim.map import RoadMap, build_road_map
from jwmsim.sim.scripts import ActorScript, EgoStart, InsertedActor, TriggerSpec
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.triggers import TRIGGERS
from jwmsim.sim.world import World, build_world, initial_state

# What an inserted actor does when its file gives no behaviour, by kind.
DEFAULT_BEHAVIOUR = {"vehicle": "idm", "cyclist": "idm", "pedestrian": "constant_velocity", "static": "hold"}


def _num(value: Any) -> float:
    return float(value)


def _behaviour(spec: Any, road: RoadMap, pose: StartPose) -> tuple[str, dict[str, Any]]:
    """Simulator behaviour name and parameters of a (concrete) behaviour model."""
    kind = spec.type
    if kind in ("idm", "follow_lane"):
        return "idm", {"speed": None if spec.speed is None else _num(spec.speed)}
    if kind in ("constant_velocity", "hold", "log_replay"):
        return kind, {}
    if isinstance(spec, Stop):
        return "stop", {"decel": _num(spec.decel)}
    if isinstance(spec, HardBrake):
        return "hard_brake", {
            "decel": _num(spec.decel),
            "ramp": _num(spec.ramp),
            "stop_duration": math.inf if spec.stop_duration is None else _num(spec.stop_duration),
            "resume_speed": None if spec.resume_speed is None else _num(spec.resume_speed),
        }
    if isinstance(spec, CutIn):
        target = str(spec.target_lane)
        if target != "ego":  # "ego" stays dynamic: the ego's lane when the cut-in starts
            target = road.lanes[resolve_lane(road, target, pose)].id if is_keyword(target) else target
        return "cut_in", {
            "target_lane": target,
            "duration": _num(spec.duration),
            "speed": None if spec.speed is None else _num(spec.speed),
            "speed_ratio": None if spec.speed_ratio is None else _num(spec.speed_ratio),
        }
    if isinstance(spec, PedestrianCrossing):
        off_perpendicular = math.pi / 2 - _num(spec.angle)
        angle = off_perpendicular if spec.direction == "left" else -off_perpendicular
        return "pedestrian_crossing", {"speed": _num(spec.speed), "angle": angle}
    if isinstance(spec, Waypoints):
        pts = []
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        for p in spec.points:
            x, y = _num(p.x), _num(p.y)
            if spec.frame == "ego_start":
                x, y = pose.x + x * c - y * s, pose.y + x * s + y * c
            pts.append((float(p.t), x, y))
        return "waypoints", {"points": tuple(pts)}
    raise ConfigError(f"behaviour type {kind!r} has no simulator counterpart")  # schema and bridge disagree


def _trigger(spec: Any) -> TriggerSpec:
    if isinstance(spec, TimeTrigger):
        return TriggerSpec("time", {"at": _num(spec.at)})
    if isinstance(spec, EgoSpeedTrigger):
        return TriggerSpec(
            "ego_speed",
            {
                "min": 0.0 if spec.min is None else _num(spec.min),
                "max": math.inf if spec.max is None else _num(spec.max),
            },
        )
    if isinstance(spec, TTCTrigger):
        params: dict[str, Any] = {"ttc": _num(spec.ttc)}
    else:
        params = {"distance": _num(spec.distance), "ahead_only": bool(spec.ahead_only)}
    if spec.actor is not None:
        params["actor"] = spec.actor
    return TriggerSpec(spec.type, params)


def _script(
    scenario: Scenario,
    where: str,
    item: Scripted,
    default: str,
    road: RoadMap,
    pose: StartPose,
) -> ActorScript:
    first = _behaviour(item.behaviour, road, pose) if item.behaviour is not None else (default, {})
    if item.trigger is None or item.then is None:
        return ActorScript(behaviour=first[0], params=first[1], before=first[0], before_params=first[1])
    watched = getattr(item.trigger, "actor", None)
    if watched is not None and "actor" not in TRIGGERS.get(item.trigger.type).defaults:
        raise ScenarioError(
            [
                issue_at(
                    scenario,
                    (*_loc(where), "trigger", "actor"),
                    f"{watched!r}",
                    "no actor: this simulator's triggers only look at the actor they switch",
                )
            ]
        )
    then = _behaviour(item.then, road, pose)
    return ActorScript(
        behaviour=then[0],
        params=then[1],
        trigger=_trigger(item.trigger),
        before=first[0],
        before_params=first[1],
    )


def _loc(where: str) -> tuple[str | int, ...]:
    from jwmsim.scenario.errors import parse_path

    return parse_path(where)


def _inserted(
    scenario: Scenario, road: RoadMap, pose: StartPose, ego_speed: float
) -> tuple[list[InsertedActor], dict[str, ActorScript]]:
    assets = known_assets()
    actors, scripts = [], {}
    for i, spec in enumerate(scenario.actors):
        info = assets[spec.asset]
        lane = road.lanes[resolve_lane(road, str(spec.lane), pose)]
        s_ego, _ = lane.centreline.project_point(pose.x, pose.y)
        # offsets count ahead of the ego: on a lane running against it, that is backwards along the lane
        along = 1.0 if math.cos(lane.centreline.heading_at(s_ego) - pose.yaw) >= 0 else -1.0
        x, y, lane_yaw = lane.centreline.frenet_to_xy(s_ego + along * _num(spec.offset), _num(spec.lateral))
        if spec.speed is not None:
            speed = _num(spec.speed)
        elif spec.speed_ratio is not None:
            speed = _num(spec.speed_ratio) * ego_speed
        else:
            speed = ego_speed
        script = _script(scenario, f"actors[{i}]", spec, DEFAULT_BEHAVIOUR[info.kind], road, pose)
        actors.append(
            InsertedActor(
                id=spec.id,
                category=info.category,
                size_wlh=info.size_wlh,
                lane=None,
                pose=(float(x), float(y), float(lane_yaw + _num(spec.yaw))),
                speed=speed,
                script=script,
                asset=spec.asset,
            )
        )
        scripts[spec.id] = script
    return actors, scripts


def build_world_for_run(run: ConcreteScenario, log: LogSegment, config: SimConfig | None = None) -> World:
    """The simulator's :class:`World` for one sampled run of a scenario on its seed ``log``.

    Args:
        run: from :func:`jwmsim.scenario.jitter.sample`.
        log: the scenario's seed log (:func:`jwmsim.scenario.loader.load_seed_log`).
        config: simulation settings; ``start_time`` and ``episode_seconds`` are taken from the
            scenario.

    Raises:
        ConfigError: the scenario still has ranges, or names what the log lacks (run
            :func:`~jwmsim.scenario.validate.validate_against_log` first for located messages).
    """
    scenario = run.scenario
    left = jittered_paths(scenario)
    if left:
        raise ConfigError(
            f"scenario {scenario.name!r} still has ranges at {left}",
            hint="sample a run first: jwmsim.scenario.sample(scenario, run_index)",
        )
    config = replace(
        config or SimConfig(),
        start_time=_num(scenario.ego.start_time),
        episode_seconds=_num(scenario.duration),
    )
    road = build_road_map(log, config.lane_width, config.lane_extension)
    pose = ego_start_pose(scenario, log)
    ego_speed = (
        _num(scenario.ego.speed) if scenario.ego.speed is not None else log.ego_speed_at(config.start_time)
    )
    inserted, scripts = _inserted(scenario, road, pose, ego_speed)
    for j, ov in enumerate(scenario.log_actors.override):
        scripts[ov.id] = _script(scenario, f"log_actors.override[{j}]", ov, "log_replay", road, pose)
    overridden = {ov.id for ov in scenario.log_actors.override}
    removed = (
        [k for k in log.tracks if k not in overridden]
        if scenario.log_actors.remove == "all"
        else list(scenario.log_actors.remove)
    )
    removed += [k for k in cleared_actor_ids(scenario, log, road, pose) if k not in removed]
    off = scenario.ego.offset
    ego_start = EgoStart(
        longitudinal=_num(off.longitudinal),
        lateral=_num(off.lateral),
        yaw=_num(off.yaw),
        speed=None if scenario.ego.speed is None else _num(scenario.ego.speed),
    )
    return build_world(log, config, scripts=scripts, inserted=inserted, removed=removed, ego_start=ego_start)


def initial_state_for_run(
    run: ConcreteScenario, log: LogSegment, config: SimConfig | None = None
) -> SimState:
    """``initial_state(build_world_for_run(run, log, config))``."""
    return initial_state(build_world_for_run(run, log, config))


def script_summary(world: World) -> Mapping[str, str]:
    """``actor id -> "before -> behaviour"`` of the scripted actors (for messages and metrics.json)."""
    out = {}
    for actor_id, sc in zip(world.initial_actors.ids, world.scripts, strict=True):
        if sc.behaviour != "log_replay" or sc.trigger is not None:
            out[actor_id] = sc.behaviour if sc.trigger is None else f"{sc.before} -> {sc.behaviour}"
    return out

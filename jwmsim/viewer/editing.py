"""Edits of a scenario model from the viewer: move an inserted actor, change an actor's speed,
behaviour or trigger, insert an asset, remove an actor.

Each function takes a :class:`~jwmsim.scenario.schema.Scenario` and returns a new, validated one
(its YAML is parsed again, so what the viewer runs is exactly what *save* writes); the world is then
rebuilt from it (:meth:`jwmsim.viewer.session.Session.apply`). Inserted actors are edited in
``actors``; a log actor gets (or updates) its entry in ``log_actors.override``, and is removed by
``log_actors.remove``. Positions are scenario parameters: a dragged actor gets the lane, ``offset``
and ``lateral`` that place it at the drop point in the run shown.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from jwmsim.errors import ConfigError
from jwmsim.scenario.dump import scenario_to_yaml
from jwmsim.scenario.lanes import StartPose, resolve_lane
from jwmsim.scenario.loader import parse_scenario, source_file
from jwmsim.scenario.params import nominal
from jwmsim.scenario.schema import BEHAVIOUR_KINDS, Behaviour, Scenario, Trigger
from jwmsim.sim.world import World
from jwmsim.viewer.options import ViewerOptions

OFFSET_LIMIT = 200.0  # [m] schema bounds of InsertedActor.offset / lateral
LATERAL_LIMIT = 20.0
# behaviours offered when cycling (waypoints need points: write them in the file)
_CYCLE_SKIP = ("follow_lane", "waypoints")
TRIGGER_CYCLE = (None, "time", "distance_to_ego", "ttc", "ego_speed")
# a new trigger's parameters, and the step of K / L per trigger type
TRIGGER_DEFAULTS: dict[str, tuple[str, float, float]] = {
    "time": ("at", 2.0, 0.5),
    "distance_to_ego": ("distance", 15.0, 2.5),
    "ttc": ("ttc", 3.0, 0.5),
    "ego_speed": ("min", 5.0, 1.0),
}
THEN_DEFAULT = {
    "vehicle": "hard_brake",
    "cyclist": "stop",
    "pedestrian": "pedestrian_crossing",
    "static": "hold",
}
_BEHAVIOUR = TypeAdapter(Behaviour)
_TRIGGER = TypeAdapter(Trigger)


class EditError(ConfigError):
    """An edit that cannot be made (shown in the viewer's status line)."""


def revalidated(scenario: Scenario) -> Scenario:
    """``scenario`` parsed again from its YAML (checks every field; keeps its source file for
    relative paths)."""
    src = source_file(scenario)
    return parse_scenario(scenario_to_yaml(scenario), src if src is not None else "<edited scenario>")


def inserted_index(scenario: Scenario, actor_id: str) -> int | None:
    """Index in ``scenario.actors`` of inserted actor ``actor_id`` (None: not inserted)."""
    return next((i for i, a in enumerate(scenario.actors) if a.id == actor_id), None)


def behaviour_cycle(kind: str, log_actor: bool) -> list[str]:
    """Behaviour types the viewer cycles through for a road user of ``kind``."""
    names = [n for n, kinds in BEHAVIOUR_KINDS.items() if kind in kinds and n not in _CYCLE_SKIP]
    return [n for n in names if log_actor or n != "log_replay"]


def _next(items: list[Any] | tuple[Any, ...], current: Any) -> Any:
    return items[(items.index(current) + 1) % len(items)] if current in items else items[0]


def _with_script(scenario: Scenario, actor_id: str, **update: Any) -> Scenario:
    """``scenario`` with fields of actor ``actor_id``'s entry replaced (an inserted actor's, or its
    log override, created when missing)."""
    i = inserted_index(scenario, actor_id)
    if i is not None:
        actors = list(scenario.actors)
        actors[i] = actors[i].model_copy(update=update)
        return revalidated(scenario.model_copy(update={"actors": actors}))
    la = scenario.log_actors
    overrides = list(la.override)
    j = next((k for k, o in enumerate(overrides) if o.id == actor_id), None)
    if j is None:
        from jwmsim.scenario.schema import LogActorOverride

        overrides.append(LogActorOverride(id=actor_id))
        j = len(overrides) - 1
    overrides[j] = overrides[j].model_copy(update=update)
    return revalidated(
        scenario.model_copy(update={"log_actors": la.model_copy(update={"override": overrides})})
    )


def _script_of(scenario: Scenario, actor_id: str) -> Any:
    i = inserted_index(scenario, actor_id)
    if i is not None:
        return scenario.actors[i]
    return next((o for o in scenario.log_actors.override if o.id == actor_id), None)


# --- position ---------------------------------------------------------------------------------------
def _start_pose(world: World) -> StartPose:
    e = world.initial_ego
    return StartPose(float(e.x), float(e.y), float(e.yaw))


def placement(
    world: World, lane_ref: str | None, x: float, y: float, yaw: float | None = None
) -> dict[str, Any]:
    """``lane``, ``offset``, ``lateral`` [m] that put an inserted actor's centre at world ``(x, y)``
    in ``world`` (offsets count from the ego's start projection onto the lane, ahead of the ego).

    The actor keeps ``lane_ref`` when the point lies on that lane (within one lane width); else it
    takes the lane id of the nearest lane (heading within 60 degrees of ``yaw`` when given).
    """
    road, pose = world.road, _start_pose(world)
    current = resolve_lane(road, lane_ref, pose) if lane_ref is not None else -1
    found, _, _ = road.locate(x, y, yaw)
    if found < 0 and current < 0:
        found, _, _ = road.locate(x, y, None, max_distance=3 * road.lane_width)
        if found < 0:
            raise EditError(f"no lane near ({x:.1f}, {y:.1f})", hint="drop the actor on or next to a lane")
    lane_idx = current if (found < 0 or found == current) else found
    ref = lane_ref if lane_idx == current else road.lanes[lane_idx].id
    line = road.lanes[lane_idx].centreline
    s_ego, _ = line.project_point(pose.x, pose.y)
    along = 1.0 if math.cos(line.heading_at(s_ego) - pose.yaw) >= 0 else -1.0
    s, d = line.project_point(x, y)
    offset = round(along * (s - s_ego), 2)
    lateral = round(d, 2)
    if abs(offset) > OFFSET_LIMIT or abs(lateral) > LATERAL_LIMIT:
        raise EditError(
            f"({x:.1f}, {y:.1f}) is {offset:.0f} m along / {lateral:.0f} m beside lane {ref!r}",
            hint=f"offsets within +-{OFFSET_LIMIT:g} m and lateral within +-{LATERAL_LIMIT:g} m of a lane",
        )
    return {"lane": ref, "offset": offset, "lateral": lateral}


def move_actor(
    scenario: Scenario, concrete: Scenario, world: World, actor_id: str, x: float, y: float
) -> Scenario:
    """Inserted actor ``actor_id`` starting at world ``(x, y)`` (``concrete``: the sampled run shown,
    whose lane draw is kept)."""
    i = inserted_index(scenario, actor_id)
    if i is None:
        raise EditError(
            f"{actor_id!r} is a log actor: it follows its logged track",
            hint="drag inserted actors; give a log actor a behaviour (B) or remove it (Del)",
        )
    k = world.initial_actors.ids.index(actor_id)
    yaw = float(world.initial_actors.yaw[k])
    return _with_script(scenario, actor_id, **placement(world, str(concrete.actors[i].lane), x, y, yaw))


# --- speed, behaviour, trigger ----------------------------------------------------------------------
def change_speed(scenario: Scenario, actor_id: str, current: float, delta: float) -> Scenario:
    """Start speed of an inserted actor (``current`` + ``delta`` [m/s], replacing a ``speed_ratio``);
    for a log actor, the desired speed of an IDM override."""
    new = round(min(60.0, max(0.0, current + delta)), 2)
    if inserted_index(scenario, actor_id) is not None:
        return _with_script(scenario, actor_id, speed=new, speed_ratio=None)
    return _with_script(
        scenario, actor_id, behaviour=_BEHAVIOUR.validate_python({"type": "idm", "speed": new})
    )


def cycle_behaviour(scenario: Scenario, actor_id: str, kind: str) -> Scenario:
    """The next behaviour type (with its default parameters) for the actor's ``behaviour``."""
    script = _script_of(scenario, actor_id)
    log_actor = inserted_index(scenario, actor_id) is None
    current = script.behaviour.type if script is not None and script.behaviour is not None else None
    if current is None:
        current = "log_replay" if log_actor else None
    name = _next(behaviour_cycle(kind, log_actor), current)
    return _with_script(scenario, actor_id, behaviour=_BEHAVIOUR.validate_python({"type": name}))


def cycle_then(scenario: Scenario, actor_id: str, kind: str) -> Scenario:
    """The next behaviour type for the actor's ``then`` (it needs a trigger)."""
    script = _script_of(scenario, actor_id)
    if script is None or script.trigger is None:
        raise EditError(f"{actor_id!r} has no trigger", hint="give it one first (T)")
    log_actor = inserted_index(scenario, actor_id) is None
    name = _next(behaviour_cycle(kind, log_actor), script.then.type if script.then else None)
    return _with_script(scenario, actor_id, then=_BEHAVIOUR.validate_python({"type": name}))


def cycle_trigger(scenario: Scenario, actor_id: str, kind: str) -> Scenario:
    """The next trigger type (none, time, distance_to_ego, ttc, ego_speed) with default parameters;
    a new trigger gets a ``then`` suited to ``kind`` when it has none."""
    script = _script_of(scenario, actor_id)
    current = script.trigger.type if script is not None and script.trigger is not None else None
    name = _next(TRIGGER_CYCLE, current)
    if name is None:
        return _with_script(scenario, actor_id, trigger=None, then=None)
    key, value, _ = TRIGGER_DEFAULTS[name]
    trigger = _TRIGGER.validate_python({"type": name, key: value})
    then = script.then if script is not None and script.then is not None else None
    if then is None:
        then = _BEHAVIOUR.validate_python({"type": THEN_DEFAULT[kind]})
    return _with_script(scenario, actor_id, trigger=trigger, then=then)


def adjust_trigger(scenario: Scenario, actor_id: str, sign: float) -> Scenario:
    """The actor's trigger parameter (time, distance, TTC or minimum ego speed) one step up
    (``sign`` > 0) or down; a range becomes its middle moved by the step."""
    script = _script_of(scenario, actor_id)
    if script is None or script.trigger is None:
        raise EditError(f"{actor_id!r} has no trigger", hint="give it one first (T)")
    key, _, step = TRIGGER_DEFAULTS[script.trigger.type]
    value = getattr(script.trigger, key)
    base = float(nominal(value)) if value is not None else 0.0
    new = round(max(step, base + math.copysign(step, sign)), 2)
    return _with_script(scenario, actor_id, trigger=script.trigger.model_copy(update={key: new}))


# --- insert, remove ---------------------------------------------------------------------------------
def new_actor_id(scenario: Scenario, world: World, asset: str) -> str:
    """``<asset>_<n>``, free among the inserted and the log actors."""
    taken = {a.id for a in scenario.actors} | set(world.initial_actors.ids) | set(world.segment.tracks)
    n = 1
    while f"{asset}_{n}" in taken:
        n += 1
    return f"{asset}_{n}"


def insert_asset(
    scenario: Scenario, world: World, asset: str, at: tuple[float, float] | None = None
) -> tuple[Scenario, str]:
    """A new actor of library ``asset`` at world point ``at`` (None: 20 m ahead in the ego's lane);
    vehicles start at the ego's speed, the others standing. Returns the scenario and the new id."""
    from jwmsim.scenario.assets import known_assets
    from jwmsim.scenario.schema import InsertedActor

    info = known_assets().get(asset)
    if info is None:
        raise EditError(f"unknown asset {asset!r}", hint=f"one of {sorted(known_assets())}")
    place = {"lane": "ego", "offset": 20.0, "lateral": 0.0} if at is None else placement(world, None, *at)
    if place["lane"] != "ego":
        ego_lane = resolve_lane(world.road, "ego", _start_pose(world))
        if place["lane"] == world.road.lanes[ego_lane].id:
            place["lane"] = "ego"
    aid = new_actor_id(scenario, world, asset)
    speed = None if info.kind in ("vehicle", "cyclist") else 0.0
    actor = InsertedActor(id=aid, asset=asset, speed=speed, **place)
    return revalidated(scenario.model_copy(update={"actors": [*scenario.actors, actor]})), aid


def remove_actor(scenario: Scenario, actor_id: str) -> Scenario:
    """Scenario without inserted actor ``actor_id``; a log actor is added to ``log_actors.remove``
    (and its override dropped)."""
    i = inserted_index(scenario, actor_id)
    if i is not None:
        return revalidated(
            scenario.model_copy(update={"actors": [a for a in scenario.actors if a.id != actor_id]})
        )
    la = scenario.log_actors
    if la.remove == "all":
        raise EditError("every log actor is removed already (remove: all)")
    update = {
        "remove": [*la.remove, actor_id] if actor_id not in la.remove else list(la.remove),
        "override": [o for o in la.override if o.id != actor_id],
    }
    return revalidated(scenario.model_copy(update={"log_actors": la.model_copy(update=update)}))


def save_target(scenario: Scenario, options: ViewerOptions) -> Path:
    """Where *save* writes: ``options.save``, else the scenario's own file, except a library
    scenario (shipped with jwmsim), which is saved as ``./<name>.yaml``."""
    from jwmsim.scenario.library import library_dir

    if options.save is not None:
        return Path(options.save)
    src = source_file(scenario)
    if src is None or Path(src).resolve().parent == Path(library_dir()).resolve():
        return Path.cwd() / f"{scenario.name or 'scenario'}.yaml"
    return Path(src)

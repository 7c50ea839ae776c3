"""The scenario file format, version 1 (pydantic models; every model refuses unknown fields).

A scenario describes a situation once, on a seed log, to be replayed many times with jitter::

    version: 1
    log: builtin                      # or {dataroot: DIR, scene: NAME, version: v1.0-mini}
    ego: {start_time: 2.0, offset: {longitudinal: 0, lateral: 0, yaw: 0}}
    agent: idm                        # a registered planner by name, NAME:PATH (sb3:policy.zip) or a
                                      # .py file; paths are relative to this file
    duration: 12                      # [s], at most 60
    runs: 20                          # jittered runs
    seed: 7
    log_actors: {remove: [id, ...], override: [{id: ..., behaviour: ..., trigger: ..., then: ...}]}
    actors:                           # inserted actors
      - id: cutter
        asset: sedan
        lane: {choice: [ego_left, ego_right]}
        offset: {uniform: [-6, 2]}    # [m] along the lane from the ego's start projection
        speed_ratio: {uniform: [1.0, 1.2]}
        behaviour: {type: idm}        # until the trigger fires
        trigger: {type: distance_to_ego, distance: {uniform: [10, 20]}}
        then: {type: cut_in, target_lane: ego, duration: 2.0}

Units are SI: metres, seconds, m/s, m/s^2, radians. Every numeric parameter marked jitterable
accepts ``{uniform: [lo, hi]}`` or ``{choice: [...]}`` (see :mod:`jwmsim.scenario.params`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from jwmsim.scenario.assets import asset_names, known_assets
from jwmsim.scenario.params import Choice, Name, Number, Uniform, options, value_error

SCHEMA_VERSION = 1
MAX_DURATION = 60.0  # [s] longest scenario
SIDES = ("left", "right")
LANE_KEYWORDS = ("ego", "ego_left", "ego_right", "ego_adjacent", "oncoming")


def _version(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value == SCHEMA_VERSION:
        return value
    raise value_error(value, f"{SCHEMA_VERSION} (the only scenario schema version this jwmsim reads)")


class Spec(BaseModel):
    """Base of every scenario model: frozen, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


LaneRef = Name("lane reference")  # a keyword of LANE_KEYWORDS (+ _2, _3 ...) or a lane id of the map
ActorRef = Annotated[str, Field(min_length=1)]


# ------------------------------------------------------------------------------------------------
# Triggers: when an actor switches from ``behaviour`` to ``then`` (jwmsim.sim.triggers)
# ------------------------------------------------------------------------------------------------
class TimeTrigger(Spec):
    """Fires ``at`` seconds after the scenario start."""

    type: Literal["time"]
    at: Number(ge=0, le=MAX_DURATION, unit="s")


class DistanceToEgoTrigger(Spec):
    """Fires when the distance from the ego's centre to the actor's centre falls to ``distance``
    metres (with ``ahead_only``: only while the actor is ahead of the ego). ``actor``: whose
    distance counts (default: the scripted actor itself)."""

    type: Literal["distance_to_ego"]
    distance: Number(gt=0, le=500, unit="m")
    ahead_only: bool = False
    actor: ActorRef | None = None


class TTCTrigger(Spec):
    """Fires when the ego's time to collision with the actor ahead (bumper gap over closing speed)
    falls to ``ttc`` seconds. ``actor``: as for ``distance_to_ego``."""

    type: Literal["ttc"]
    ttc: Number(gt=0, le=60, unit="s")
    actor: ActorRef | None = None


class EgoSpeedTrigger(Spec):
    """Fires when the ego's speed is within ``[min, max]`` [m/s] (give at least one)."""

    type: Literal["ego_speed"]
    min: Number(ge=0, le=60, unit="m/s") | None = None
    max: Number(ge=0, le=60, unit="m/s") | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> EgoSpeedTrigger:
        if self.min is None and self.max is None:
            raise value_error("neither min nor max", "min and/or max [m/s]", already_described=True)
        if self.min is not None and self.max is not None and max(options(self.min)) > min(options(self.max)):
            raise PydanticCustomError(
                "jwm_value",
                "found {found}, expected {expected}",
                {"found": f"min {self.min} above max {self.max}", "expected": "min <= max", "field": "min"},
            )
        return self


Trigger = Annotated[
    TimeTrigger | DistanceToEgoTrigger | TTCTrigger | EgoSpeedTrigger,
    Field(discriminator="type"),
]
TRIGGER_TYPES = ("time", "distance_to_ego", "ttc", "ego_speed")


# ------------------------------------------------------------------------------------------------
# Behaviours (jwmsim.sim.behaviours; same names and parameters)
# ------------------------------------------------------------------------------------------------
class IDM(Spec):
    """Follow the lane with the Intelligent Driver Model behind whoever is ahead, at desired
    ``speed`` (default: the speed when it starts). ``follow_lane`` is the same behaviour."""

    type: Literal["idm", "follow_lane"]
    speed: Number(ge=0, le=60, unit="m/s") | None = None


class ConstantVelocity(Spec):
    """Straight on at the current speed and heading (ignores the lane and others)."""

    type: Literal["constant_velocity"]


class Hold(Spec):
    """Stand still (a stalled vehicle, a waiting pedestrian)."""

    type: Literal["hold"]


class Stop(Spec):
    """Brake along the lane at ``decel`` [m/s^2] to a standstill, then stand."""

    type: Literal["stop"]
    decel: Number(gt=0, le=12, unit="m/s^2") = 3.0


class HardBrake(Spec):
    """Emergency braking: deceleration ramps to ``decel`` over ``ramp`` seconds until standstill;
    after ``stop_duration`` seconds standing (null: never) drive off to ``resume_speed`` (null: the
    speed it braked from)."""

    type: Literal["hard_brake"]
    decel: Number(gt=0, le=12, unit="m/s^2") = 8.0
    ramp: Number(ge=0, le=5, unit="s") = 0.5
    stop_duration: Number(ge=0, unit="s") | None = None
    resume_speed: Number(ge=0, le=60, unit="m/s") | None = None


class CutIn(Spec):
    """Change into ``target_lane`` (default ``ego``: the ego's lane when the cut-in starts) over
    ``duration`` seconds, then follow it at ``speed`` [m/s] or ``speed_ratio`` times the ego's speed
    (default: its own speed)."""

    type: Literal["cut_in"]
    target_lane: LaneRef = "ego"
    duration: Number(gt=0, le=10, unit="s") = 2.0
    speed: Number(ge=0, le=60, unit="m/s") | None = None
    speed_ratio: Number(ge=0, le=5) | None = None


class PedestrianCrossing(Spec):
    """Walk straight across the road at ``speed`` towards the ``direction`` side of the nearest
    lane (``left``: from its right to its left), ``angle`` radians off the perpendicular (positive:
    turned towards the lane's direction of travel)."""

    type: Literal["pedestrian_crossing"]
    speed: Number(gt=0, le=5, unit="m/s") = 1.4
    direction: Name("side", SIDES) = "left"
    angle: Number(ge=-1.2, le=1.2, unit="rad") = 0.0


class Waypoint(Spec):
    """A position to reach ``t`` seconds after the behaviour starts."""

    t: Annotated[float, Field(ge=0)]
    x: Number(unit="m")
    y: Number(unit="m")


class Waypoints(Spec):
    """Move through ``points`` (linear in time between them, heading along the motion, holding at
    the last); ``frame`` ``ego_start``: x forward, y left of the ego's start pose; ``world``: the
    log's world frame."""

    type: Literal["waypoints"]
    frame: Literal["ego_start", "world"] = "ego_start"
    points: Annotated[list[Waypoint], Field(min_length=2)]

    @field_validator("points")
    @classmethod
    def _increasing(cls, points: list[Waypoint]) -> list[Waypoint]:
        times = [p.t for p in points]
        if any(b <= a for a, b in zip(times, times[1:], strict=False)):
            raise value_error(
                f"times {times}", "strictly increasing waypoint times t", already_described=True
            )
        return points


class LogReplay(Spec):
    """Follow the logged track (log actors only); released to IDM after the log ends."""

    type: Literal["log_replay"]


Behaviour = Annotated[
    IDM | ConstantVelocity | Hold | Stop | HardBrake | CutIn | PedestrianCrossing | Waypoints | LogReplay,
    Field(discriminator="type"),
]
BEHAVIOUR_TYPES = (
    "idm",
    "follow_lane",
    "constant_velocity",
    "hold",
    "stop",
    "hard_brake",
    "cut_in",
    "pedestrian_crossing",
    "waypoints",
    "log_replay",
)
_MOVERS = ("vehicle", "cyclist")
_ALL = ("vehicle", "cyclist", "pedestrian", "static")
# Which road users each behaviour can move (AssetInfo.kind / category_kind).
BEHAVIOUR_KINDS: dict[str, tuple[str, ...]] = {
    "idm": _MOVERS,
    "follow_lane": _MOVERS,
    "constant_velocity": ("vehicle", "cyclist", "pedestrian"),
    "hold": _ALL,
    "stop": _MOVERS + ("pedestrian",),
    "hard_brake": _MOVERS,
    "cut_in": _MOVERS,
    "pedestrian_crossing": ("pedestrian", "cyclist"),
    "waypoints": _ALL,
    "log_replay": _ALL,
}


class Scripted(Spec):
    """An actor's script: ``behaviour`` from the start; when ``trigger`` fires, ``then``."""

    behaviour: Behaviour | None = None
    trigger: Trigger | None = None
    then: Behaviour | None = None

    @model_validator(mode="after")
    def _trigger_and_then(self) -> Scripted:
        if (self.trigger is None) != (self.then is None):
            found = "a trigger without 'then'" if self.then is None else "'then' without a trigger"
            raise PydanticCustomError(
                "jwm_value",
                "found {found}, expected {expected}",
                {
                    "found": found,
                    "expected": "both 'trigger' and 'then' (what the actor does once it fires), or neither",
                    "field": "trigger" if self.then is None else "then",
                },
            )
        return self


# ------------------------------------------------------------------------------------------------
# Actors
# ------------------------------------------------------------------------------------------------
class InsertedActor(Scripted):
    """A new actor, placed on ``lane`` ``offset`` metres ahead of the ego's start projection onto
    it (ahead in the ego's direction of travel, also on a lane running the other way), ``lateral``
    metres to the lane's left, heading ``yaw`` radians off the lane's direction; initial speed
    ``speed`` [m/s] or ``speed_ratio`` times the ego's start speed (default: the ego's start speed).
    Without a ``behaviour``, vehicles follow their lane with IDM, pedestrians walk straight on,
    static objects stand."""

    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    asset: Annotated[
        str,
        PlainValidator(lambda v: _asset(v)),
        WithJsonSchema(
            {
                "type": "string",
                "description": "a shipped actor asset (jwmsim.gaussians.assets), or an actor cut from a "
                "reconstructed log: bank:<entry name> or bank:<class> (jwmsim.gaussians.actor_bank)",
            }
        ),
    ]
    lane: LaneRef = "ego"
    offset: Number(ge=-200, le=200, unit="m") = 20.0
    lateral: Number(ge=-20, le=20, unit="m") = 0.0
    yaw: Number(ge=-3.1416, le=3.1416, unit="rad") = 0.0
    speed: Number(ge=0, le=60, unit="m/s") | None = None
    speed_ratio: Number(ge=0, le=5) | None = None

    @model_validator(mode="after")
    def _one_speed(self) -> InsertedActor:
        if self.speed is not None and self.speed_ratio is not None:
            raise PydanticCustomError(
                "jwm_value",
                "found {found}, expected {expected}",
                {
                    "found": "both speed and speed_ratio",
                    "expected": "at most one of them",
                    "field": "speed_ratio",
                },
            )
        return self

    @property
    def kind(self) -> str:
        return known_assets()[self.asset].kind


def _asset(value: Any) -> str:
    from jwmsim.scenario.params import unknown_name_error

    if not isinstance(value, str):
        raise value_error(value, f"an asset name, one of {asset_names()}")
    if value not in known_assets():
        raise unknown_name_error("asset", value, asset_names())
    return value


class LogActorOverride(Scripted):
    """A log actor whose logged motion is replaced (``behaviour`` defaults to log replay)."""

    id: ActorRef


class ClearLanes(Spec):
    """Remove the log actors standing or driving on ``lanes`` (lane references, within half a lane
    width of the centreline) from ``behind`` metres behind to ``ahead`` metres ahead of the ego's
    start projection, at the start time (or when they first appear, if later). Independent of the
    log's actor ids, so a scenario keeps working on another log."""

    lanes: Annotated[list[LaneRef], Field(min_length=1)]
    ahead: Number(ge=0, le=1000, unit="m", jitter=False) = 60.0
    behind: Number(ge=0, le=1000, unit="m", jitter=False) = 0.0


class LogActors(Spec):
    """What happens to the actors of the log: all are replayed, except those removed (``all``
    removes every one not overridden), those on the lanes ``clear`` names, and those overridden
    (an overridden actor is never removed)."""

    remove: Literal["all"] | list[ActorRef] = Field(default_factory=list)
    clear: ClearLanes | None = None
    override: list[LogActorOverride] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Log, ego, scenario
# ------------------------------------------------------------------------------------------------
class LogRef(Spec):
    """The seed log: ``builtin`` (the procedural town) or a nuScenes-format ``dataroot`` (relative
    paths are relative to the scenario file; ``~`` and ``$VARS`` are expanded), with ``scene``
    (default: the first) and table ``version`` (default: the only one)."""

    builtin: bool = False
    dataroot: str | None = None
    scene: str | None = None
    version: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data == "builtin":
            return {"builtin": True}
        if isinstance(data, str):
            return {"dataroot": data}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> LogRef:
        if self.builtin == (self.dataroot is not None):
            found = "both builtin and dataroot" if self.builtin else "neither builtin nor dataroot"
            raise value_error(found, "'builtin' or {dataroot: DIR, scene: NAME}", already_described=True)
        if self.builtin and (self.scene or self.version):
            raise value_error(
                "scene/version with the built-in log", "them only with a dataroot", already_described=True
            )
        return self


class PoseOffset(Spec):
    """Offset of the ego's start pose from the logged one, in the logged ego frame."""

    longitudinal: Number(ge=-50, le=50, unit="m") = 0.0
    lateral: Number(ge=-10, le=10, unit="m") = 0.0
    yaw: Number(ge=-3.1416, le=3.1416, unit="rad") = 0.0


class EgoSpec(Spec):
    """Where and how the ego starts: log time ``start_time`` [s], ``offset`` from the logged pose,
    initial ``speed`` (default: the logged speed)."""

    start_time: Number(ge=0, unit="s") = 0.0
    offset: PoseOffset = Field(default_factory=PoseOffset)
    speed: Number(ge=0, le=60, unit="m/s") | None = None


class Scenario(Spec):
    """A scenario file (version 1)."""

    version: Annotated[int, PlainValidator(_version), WithJsonSchema({"const": SCHEMA_VERSION})]
    name: str | None = None
    description: str = ""
    log: LogRef = Field(default_factory=lambda: LogRef(builtin=True))
    ego: EgoSpec = Field(default_factory=EgoSpec)
    agent: Annotated[str, Field(min_length=1)] | None = None
    duration: Number(gt=0, le=MAX_DURATION, unit="s") = 20.0
    runs: Annotated[int, Field(ge=1, le=10000)] = 1
    seed: Annotated[int, Field(ge=0)] = 0
    log_actors: LogActors = Field(default_factory=LogActors)
    actors: list[InsertedActor] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        problems = cross_field_problems(self)
        if problems:
            raise PydanticCustomError(
                "jwm_value",
                "found {found}, expected {expected}",
                {"found": problems[0][1], "expected": problems[0][2], "issues": problems},
            )
        return self

    # --- helpers ------------------------------------------------------------------------------
    def scripted(self) -> list[tuple[str, str, Scripted]]:
        """``(field path, actor id, script)`` of every inserted and overridden actor."""
        out: list[tuple[str, str, Scripted]] = [(f"actors[{i}]", a.id, a) for i, a in enumerate(self.actors)]
        out += [(f"log_actors.override[{j}]", o.id, o) for j, o in enumerate(self.log_actors.override)]
        return out


def cross_field_problems(s: Scenario) -> list[tuple[str, str, str]]:
    """``(field path, found, expected)`` of every problem spanning several fields."""
    out: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    for i, actor in enumerate(s.actors):
        if actor.id in seen:
            out.append(
                (
                    f"actors[{i}].id",
                    f"id {actor.id!r} again (actors[{seen[actor.id]}] has it)",
                    "a unique id per inserted actor",
                )
            )
        seen.setdefault(actor.id, i)
        for key in ("behaviour", "then"):
            b = getattr(actor, key)
            if b is None:
                continue
            if b.type == "log_replay":
                out.append(
                    (
                        f"actors[{i}].{key}.type",
                        "'log_replay' on an inserted actor",
                        "log_replay only for log actors (an inserted actor has no logged track)",
                    )
                )
            elif actor.kind not in BEHAVIOUR_KINDS[b.type]:
                fits = [n for n, k in BEHAVIOUR_KINDS.items() if actor.kind in k and n != "log_replay"]
                out.append(
                    (
                        f"actors[{i}].{key}.type",
                        f"{b.type!r} for asset {actor.asset!r} ({actor.kind})",
                        f"a behaviour for a {actor.kind}: one of {fits}",
                    )
                )
    removed = s.log_actors.remove
    for j, ov in enumerate(s.log_actors.override):
        if removed != "all" and ov.id in removed:
            out.append(
                (
                    f"log_actors.override[{j}].id",
                    f"{ov.id!r} both removed and overridden",
                    "an actor either in remove or in override",
                )
            )
    return out


__all__ = [
    "BEHAVIOUR_KINDS",
    "BEHAVIOUR_TYPES",
    "Behaviour",
    "Choice",
    "ConstantVelocity",
    "CutIn",
    "DistanceToEgoTrigger",
    "EgoSpec",
    "EgoSpeedTrigger",
    "Hold",
    "HardBrake",
    "IDM",
    "InsertedActor",
    "LANE_KEYWORDS",
    "LogActorOverride",
    "LogActors",
    "LogRef",
    "LogReplay",
    "MAX_DURATION",
    "PedestrianCrossing",
    "PoseOffset",
    "SCHEMA_VERSION",
    "Scenario",
    "Scripted",
    "Stop",
    "TRIGGER_TYPES",
    "TTCTrigger",
    "TimeTrigger",
    "Trigger",
    "Uniform",
    "Waypoint",
    "Waypoints",
    "options",
]

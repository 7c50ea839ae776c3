"""Actor behaviours: named, registered, each a pure function ``(actor, context, params) -> actor``.

A behaviour receives a read-only :class:`ActorView` of one actor at the start of the step and a
:class:`BehaviourContext` (time, ego, road, leader gaps, rng), and returns the actor at the end of
the step. Its memory (a read-only mapping it returns inside the view) is kept between steps and
reset when the actor's behaviour changes; ``memory["t0"]`` is the episode time it started.

A package adds one as an entry of the ``jwmsim.behaviours`` entry-point group (jwmsim declares its
own built-ins the same way in ``pyproject.toml``)::

    @behaviour("swerve", amplitude=1.0)      # my_package/behaviours.py
    def swerve(actor, ctx, params): ...

    [project.entry-points."jwmsim.behaviours"]
    swerve = "my_package.behaviours:swerve"

:func:`register_behaviour` registers one at run time instead (a notebook, a test). A name can be
taken only once.

Built-ins: ``log_replay`` (interpolated log poses; vectorised in :mod:`jwmsim.sim.traffic`),
``idm`` (lane following with the Intelligent Driver Model), ``constant_velocity``, ``hold``,
``stop``, ``hard_brake``, ``cut_in``, ``pedestrian_crossing``, ``waypoints``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from jwmsim.config import IDMParams
from jwmsim.errors import ConfigError
from jwmsim.registry import ENTRY_POINT_GROUPS, Registry
from jwmsim.sim.state import ActorsState, EgoState

if TYPE_CHECKING:
    from jwmsim.sim.context import World


@dataclass(frozen=True)
class ActorView:
    """One actor's kinematic state (see :class:`~jwmsim.sim.state.ActorsState` for the fields)."""

    index: int
    id: str
    kind: str
    length: float
    width: float
    height: float
    x: float
    y: float
    z: float
    yaw: float
    speed: float
    accel: float
    active: bool
    lane: int
    s: float
    d: float
    since_trigger: float  # [s] since the actor's trigger fired; nan without one
    memory: Mapping[str, Any]


@dataclass(frozen=True)
class BehaviourContext:
    """What a behaviour may look at besides its own actor.

    Attributes:
        world: static context (road, route, log, config).
        step / time: index and episode time [s] of the state being computed (end of the step).
        dt: step [s]; ego / actors: the ego and all actors at the start of the step.
        leader_gap / leader_speed: ``[N]`` bumper gap [m] to the nearest agent ahead (ego included;
            inf: none) and its speed along the follower's heading [m/s].
        rng: random generator of this step (deterministic given the seed; when the caller passed
            none, one seeded by the step index is made on first use).
    """

    world: World
    step: int
    time: float
    dt: float
    ego: EgoState
    actors: ActorsState
    leader_gap: np.ndarray
    leader_speed: np.ndarray
    given_rng: np.random.Generator | None = None

    @cached_property
    def rng(self) -> np.random.Generator:
        return self.given_rng if self.given_rng is not None else np.random.default_rng(self.step)

    @cached_property
    def ego_lane(self) -> tuple[int, float, float]:
        """``(lane, s, d)`` of the ego's rear axle (lane -1 when off every lane)."""
        return self.world.road.locate(self.ego.x, self.ego.y, self.ego.yaw)

    @property
    def idm(self) -> IDMParams:
        return self.world.config.idm


def evolve(actor: ActorView, **changes: Any) -> ActorView:
    """``dataclasses.replace`` for :class:`ActorView` without re-running ``__init__`` (this is on the
    per-actor hot path; the view is immutable all the same)."""
    new = object.__new__(ActorView)
    new.__dict__.update(actor.__dict__)
    new.__dict__.update(changes)
    return new


def make_view(**fields: Any) -> ActorView:
    """An :class:`ActorView` from all its fields, built without ``__init__`` (hot path)."""
    new = object.__new__(ActorView)
    new.__dict__.update(fields)
    return new


def check_parameters(
    kind: str, name: str, defaults: Mapping[str, Any], params: Mapping[str, Any] | None, where: str = ""
) -> dict[str, Any]:
    """``params`` as a dict; a key that is not in ``defaults`` is a :class:`ConfigError` naming
    the ``kind`` (behaviour, trigger) and its parameters."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ConfigError(
            f"{where}{kind} {name!r} has no parameter(s) {unknown}",
            hint=f"its parameters are {sorted(defaults)}",
        )
    return params


BehaviourFn = Callable[[ActorView, BehaviourContext, Mapping[str, Any]], ActorView]


@dataclass(frozen=True)
class Behaviour:
    """A registered behaviour: the function and its parameter defaults (the allowed keys).

    Attributes:
        replays_log: the actor follows its logged track; the traffic step copies those rows from
            the log for all such actors at once (``fn`` is the per-actor equivalent) and releases
            the actor to another behaviour where the log ends or would drive it into the ego.
        still_once_started: once the behaviour has run a step the actor stands still, so later
            steps need no computation.
    """

    name: str
    fn: BehaviourFn
    defaults: Mapping[str, Any]
    replays_log: bool = False
    still_once_started: bool = False

    def resolve(self, params: Mapping[str, Any] | None, where: str = "") -> Mapping[str, Any]:
        """Defaults overridden by ``params``; unknown keys are a :class:`ConfigError`."""
        params = check_parameters("behaviour", self.name, self.defaults, params, where)
        return MappingProxyType({**self.defaults, **params})

    def __call__(self, actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
        return self.fn(actor, ctx, params)


def behaviour(
    name: str, *, replays_log: bool = False, still_once_started: bool = False, **defaults: Any
) -> Callable[[BehaviourFn], Behaviour]:
    """Decorator: ``fn`` as the :class:`Behaviour` ``name`` with parameter ``defaults`` (and its
    flags, see :class:`Behaviour`). It registers nothing: a module-level behaviour becomes
    available as an entry of the ``jwmsim.behaviours`` entry-point group
    (``name = "package.module:attribute"``)."""

    def deco(fn: BehaviourFn) -> Behaviour:
        return Behaviour(name, fn, MappingProxyType(dict(defaults)), replays_log, still_once_started)

    return deco


def _check_behaviour(item: object) -> None:
    if not isinstance(item, Behaviour):
        raise TypeError(f"{item!r} is not a jwmsim.sim.behaviours.Behaviour (decorate it with @behaviour)")


BEHAVIOURS: Registry[Behaviour] = Registry("behaviour", ENTRY_POINT_GROUPS["behaviour"], _check_behaviour)


def register_behaviour(name: str, **defaults: Any) -> Callable[[BehaviourFn], BehaviourFn]:
    """Register ``fn`` as behaviour ``name`` at run time (a notebook, a test); refuses names taken.
    A package's behaviours are entries of the ``jwmsim.behaviours`` entry-point group instead."""

    def deco(fn: BehaviourFn) -> BehaviourFn:
        BEHAVIOURS.add(name, Behaviour(name, fn, MappingProxyType(dict(defaults))))
        return fn

    return deco


# ------------------------------------------------------------------------------------------------
# Motion helpers (pure)
# ------------------------------------------------------------------------------------------------
def started(actor: ActorView, ctx: BehaviourContext, **extra: Any) -> Mapping[str, Any]:
    """The actor's memory, initialised (``t0`` = start of this step, plus ``extra``) if empty."""
    if actor.memory:
        return actor.memory
    return MappingProxyType({"t0": ctx.time - ctx.dt, **extra})


def elapsed(memory: Mapping[str, Any], ctx: BehaviourContext) -> float:
    """Seconds since the behaviour started, at the end of this step."""
    return ctx.time - float(memory["t0"])


def move_free(
    actor: ActorView,
    ctx: BehaviourContext,
    accel: float,
    yaw: float | None = None,
    memory: Mapping[str, Any] | None = None,
) -> ActorView:
    """Move along a fixed heading (``yaw``, default the current one) with ``accel``; speed >= 0."""
    yaw = actor.yaw if yaw is None else yaw
    v0 = actor.speed
    v1 = max(0.0, v0 + accel * ctx.dt)
    dist = 0.5 * (v0 + v1) * ctx.dt
    return evolve(
        actor,
        x=actor.x + dist * math.cos(yaw),
        y=actor.y + dist * math.sin(yaw),
        yaw=yaw,
        speed=v1,
        accel=(v1 - v0) / ctx.dt,
        active=True,
        lane=-1,
        s=math.nan,
        d=math.nan,
        memory=actor.memory if memory is None else memory,
    )


def on_lane(actor: ActorView, ctx: BehaviourContext) -> tuple[int, float, float]:
    """``(lane, s, d)`` of the actor: its own if it has one, else the nearest lane with a heading
    within 60 degrees and within one lane width (``-1`` if none)."""
    if actor.lane >= 0 and math.isfinite(actor.s):
        return actor.lane, actor.s, actor.d
    return ctx.world.road.locate(actor.x, actor.y, actor.yaw)


def move_on_lane(
    actor: ActorView,
    ctx: BehaviourContext,
    accel: float,
    d_new: float | None = None,
    lane: int | None = None,
    s: float | None = None,
    d: float | None = None,
    memory: Mapping[str, Any] | None = None,
) -> ActorView:
    """Move along a lane with ``accel``; the lateral offset goes to ``d_new`` (default: decays to
    the lane centre with time constant ``idm.lane_keep_time``). Off every lane: straight on."""
    if lane is None:
        lane, s, d = on_lane(actor, ctx)
    if lane < 0:
        return move_free(actor, ctx, accel, memory=memory)
    v0 = actor.speed
    v1 = max(0.0, v0 + accel * ctx.dt)
    s1 = s + 0.5 * (v0 + v1) * ctx.dt
    if d_new is None:
        d_new = d * math.exp(-ctx.dt / ctx.idm.lane_keep_time)
    x, y, lane_yaw = ctx.world.road.lanes[lane].centreline.frenet_to_xy(s1, d_new)
    yaw = lane_yaw + math.atan2(d_new - d, s1 - s) if s1 - s > 1e-4 else lane_yaw
    return evolve(
        actor,
        x=x,
        y=y,
        yaw=yaw,
        speed=v1,
        accel=(v1 - v0) / ctx.dt,
        active=True,
        lane=lane,
        s=s1,
        d=d_new,
        memory=actor.memory if memory is None else memory,
    )


def idm_accel(speed: float, desired: float, gap: float, lead_speed: float, p: IDMParams) -> float:
    """IDM acceleration [m/s^2], clipped to ``[-max_decel, max_accel]``.

    Args:
        speed / desired: current and desired speed [m/s]; desired < 0.1 brakes to a stop.
        gap: bumper gap to the leader [m] (inf: free road); lead_speed: its speed [m/s].
    """
    if desired < 0.1:
        free = -p.comfortable_decel / p.max_accel if speed > 0 else 0.0
    else:
        free = 1.0 - (speed / desired) ** p.exponent
    inter = 0.0
    if math.isfinite(gap):
        s_star = p.min_gap + max(
            0.0,
            speed * p.time_headway
            + speed * (speed - lead_speed) / (2.0 * math.sqrt(p.max_accel * p.comfortable_decel)),
        )
        inter = (s_star / max(gap, 0.1)) ** 2
    return min(max(p.max_accel * (free - inter), -p.max_decel), p.max_accel)


def _leader(actor: ActorView, ctx: BehaviourContext) -> tuple[float, float]:
    return float(ctx.leader_gap[actor.index]), float(ctx.leader_speed[actor.index])


# ------------------------------------------------------------------------------------------------
# Built-in behaviours
# ------------------------------------------------------------------------------------------------
@behaviour("log_replay", replays_log=True)
def log_replay(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """The logged pose at this time (inactive where the log has none). The traffic step does the
    same vectorised for all log-replayed actors and releases them at the end of the log."""
    log = ctx.world.log
    j = ctx.world.log_index[actor.index]
    if j < 0 or not log.available(ctx.step) or not log.present[ctx.step, j]:
        return evolve(actor, active=False, speed=0.0, accel=0.0)
    k = ctx.step
    return evolve(
        actor,
        x=float(log.x[k, j]),
        y=float(log.y[k, j]),
        z=float(log.z[k, j]),
        yaw=float(log.yaw[k, j]),
        speed=float(log.speed[k, j]),
        accel=float(log.accel[k, j]),
        active=True,
        lane=-1,
        s=math.nan,
        d=math.nan,
    )


@behaviour("idm", speed=None)
def follow_lane_idm(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Follow the actor's lane (or the nearest one) with IDM behind the nearest agent ahead.

    Params: ``speed`` desired speed [m/s] (None: the speed when the behaviour started).
    """
    mem = started(actor, ctx, desired=actor.speed if params["speed"] is None else float(params["speed"]))
    gap, lead = _leader(actor, ctx)
    accel = idm_accel(actor.speed, mem["desired"], gap, lead, ctx.idm)
    return move_on_lane(actor, ctx, accel, memory=mem)


@behaviour("constant_velocity")
def constant_velocity(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Straight on at the current speed and heading."""
    return move_free(actor, ctx, 0.0, memory=started(actor, ctx))


@behaviour("hold", still_once_started=True)
def hold(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Stand still where the actor is."""
    return evolve(actor, speed=0.0, accel=0.0, active=True, memory=started(actor, ctx))


@behaviour("stop", decel=3.0)
def stop(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Brake at ``decel`` [m/s^2] along the lane to a standstill, then stand."""
    decel = float(params["decel"])
    if decel <= 0:
        raise ConfigError(f"stop: decel must be > 0 m/s^2, got {decel}")
    return move_on_lane(actor, ctx, -decel, memory=started(actor, ctx))


def hard_brake_decel(t: float, decel: float, ramp: float) -> float:
    """Deceleration [m/s^2] (positive) of the hard-brake profile ``t`` seconds after it starts:
    linear ramp from 0 to ``decel`` over ``ramp`` seconds, then constant."""
    if ramp <= 0:
        return decel
    return decel * min(1.0, max(0.0, t) / ramp)


@behaviour("hard_brake", decel=8.0, ramp=0.5, stop_duration=math.inf, resume_speed=None)
def hard_brake(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Emergency braking along the lane: deceleration ramps to ``decel`` [m/s^2] (<= ~8) over
    ``ramp`` [s] until standstill; after ``stop_duration`` [s] standing it drives off again with IDM
    towards ``resume_speed`` (None: the speed it braked from)."""
    decel, ramp = float(params["decel"]), float(params["ramp"])
    if not 0 < decel <= 12.0:
        raise ConfigError(f"hard_brake: decel must be in (0, 12] m/s^2, got {decel}")
    mem = started(actor, ctx, v_start=actor.speed, stopped_at=math.nan)
    t_mid = elapsed(mem, ctx) - 0.5 * ctx.dt  # profile sampled at the middle of the step
    if math.isfinite(mem["stopped_at"]):
        if ctx.time - mem["stopped_at"] >= float(params["stop_duration"]):
            desired = mem["v_start"] if params["resume_speed"] is None else float(params["resume_speed"])
            gap, lead = _leader(actor, ctx)
            return move_on_lane(actor, ctx, idm_accel(actor.speed, desired, gap, lead, ctx.idm), memory=mem)
        return move_on_lane(actor, ctx, 0.0, memory=mem)
    out = move_on_lane(actor, ctx, -hard_brake_decel(t_mid, decel, ramp), memory=mem)
    if out.speed <= 0.0:
        out = evolve(out, memory=MappingProxyType({**mem, "stopped_at": ctx.time}))
    return out


def smoothstep5(u: float) -> float:
    """Quintic smooth step on [0, 1] (zero velocity and acceleration at both ends)."""
    u = min(max(u, 0.0), 1.0)
    return u * u * u * (10.0 - 15.0 * u + 6.0 * u * u)


@behaviour("cut_in", target_lane="ego", duration=2.0, speed=None, speed_ratio=None)
def cut_in(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Change into ``target_lane`` (``"ego"``: the ego's lane when the behaviour starts; or a lane
    id) over ``duration`` seconds (quintic lateral profile), then follow it with IDM.

    Speed: ``speed`` [m/s], or ``speed_ratio`` times the ego's speed at the start, or (both None)
    the actor's own speed; reached with IDM's acceleration.
    """
    duration = float(params["duration"])
    if duration <= 0:
        raise ConfigError(f"cut_in: duration must be > 0 s, got {duration}")
    mem = actor.memory
    if not mem:
        road = ctx.world.road
        target = (
            ctx.ego_lane[0] if params["target_lane"] == "ego" else road.lane_index(str(params["target_lane"]))
        )
        if target < 0:  # ego off every lane: aim at the ego's path itself
            target = ctx.ego_lane[0]
        if target < 0:
            return follow_lane_idm(actor, ctx, {"speed": None})
        s0, d0 = road.lanes[target].centreline.project_point(actor.x, actor.y)
        if params["speed"] is not None:
            desired = float(params["speed"])
        elif params["speed_ratio"] is not None:
            desired = float(params["speed_ratio"]) * ctx.ego.speed
        else:
            desired = actor.speed
        mem = MappingProxyType(
            {"t0": ctx.time - ctx.dt, "lane": target, "s": s0, "d": d0, "d0": d0, "desired": desired}
        )
    lane, s, d = int(mem["lane"]), float(mem["s"]), float(mem["d"])
    tau = elapsed(mem, ctx)
    d_new = mem["d0"] * (1.0 - smoothstep5(tau / duration))
    gap, lead = _leader(actor, ctx)
    accel = idm_accel(actor.speed, mem["desired"], gap, lead, ctx.idm)
    out = move_on_lane(actor, ctx, accel, d_new=d_new, lane=lane, s=s, d=d)
    return evolve(out, memory=MappingProxyType({**mem, "s": out.s, "d": out.d}))


@behaviour("pedestrian_crossing", speed=1.4, angle=math.pi / 2, heading=None)
def pedestrian_crossing(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Walk straight at ``speed`` [m/s] (typically 1.3-2.0) across the road: heading ``angle`` [rad]
    relative to the direction of the nearest lane (pi/2: from its right to its left; -pi/2: the
    other way), or the absolute world ``heading`` [rad] when given."""
    speed = float(params["speed"])
    if not 0 < speed <= 5.0:
        raise ConfigError(f"pedestrian_crossing: speed must be in (0, 5] m/s, got {speed}")
    mem = actor.memory
    if not mem:
        if params["heading"] is not None:
            heading = float(params["heading"])
        else:
            lane, s, _ = ctx.world.road.locate(
                actor.x, actor.y, None, max_distance=4 * ctx.world.road.lane_width
            )
            base = ctx.world.road.lanes[lane].centreline.heading_at(s) if lane >= 0 else ctx.ego.yaw
            heading = base + float(params["angle"])
        mem = MappingProxyType({"t0": ctx.time - ctx.dt, "heading": heading})
    heading = float(mem["heading"])
    v0 = actor.speed
    accel = max(-3.0, min(3.0, (speed - v0) / ctx.dt))  # step to walking speed within a few steps
    return move_free(evolve(actor, yaw=heading), ctx, accel, yaw=heading, memory=mem)


@behaviour("waypoints", points=(), loop=False)
def waypoints(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> ActorView:
    """Follow timed world waypoints ``points = [(t, x, y), ...]`` (t [s] since the behaviour started,
    increasing), linearly interpolated; heading along the motion; hold at the last one."""
    pts = np.asarray(params["points"], dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 1 or np.any(np.diff(pts[:, 0]) <= 0):
        raise ConfigError(
            f"waypoints: points must be [(t, x, y), ...] with increasing t, got shape {pts.shape}",
            hint="e.g. points: [[0, 10, 2], [3, 20, 2]]",
        )
    mem = started(actor, ctx)
    t = elapsed(mem, ctx)
    if params["loop"] and pts[-1, 0] > 0:
        t = t % pts[-1, 0]
    x = float(np.interp(t, pts[:, 0], pts[:, 1]))
    y = float(np.interp(t, pts[:, 0], pts[:, 2]))
    dx, dy = x - actor.x, y - actor.y
    dist = math.hypot(dx, dy)
    yaw = math.atan2(dy, dx) if dist > 1e-3 else actor.yaw
    v1 = dist / ctx.dt
    return evolve(
        actor,
        x=x,
        y=y,
        yaw=yaw,
        speed=v1,
        accel=(v1 - actor.speed) / ctx.dt,
        active=True,
        lane=-1,
        s=math.nan,
        d=math.nan,
        memory=mem,
    )


def release_behaviour(kind: str, speed: float, stopped_speed: float = 0.5) -> str:
    """What a log actor does after the log ends: vehicles and cyclists follow their lane with IDM
    (standing ones hold), pedestrians walk on at constant velocity, static objects hold."""
    if kind in ("vehicle", "cyclist"):
        return "idm" if speed >= stopped_speed else "hold"
    if kind == "pedestrian":
        return "constant_velocity"
    return "hold"

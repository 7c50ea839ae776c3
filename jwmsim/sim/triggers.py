"""Triggers: named, registered predicates ``(actor, context, params) -> bool`` that switch an actor
from its ``before`` behaviour to its ``behaviour``. A trigger fires once; the time is kept in
``ActorsState.triggered_at``.

Built-ins (distances between box centres / along the ego's heading, in metres and seconds):

* ``time``: ``at`` — episode time >= at;
* ``distance_to_ego``: ``distance``, ``ahead_only``, ``actor`` — distance from the ego's box centre
  to the actor's centre <= distance (and, when ``ahead_only``, the actor is ahead of the ego's rear
  axle);
* ``ttc``: ``ttc``, ``actor`` — the actor is ahead of the ego and the longitudinal bumper gap along
  the ego's heading, divided by the closing speed (> 0), is <= ttc;

``actor`` (optional) names another actor whose distance / TTC counts instead of the scripted one's
(e.g. brake when the ego reaches a pedestrian). Parameters without a default are required.
* ``ego_speed``: ``min``, ``max`` — the ego's speed is within [min, max] [m/s].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jwmsim.errors import ConfigError
from jwmsim.registry import Registry
from jwmsim.sim.behaviours import ActorView, BehaviourContext, check_parameters

REQUIRED = object()  # default of a parameter that must be given

TriggerFn = Callable[[ActorView, BehaviourContext, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Trigger:
    name: str
    fn: TriggerFn
    defaults: Mapping[str, Any]

    def resolve(self, params: Mapping[str, Any] | None, where: str = "") -> Mapping[str, Any]:
        params = check_parameters("trigger", self.name, self.defaults, params, where)
        merged = {**self.defaults, **{k: v for k, v in params.items() if v is not None}}
        missing = sorted(k for k, v in merged.items() if v is REQUIRED)
        if missing:
            raise ConfigError(f"{where}trigger {self.name!r} needs parameter(s) {missing}")
        return MappingProxyType(merged)


TRIGGERS: Registry[Trigger] = Registry("trigger")


def register_trigger(name: str, **defaults: Any) -> Callable[[TriggerFn], TriggerFn]:
    """Register a trigger predicate (refuses duplicate names); a default of :data:`REQUIRED` marks
    a required parameter, None values given for optional ones keep their defaults."""

    def deco(fn: TriggerFn) -> TriggerFn:
        TRIGGERS.add(name, Trigger(name, fn, MappingProxyType(dict(defaults))))
        return fn

    return deco


def _subject(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> tuple[float, ...]:
    """``(x, y, yaw, speed, length)`` of the actor the trigger looks at."""
    other = params.get("actor")
    if other is None:
        return actor.x, actor.y, actor.yaw, actor.speed, actor.length
    a = ctx.actors
    try:
        i = a.ids.index(other)
    except ValueError:
        raise ConfigError(
            f"trigger refers to unknown actor {other!r}", hint=f"actors: {list(a.ids)}"
        ) from None
    return float(a.x[i]), float(a.y[i]), float(a.yaw[i]), float(a.speed[i]), float(a.length[i])


def _ego_frame(x: float, y: float, ctx: BehaviourContext) -> tuple[float, float]:
    """A point in the ego frame (rear axle origin): ``(longitudinal, lateral)`` [m]."""
    e = ctx.ego
    dx, dy = x - e.x, y - e.y
    c, s = math.cos(e.yaw), math.sin(e.yaw)
    return dx * c + dy * s, -dx * s + dy * c


@register_trigger("time", at=REQUIRED)
def time_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    return ctx.time - ctx.dt >= float(params["at"]) - 1e-9


@register_trigger("distance_to_ego", distance=REQUIRED, ahead_only=False, actor=None)
def distance_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    x, y, _, _, _ = _subject(actor, ctx, params)
    lon, lat = _ego_frame(x, y, ctx)
    off = ctx.world.config.vehicle.centre_offset
    if params["ahead_only"] and lon <= 0:
        return False
    return math.hypot(lon - off, lat) <= float(params["distance"])


@register_trigger("ttc", ttc=REQUIRED, actor=None)
def ttc_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    x, y, yaw, speed, length = _subject(actor, ctx, params)
    lon, _ = _ego_frame(x, y, ctx)
    if lon <= 0:
        return False
    veh = ctx.world.config.vehicle
    gap = lon - (veh.length - veh.rear_overhang) - length / 2
    closing = ctx.ego.speed - speed * math.cos(yaw - ctx.ego.yaw)
    if closing <= 1e-6:
        return False
    return max(gap, 0.0) / closing <= float(params["ttc"])


@register_trigger("ego_speed", min=0.0, max=math.inf)
def ego_speed_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    return float(params["min"]) <= ctx.ego.speed <= float(params["max"])

"""Triggers: named, registered predicates ``(actor, context, params) -> bool`` that switch an actor
from its ``before`` behaviour to its ``behaviour``. A trigger fires once; the time is kept in
``ActorsState.triggered_at``.

Built-ins (distances between box centres / along the ego's heading, in metres and seconds):

* ``time``: ``at`` — episode time >= at;
* ``distance_to_ego``: ``distance``, ``ahead_only`` — centre distance <= distance (and, when
  ``ahead_only``, the actor is ahead of the ego's rear axle);
* ``ttc``: ``ttc`` — the actor is ahead of the ego and the longitudinal bumper gap along the ego's
  heading, divided by the closing speed (> 0), is <= ttc;
* ``ego_speed``: ``min``, ``max`` — the ego's speed is within [min, max] [m/s].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jwmsim.errors import ConfigError
from jwmsim.sim.behaviours import ActorView, BehaviourContext
from jwmsim.sim.registry import Registry

TriggerFn = Callable[[ActorView, BehaviourContext, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Trigger:
    name: str
    fn: TriggerFn
    defaults: Mapping[str, Any]

    def resolve(self, params: Mapping[str, Any] | None, where: str = "") -> Mapping[str, Any]:
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ConfigError(
                f"{where}trigger {self.name!r} has no parameter(s) {unknown}",
                hint=f"its parameters are {sorted(self.defaults)}",
            )
        merged = {**self.defaults, **params}
        missing = sorted(k for k, v in merged.items() if v is None)
        if missing:
            raise ConfigError(f"{where}trigger {self.name!r} needs parameter(s) {missing}")
        return MappingProxyType(merged)


TRIGGERS: Registry[Trigger] = Registry("trigger")


def register_trigger(name: str, **defaults: Any) -> Callable[[TriggerFn], TriggerFn]:
    """Register a trigger predicate (refuses duplicate names). Defaults of None are required."""

    def deco(fn: TriggerFn) -> TriggerFn:
        TRIGGERS.add(name, Trigger(name, fn, MappingProxyType(dict(defaults))))
        return fn

    return deco


def _ego_frame(actor: ActorView, ctx: BehaviourContext) -> tuple[float, float]:
    """Actor centre in the ego frame (rear axle origin): ``(longitudinal, lateral)`` [m]."""
    e = ctx.ego
    dx, dy = actor.x - e.x, actor.y - e.y
    c, s = math.cos(e.yaw), math.sin(e.yaw)
    return dx * c + dy * s, -dx * s + dy * c


@register_trigger("time", at=None)
def time_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    return ctx.time - ctx.dt >= float(params["at"]) - 1e-9


@register_trigger("distance_to_ego", distance=None, ahead_only=False)
def distance_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    lon, lat = _ego_frame(actor, ctx)
    off = ctx.world.config.vehicle.centre_offset
    if params["ahead_only"] and lon <= 0:
        return False
    return math.hypot(lon - off, lat) <= float(params["distance"])


@register_trigger("ttc", ttc=None)
def ttc_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    lon, _ = _ego_frame(actor, ctx)
    if lon <= 0:
        return False
    veh = ctx.world.config.vehicle
    gap = lon - (veh.length - veh.rear_overhang) - actor.length / 2
    closing = ctx.ego.speed - actor.speed * math.cos(actor.yaw - ctx.ego.yaw)
    if closing <= 1e-6:
        return False
    return max(gap, 0.0) / closing <= float(params["ttc"])


@register_trigger("ego_speed", min=0.0, max=math.inf)
def ego_speed_trigger(actor: ActorView, ctx: BehaviourContext, params: Mapping[str, Any]) -> bool:
    return float(params["min"]) <= ctx.ego.speed <= float(params["max"])

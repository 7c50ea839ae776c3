"""What each actor does: a behaviour (by registered name, with parameters), optionally switched on
by a trigger, and actors inserted into a log. The scenario layer (YAML) builds these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from jwmsim.sim.state import EMPTY


def _ro(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True)
class TriggerSpec:
    """A registered trigger (:mod:`jwmsim.sim.triggers`) and its parameters."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _ro(self.params))


@dataclass(frozen=True)
class ActorScript:
    """An actor's behaviour.

    Attributes:
        behaviour / params: what the actor does (after the trigger, if there is one).
        trigger: when ``behaviour`` takes over; None: from the start.
        before / before_params: what the actor does until the trigger fires.
    """

    behaviour: str = "log_replay"
    params: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    trigger: TriggerSpec | None = None
    before: str = "log_replay"
    before_params: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _ro(self.params))
        object.__setattr__(self, "before_params", _ro(self.before_params))


@dataclass(frozen=True)
class InsertedActor:
    """An actor that is not in the log.

    Placed either on a lane (``lane``: a lane id of the map, or ``"ego"`` / ``"ego_left"`` /
    ``"ego_right"``: the ego's start lane and its neighbours) at ``offset`` metres along it from the
    ego's start projection and ``lateral`` metres to its left, heading ``yaw`` radians off the lane
    direction (pi: facing the ego); or at an explicit world ``pose`` ``(x, y, yaw)``.

    Attributes:
        size_wlh: width, length, height [m]; speed: initial speed [m/s];
        asset: name of the renderer asset (free text for the simulator).
    """

    id: str
    category: str = "vehicle.car"
    size_wlh: tuple[float, float, float] = (1.9, 4.6, 1.7)
    lane: str | None = "ego"
    offset: float = 20.0
    lateral: float = 0.0
    yaw: float = 0.0
    pose: tuple[float, float, float] | None = None
    speed: float = 0.0
    script: ActorScript = field(default_factory=lambda: ActorScript(behaviour="idm", before="idm"))
    asset: str = ""


@dataclass(frozen=True)
class EgoStart:
    """Where the ego starts relative to its logged pose at the start time.

    Attributes:
        longitudinal / lateral: offset [m] in the logged ego frame (x forward, y left).
        yaw: heading offset [rad]; speed: start speed [m/s] (None: the logged one).
    """

    longitudinal: float = 0.0
    lateral: float = 0.0
    yaw: float = 0.0
    speed: float | None = None

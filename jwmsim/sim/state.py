"""Frozen parts of the simulation state: the ego, the actors (struct of arrays), records of the last
step and running episode aggregates (the whole state is :class:`jwmsim.sim.sim_state.SimState`).
Everything is in the world frame (x, y [m], yaw [rad] about +z).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from jwmsim.geometry import SE3, yaw_to_matrix

KINDS = ("vehicle", "pedestrian", "cyclist", "static")
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class EgoState:
    """The ego at one instant (rear-axle reference point, as the nuScenes ego frame).

    Attributes:
        x, y: rear-axle position [m]; z: ground height [m] (for rendering).
        yaw: heading [rad]; speed: [m/s] >= 0.
        accel: longitudinal acceleration over the last step [m/s^2].
        steer: front-wheel angle [rad]; yaw_rate: over the last step [rad/s].
        lat_accel: lateral (centripetal) acceleration over the last step [m/s^2].
    """

    x: float
    y: float
    yaw: float
    speed: float
    accel: float = 0.0
    steer: float = 0.0
    yaw_rate: float = 0.0
    lat_accel: float = 0.0
    z: float = 0.0

    def pose(self) -> SE3:
        """``world_from_ego``."""
        return SE3(yaw_to_matrix(self.yaw), np.array([self.x, self.y, self.z]))

    def vector(self) -> np.ndarray:
        """``[9]`` float64 of the fields in declaration order."""
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


ACTOR_ARRAYS = (
    "released",
    "length",
    "width",
    "height",
    "x",
    "y",
    "z",
    "yaw",
    "speed",
    "accel",
    "active",
    "lane",
    "s",
    "d",
    "triggered_at",
)


@dataclass(frozen=True, eq=False)
class ActorsState:
    """All actors, one entry per actor (struct of read-only arrays, each ``[N]``).

    Attributes:
        ids / kinds: actor id and coarse class (one of :data:`KINDS`).
        length, width, height: box size [m]; x, y, z: box centre [m]; yaw [rad];
        speed: along the heading [m/s]; accel [m/s^2]; active: present in the scene;
        lane: index into ``RoadMap.lanes`` (-1: none); s, d: Frenet coordinates on it [m];
        triggered_at: episode time [s] its trigger fired (nan: not yet / no trigger).
        behaviours: name of the behaviour that moved it last step.
        memory: per-actor behaviour memory (read-only mappings), reset when the behaviour changes.
        released: log actors handed from log replay to IDM because they closed in on the ego.
    """

    ids: tuple[str, ...]
    kinds: tuple[str, ...]
    length: np.ndarray
    width: np.ndarray
    height: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    accel: np.ndarray
    active: np.ndarray
    lane: np.ndarray
    s: np.ndarray
    d: np.ndarray
    triggered_at: np.ndarray
    behaviours: tuple[str, ...]
    memory: tuple[Mapping[str, Any], ...]
    released: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.released is None:
            object.__setattr__(self, "released", np.zeros(n, dtype=bool))
        if len(self.kinds) != n or len(self.behaviours) != n or len(self.memory) != n:
            raise ValueError("ids, kinds, behaviours and memory must have one entry per actor")
        for name in ACTOR_ARRAYS:
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                raise ValueError(f"actor array {name} has shape {arr.shape}, expected ({n},)")
            if not arr.flags.writeable:
                continue
            object.__setattr__(self, name, _frozen(arr.copy()))

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, actor_id: str) -> int:
        try:
            return self.ids.index(actor_id)
        except ValueError:
            raise KeyError(f"no actor {actor_id!r}; actors: {list(self.ids)}") from None

    def velocity(self) -> np.ndarray:
        """``[N, 2]`` world-frame velocities [m/s]."""
        return np.stack([self.speed * np.cos(self.yaw), self.speed * np.sin(self.yaw)], -1)

    def pose(self, i: int) -> SE3:
        """``world_from_box`` of actor ``i`` (planar yaw, box centre)."""
        return SE3(yaw_to_matrix(float(self.yaw[i])), np.array([self.x[i], self.y[i], self.z[i]]))

    def active_poses(self) -> dict[str, SE3]:
        """Box poses of the active actors by id (what a renderer needs)."""
        return {self.ids[i]: self.pose(i) for i in np.flatnonzero(self.active)}


@dataclass(frozen=True)
class CollisionEvent:
    """One new contact between the ego and an actor.

    Attributes:
        kind: the actor's class; at_fault: per the NC rules (docs/simulation.md, "Metrics");
        type: ``stopped_ego``, ``stopped_actor``, ``rear``, ``front`` or ``lateral``;
        v_impact: ego-actor relative speed [m/s]; v_ref: the non-reacting ego's velocity
        (:func:`jwmsim.sim.world.reference_velocity`) relative to the actor's [m/s] (NeuroNCAP).
    """

    step: int
    time: float
    actor_id: str
    kind: str
    at_fault: bool
    type: str
    v_impact: float
    v_ref: float


@dataclass(frozen=True)
class Penalty:
    """A sub-score below 1 at one step, with its cause (per-step attribution)."""

    step: int
    time: float
    metric: str
    value: float
    cause: str


@dataclass(frozen=True)
class StepMeasurements:
    """Raw quantities measured after a step, from which metrics and rewards are computed.

    Collisions are the new contacts of this step; ``ttc_actor`` names the actor the ego would
    hit within the TTC horizon ('' if none); jerks and the yaw acceleration are least-squares slopes
    over the last ``MetricsConfig.comfort_window`` steps.
    """

    collisions: tuple[CollisionEvent, ...]
    on_road: bool
    ttc_actor: str
    ttc_time: float
    lat_accel: float
    lon_accel: float
    lon_jerk: float
    jerk: float
    yaw_rate: float
    yaw_accel: float
    route_s: float
    route_d: float
    progress_step: float  # [m] along the route this step
    progress: float  # [m] from the start
    expert_progress: float  # [m] of the logged ego from the start, at this time
    route_complete: bool
    reference_progress: float | None = None  # [m] of the reference planner by now (None: none)
    red_lights: tuple[str, ...] = ()  # ids of the red lights the ego ran this step


@dataclass(frozen=True)
class StepRecord:
    """What the last step produced: measurements, sub-scores by name, reward terms by name."""

    measurements: StepMeasurements
    metrics: Mapping[str, float]
    rewards: Mapping[str, float]
    reward: float
    penalties: tuple[Penalty, ...] = ()


@dataclass(frozen=True)
class EpisodeAccumulator:
    """Running aggregates over the steps of an episode (memory does not grow with comfortable,
    penalty-free steps; penalties and collisions are kept for attribution)."""

    steps: int = 0
    nc: float = 1.0  # min over steps
    dac: float = 1.0
    ttc: float = 1.0
    comfort: float = 1.0
    comfortable_steps: int = 0
    hd_sum: float = 0.0  # sum over steps of NC * DAC * (5 TTC + 2 C) / 7
    ep: float = 1.0  # last step
    progress_max: float = 0.0  # [m]
    reward_sum: float = 0.0
    reward_terms_sum: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    collisions: tuple[CollisionEvent, ...] = ()
    collided_ids: frozenset[str] = frozenset()
    penalties: tuple[Penalty, ...] = ()
    # (yaw [rad], lon acc [m/s^2], lat acc [m/s^2]) of the ego at every step from the start, for
    # the episode's comfort (:mod:`jwmsim.sim.comfort`); empty: the per-step minimum is used
    trace: tuple[tuple[float, float, float], ...] = ()
    progress_last: float = 0.0  # [m] from the start, at the last step
    reference_last: float | None = None  # [m] the reference planner's progress by the last step
    red_lights: tuple[tuple[int, float, str], ...] = ()  # (step, time [s], light id) of each red run


def nan_array(n: int) -> np.ndarray:
    return np.full(n, math.nan)

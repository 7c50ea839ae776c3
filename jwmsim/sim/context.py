"""The static context of an episode (:class:`World`): log, road, route, actor scripts and
configuration. Built by :func:`jwmsim.sim.world.build_world`; never changes during an episode."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from jwmsim.config import SimConfig
from jwmsim.logs.segment import LogSegment
from jwmsim.sim.log_replay import LogTraffic
from jwmsim.sim.map import RoadMap
from jwmsim.sim.route import Route
from jwmsim.sim.scripts import ActorScript
from jwmsim.sim.signals import NO_SIGNALS, SignalMap
from jwmsim.sim.state import ActorsState, EgoState


@dataclass(frozen=True, eq=False)
class World:
    """Static context of an episode: log, road, route, actor scripts and configuration.

    Actors are the log's tracks (sorted by id, minus the removed ones) followed by the inserted
    actors; per-actor tuples/arrays below are in that order.

    Attributes:
        start_time: log time [s] of step 0.
        log_index: ``[N]`` column of each actor in ``log`` (-1: inserted).
        behaviour_params / before_params / trigger_params: resolved (defaults merged) parameters.
        categories / assets: per actor, for the renderer.
        reference_speed: [m/s] the scenario's ego start speed, which the non-reacting ego keeps
            (:func:`reference_velocity`); None: the logged speed.
        signals: the log's traffic lights with their stop points on the route and the lanes.
    """

    config: SimConfig
    segment: LogSegment
    road: RoadMap
    route: Route
    log: LogTraffic
    start_time: float
    scripts: tuple[ActorScript, ...]
    behaviour_params: tuple[Mapping, ...]
    before_params: tuple[Mapping, ...]
    trigger_params: tuple[Mapping, ...]
    log_index: np.ndarray
    categories: tuple[str, ...]
    assets: tuple[str, ...]
    initial_ego: EgoState
    initial_actors: ActorsState
    initial_comfort_history: tuple[tuple[float, float, float, float], ...] = ()
    reference_speed: float | None = None
    signals: SignalMap = NO_SIGNALS

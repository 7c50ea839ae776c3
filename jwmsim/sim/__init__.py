"""The pure simulation core: frozen state, ``transition(state, action, rng) -> state``.

from jwmsim.sim import build_world, initial_state, transition, episode_metrics
world = build_world(log_segment)                 # road, route, log replay, scripts
state = initial_state(world)
state = transition(state, [0.2, 0.0], rng)       # normalised (acceleration, steering)
state.last.metrics, state.last.rewards, state.terminated, episode_metrics(state)
"""

from jwmsim.sim.actions import (
    ActionError,
    denormalise,
    denormalise_waypoints,
    normalise,
    normalise_waypoints,
    track_waypoints,
)
from jwmsim.sim.behaviours import BEHAVIOURS, ActorView, BehaviourContext, register_behaviour
from jwmsim.sim.map import Lane, RoadMap, build_road_map
from jwmsim.sim.metrics import EPISODE_METRICS, STEP_METRICS
from jwmsim.sim.rewards import REWARD_TERMS
from jwmsim.sim.route import Route
from jwmsim.sim.scripts import ActorScript, EgoStart, InsertedActor, TriggerSpec
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.state import ActorsState, EgoState
from jwmsim.sim.triggers import TRIGGERS, register_trigger
from jwmsim.sim.world import (
    SimulationOverError,
    World,
    build_world,
    episode_metrics,
    expert_actions,
    initial_state,
    transition,
)

__all__ = [
    "BEHAVIOURS",
    "EPISODE_METRICS",
    "REWARD_TERMS",
    "STEP_METRICS",
    "TRIGGERS",
    "ActionError",
    "ActorScript",
    "ActorView",
    "ActorsState",
    "BehaviourContext",
    "EgoStart",
    "EgoState",
    "InsertedActor",
    "Lane",
    "RoadMap",
    "Route",
    "SimState",
    "SimulationOverError",
    "TriggerSpec",
    "World",
    "build_road_map",
    "build_world",
    "denormalise",
    "episode_metrics",
    "expert_actions",
    "initial_state",
    "normalise",
    "register_behaviour",
    "register_trigger",
    "track_waypoints",
    "denormalise_waypoints",
    "normalise_waypoints",
    "transition",
]

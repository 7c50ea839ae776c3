"""Expert planner: reproduce the logged ego motion (inverse bicycle of the logged poses)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jwmsim.planning import Planner
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import World, expert_actions


class LogReplayPlanner(Planner):
    """Plays back :func:`jwmsim.sim.world.expert_actions`; after the log ends it brakes gently.

    Only the ``accel_steer`` action type is supported (the logged motion is expressed as controls).
    """

    name = "log_replay"

    def reset(self, world: World) -> None:
        super().reset(world)
        if world.config.action_type != "accel_steer":
            from jwmsim.errors import ConfigError

            raise ConfigError(
                "planner 'log_replay' needs action_type 'accel_steer'", hint="use idm for waypoint actions"
            )
        self._actions = expert_actions(world)

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        if state.step < len(self._actions):
            return self._actions[state.step]
        return np.array([-0.25, 0.0])



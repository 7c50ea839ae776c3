"""Baseline planner: keep the current speed, wheels straight (or waypoints straight ahead)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jwmsim.planning import Planner
from jwmsim.sim.actions import normalise_waypoints
from jwmsim.sim.sim_state import SimState


class ConstantVelocityPlanner(Planner):
    """Zero acceleration and zero steering: the ego coasts straight at its current speed."""

    name = "constant_velocity"

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        cfg = state.world.config
        if cfg.action_type == "waypoints":
            k = np.arange(1, cfg.num_waypoints + 1)
            ahead = np.stack([k * cfg.waypoint_dt * state.ego.speed, np.zeros(len(k))], -1)  # [m]
            return normalise_waypoints(ahead, cfg)
        return np.zeros(2)



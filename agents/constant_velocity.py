"""Baseline planner: keep the current speed, wheels straight (or waypoints straight ahead)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jwmsim.planning import Planner
from jwmsim.sim.actions import action_type
from jwmsim.sim.sim_state import SimState


class ConstantVelocityPlanner(Planner):
    """Zero acceleration and zero steering: the ego coasts straight at its current speed."""

    name = "constant_velocity"

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        cfg = state.world.config
        return action_type(cfg).encode(0.0, 0.0, state.ego, cfg)



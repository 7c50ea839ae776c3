"""Baseline planner: uniformly random actions in the action box (the floor a learned policy must
clear). Seeded: the same ``seed`` gives the same action sequence in every run, on every backend."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jwmsim.planning import Planner
from jwmsim.sim.actions import action_type
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import World


class RandomPlanner(Planner):
    """Uniform actions in [-1, 1] (normalised acceleration and steering, or normalised waypoints).

    Args:
        seed: seed of the generator, re-seeded at every episode start.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, world: World) -> None:
        super().reset(world)
        self.rng = np.random.default_rng(self.seed)

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        cfg = state.world.config
        return self.rng.uniform(-1.0, 1.0, action_type(cfg).size(cfg))



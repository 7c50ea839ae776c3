"""A stable-baselines3 policy as a planner: loads ``model.zip`` and acts on the observation.

Spec: ``sb3:path/to/policy.zip`` (``--agent`` or a scenario's ``agent:``; in a scenario the path is
relative to the scenario file). The zip is unpickled, which can run code: it is loaded only when
the planner is made for a run, never while a scenario is checked, and never found implicitly.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jwmsim.errors import CheckpointError
from jwmsim.planning import PLANNERS, Planner
from jwmsim.sim.state import SimState

ALGORITHMS = ("PPO", "SAC", "TD3", "A2C", "DDPG")


class SB3Planner(Planner):
    """Acts with ``model.predict(observation, deterministic=True)``.

    Args:
        path: a model saved by ``model.save(path)`` (a ``.zip``).
        algorithm: the stable-baselines3 class that saved it (default PPO).
    """

    name = "sb3"
    needs_observation = True
    path_argument = "path"
    path_description = "policy zip (saved by model.save)"

    @classmethod
    def path_problem(cls, path: Path) -> str | None:
        """The policy must be an existing zip file (checked without unpickling it)."""
        if not path.is_file():
            return f"{path} does not exist"
        if not zipfile.is_zipfile(path):
            return f"{path} is not a zip file (a stable-baselines3 model.save() output)"
        return None

    def __init__(self, path: str | Path, algorithm: str = "PPO") -> None:
        super().__init__()
        import stable_baselines3

        p = Path(path)
        if not p.is_file():
            raise CheckpointError(
                f"SB3 policy {p} does not exist", hint="train one (examples/) or fix the path"
            )
        if not zipfile.is_zipfile(p):
            raise CheckpointError(f"SB3 policy {p} is not a model zip (corrupt or wrong file)")
        if algorithm not in ALGORITHMS:
            raise CheckpointError(f"unknown SB3 algorithm {algorithm!r}", hint=f"one of {ALGORITHMS}")
        try:
            self.model = getattr(stable_baselines3, algorithm).load(str(p), device="cpu")
        except Exception as err:  # SB3 raises many types for a bad zip
            raise CheckpointError(
                f"could not load SB3 {algorithm} policy {p}: {type(err).__name__}: {err}"
            ) from err

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        action, _ = self.model.predict(observation, deterministic=True)
        return np.asarray(action)


PLANNERS.add(SB3Planner.name, SB3Planner)

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
from jwmsim.planning import ObservationSpec, Planner
from jwmsim.sim.sim_state import SimState

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

    def observation_spec(self) -> ObservationSpec:
        """Read off the policy's observation space (a ``Dict`` of the driving environment): its
        camera keys and image size, and whether it takes the ``bev`` raster."""
        from gymnasium import spaces

        space = self.model.observation_space
        if not isinstance(space, spaces.Dict) or "ego" not in space.spaces:
            raise CheckpointError(
                f"SB3 policy observes {space}, not the driving environment's Dict observation",
                hint="train it on JWM-Drive-v0 (examples/train_ppo.py)",
            )
        keys = [k for k in space.spaces if k not in ("ego", "bev") and not k.startswith("depth_")]
        size = _image_hw(space.spaces[keys[0]].shape) if keys else None
        bev = _image_hw(space.spaces["bev"].shape)[0] if "bev" in space.spaces else None
        return ObservationSpec(cameras=tuple(keys), image_size=size, bev_size=bev)

    def compute_action(self, state: SimState, observation: Mapping[str, np.ndarray] | None) -> np.ndarray:
        obs = observation
        wanted = getattr(self.model.observation_space, "spaces", None)
        if isinstance(wanted, Mapping) and isinstance(observation, Mapping):  # only the keys it reads
            missing = [k for k in wanted if k not in observation]
            if missing:
                raise CheckpointError(
                    f"SB3 policy reads observation key(s) {missing} that the environment does not give",
                    hint="run it with the render path and cameras it was trained on (its observation_spec)",
                )
            obs = {k: observation[k] for k in wanted}
        action, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(action)


def _image_hw(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(H, W)`` of an image space: SB3 stores images channel-first (``[3, H, W]``, it transposes
    the environment's ``[H, W, 3]`` itself) or, unwrapped, channel-last."""
    if len(shape) == 3 and shape[0] in (1, 3) and shape[-1] not in (1, 3):
        return int(shape[1]), int(shape[2])
    return int(shape[0]), int(shape[1])



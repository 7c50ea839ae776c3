"""Gymnasium environments; importing this package registers ``JWM-Drive-v0`` (idempotently).

import gymnasium as gym
import jwmsim.envs  # noqa: F401
env = gym.make("JWM-Drive-v0", observation="skeleton", cameras=("CAM_FRONT",), image_size=(64, 112))
"""

from __future__ import annotations

import gymnasium as gym

from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.drive_env import EnvStateError, JWMDrivingEnv

ENV_ID = "JWM-Drive-v0"


def register_envs() -> None:
    """Register ``JWM-Drive-v0`` unless it already is (safe to call repeatedly)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="jwmsim.envs.drive_env:JWMDrivingEnv", disable_env_checker=False)


register_envs()

__all__ = ["ENV_ID", "DriveEnvConfig", "EnvStateError", "JWMDrivingEnv", "register_envs"]

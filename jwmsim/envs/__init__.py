"""Gymnasium environments; importing this package registers ``JWM-Drive-v0`` (idempotently).

import gymnasium as gym
import jwmsim.envs  # noqa: F401
env = gym.make("JWM-Drive-v0", observation="skeleton", cameras=("CAM_FRONT",), image_size=(64, 112))
"""

from __future__ import annotations

from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.drive_env import EnvStateError, JWMDrivingEnv
from jwmsim.registration import ENV_ID, register_envs

register_envs()

__all__ = ["ENV_ID", "DriveEnvConfig", "EnvStateError", "JWMDrivingEnv", "register_envs"]

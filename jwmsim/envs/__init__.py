"""Gymnasium environments; importing this package registers ``JWM-Drive-v0`` (idempotently).

import gymnasium as gym
import jwmsim.envs  # noqa: F401
env = gym.make("JWM-Drive-v0", observation="skeleton", cameras=("CAM_FRONT",), image_size=(64, 112))

The environment class is imported on first use (``jwmsim.envs.JWMDrivingEnv``), so that the
command line can list render paths and scene sources without importing torch.
"""

from __future__ import annotations

from typing import Any

from jwmsim.registration import ENV_ID, register_envs

register_envs()

__all__ = ["ENV_ID", "DriveEnvConfig", "EnvStateError", "JWMDrivingEnv", "register_envs"]


def __getattr__(name: str) -> Any:
    if name == "DriveEnvConfig":
        from jwmsim.envs.drive_config import DriveEnvConfig

        return DriveEnvConfig
    if name in ("EnvStateError", "JWMDrivingEnv"):
        from jwmsim.envs import drive_env

        return getattr(drive_env, name)
    raise AttributeError(f"module 'jwmsim.envs' has no attribute {name!r}")

"""Gymnasium registration of ``JWM-Drive-v0``; done by ``import jwmsim`` (cheap: the environment
module is imported only when ``gym.make`` builds one). In worker processes that never imported
jwmsim (spawned vector-env workers), use the id ``"jwmsim:JWM-Drive-v0"``: gymnasium imports the
module before the look-up."""

from __future__ import annotations

ENV_ID = "JWM-Drive-v0"


def register_envs() -> None:
    """Register ``JWM-Drive-v0`` unless it already is (safe to call repeatedly)."""
    import gymnasium as gym

    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="jwmsim.envs.drive_env:JWMDrivingEnv", disable_env_checker=False)

"""Actors of the town: a look (:class:`~.meshes.ActorModel`) plus a sampled trajectory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jwmsim.geometry import SE3
from jwmsim.logs.procedural.meshes import ActorModel


@dataclass(frozen=True)
class Actor:
    """A moving or parked road user.

    Attributes:
        actor_id: readable, unique within the town (e.g. ``car-003``).
        model: mesh and box size; ``model.category`` is the nuScenes category.
        times: ``[T]`` seconds, uniform, covering the town's duration.
        states: ``[T, 4]`` box centre x, y [m], yaw [rad], z [m] (world frame).
        present: ``[T]`` bool, True while the actor is in the town (one contiguous span).
        attributes: nuScenes attribute name per time, e.g. ``vehicle.moving``.
    """

    actor_id: str
    model: ActorModel
    times: np.ndarray
    states: np.ndarray
    present: np.ndarray
    attributes: tuple[str, ...]

    @property
    def category(self) -> str:
        return self.model.category

    @property
    def size_wlh(self) -> tuple[float, float, float]:
        return self.model.size_wlh

    def _index(self, t: float) -> tuple[int, float]:
        dt = float(self.times[1] - self.times[0]) if len(self.times) > 1 else 1.0
        x = (t - float(self.times[0])) / dt
        i = int(np.clip(np.floor(x), 0, max(len(self.times) - 2, 0)))
        return i, float(np.clip(x - i, 0.0, 1.0))

    def is_present(self, t: float) -> bool:
        """Whether the actor is in the town at ``t`` (nearest trajectory sample)."""
        i, a = self._index(t)
        j = min(i + int(round(a)), len(self.times) - 1)
        return bool(self.present[j])

    def state_at(self, t: float) -> np.ndarray:
        """``[4]`` x, y, yaw, z at ``t`` (linear interpolation; yaw along the shortest arc)."""
        i, a = self._index(t)
        if len(self.times) == 1:
            return self.states[0].copy()
        s0, s1 = self.states[i], self.states[i + 1]
        dyaw = (s1[2] - s0[2] + np.pi) % (2 * np.pi) - np.pi
        out = s0 + a * (s1 - s0)
        out[2] = s0[2] + a * dyaw
        return out

    def pose_at(self, t: float) -> SE3:
        """Box pose ``world_from_box`` at ``t``."""
        x, y, yaw, z = self.state_at(t)
        return SE3.from_xy_yaw(float(x), float(y), float(yaw), z=float(z))

    def attribute_at(self, t: float) -> str:
        i, a = self._index(t)
        return self.attributes[min(i + int(round(a)), len(self.times) - 1)]

    def speed_at(self, t: float) -> float:
        """Planar speed [m/s] by finite differences of the trajectory."""
        i, _ = self._index(t)
        if len(self.times) < 2:
            return 0.0
        d = self.states[i + 1, :2] - self.states[i, :2]
        return float(np.linalg.norm(d) / (self.times[i + 1] - self.times[i]))


def states_from_path(xy: np.ndarray, z: np.ndarray | float, heading_hint: np.ndarray) -> np.ndarray:
    """``[T, 4]`` states from positions ``[T, 2]``: yaw from the direction of motion, or from
    ``heading_hint`` ``[T]`` [rad] where the actor barely moves."""
    vel = np.gradient(xy, axis=0) if len(xy) > 1 else np.zeros_like(xy)
    speed = np.linalg.norm(vel, axis=1)
    yaw = np.where(speed > 1e-3, np.arctan2(vel[:, 1], vel[:, 0]), heading_hint)
    z = np.broadcast_to(np.asarray(z, dtype=np.float64), (len(xy),))
    return np.column_stack([xy, yaw, z])

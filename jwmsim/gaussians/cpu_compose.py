"""Compose a scene for a CPU render without a gradient, straight into numpy arrays.

:meth:`GaussianScene.compose` concatenates the background with the placed actors and the
rasterizer then activates everything (``exp`` of the log-scales, two sigmoids) and converts it to
numpy: for a 180k-Gaussian lidar skeleton that was some 5-8 ms of every render, repeated for a
background that never changes. Here the background's activated arrays are made once and kept at
the head of a buffer (remade when a tensor of it is replaced or modified in place); each render
writes only the actors behind them. Values equal :meth:`GaussianScene.compose` followed by the
activations (actor placement in float64, rounded once: at most an ulp apart).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping

import numpy as np
import torch

from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, rotations_to_quats
from jwmsim.geometry import SE3

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def needs_grad(scene: GaussianScene, extra_actors: Mapping[str, GaussianComponent] | None) -> bool:
    """Whether a render of ``scene`` would have to record a gradient."""
    if not torch.is_grad_enabled():
        return False
    comps = [scene.background, *scene.actors.values(), *(extra_actors or {}).values()]
    return (
        any(t.requires_grad for c in comps for t in c.tensors().values())
        or scene.sky.color_logits.requires_grad
    )


def _activated(comp: GaussianComponent) -> Arrays:
    """means ``[N, 3]``, quats ``[N, 4]``, scales ``[N, 3]`` [m], opacities ``[N]``, colors ``[N, 3]``."""
    with torch.no_grad():
        return tuple(
            t.detach().contiguous().numpy()
            for t in (comp.means, comp.quats, comp.scales, comp.opacities, comp.colors)
        )  # type: ignore[return-value]


def _signature(comp: GaussianComponent) -> tuple[int, ...]:
    """Identity and in-place version of every tensor of ``comp`` (changes when any is modified)."""
    return tuple(v for t in comp.tensors().values() for v in (id(t), t._version))


class _Entry:
    """Activated arrays of one component, kept while the component's ``means`` tensor lives."""

    def __init__(self, comp: GaussianComponent) -> None:
        self.ref = weakref.ref(comp.means)
        self.signature = _signature(comp)
        self.arrays = _activated(comp)

    def valid(self, comp: GaussianComponent) -> bool:
        return self.ref() is comp.means and self.signature == _signature(comp)


class SceneArrays:
    """Per-thread cache of activated components and of the world buffer (background at its head)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._world_key: tuple[int, ...] | None = None
        self._world_ref: weakref.ref[torch.Tensor] | None = None
        self._world: list[np.ndarray] = []

    def activated(self, comp: GaussianComponent) -> Arrays:
        key = id(comp.means)
        entry = self._entries.get(key)
        if entry is None or not entry.valid(comp):
            if len(self._entries) > 4096:  # components come and go (inserted assets): drop the dead
                self._entries = {k: e for k, e in self._entries.items() if e.ref() is not None}
            entry = self._entries[key] = _Entry(comp)
        return entry.arrays

    def _buffers(self, background: GaussianComponent, n_total: int) -> list[np.ndarray]:
        key = _signature(background)
        alive = self._world_ref is not None and self._world_ref() is background.means
        if not alive or key != self._world_key or self._world[0].shape[0] < n_total:
            bg = self.activated(background)
            cap = n_total + max(1024, (n_total - len(background)) // 2)
            self._world = [np.empty((cap, *a.shape[1:]), a.dtype) for a in bg]
            for buf, a in zip(self._world, bg, strict=True):
                buf[: len(a)] = a
            self._world_key, self._world_ref = key, weakref.ref(background.means)
        return self._world

    def compose(
        self, scene: GaussianScene, actor_poses: Mapping[str, SE3], extra: Mapping[str, GaussianComponent]
    ) -> Arrays:
        """World-frame activated arrays of the background and the actors of ``actor_poses`` (views
        of a buffer reused by the next call in this thread). Ids in neither the scene nor ``extra``
        raise the same :class:`~jwmsim.errors.ConfigError` as :meth:`GaussianScene.compose`."""
        comps, poses = [], []
        for aid, pose in actor_poses.items():
            comp = scene.actors.get(aid, extra.get(aid))
            if comp is None:
                scene.compose({aid: pose}, extra)  # raises the scene's error for an unknown id
            if len(comp):
                comps.append(comp)
                poses.append(pose)
        nb = len(scene.background)
        n = nb + sum(len(c) for c in comps)
        world = self._buffers(scene.background, n)
        means, quats, scales, opac, colors = (b[:n] for b in world)
        at = nb
        for comp, pose in zip(comps, poses, strict=True):
            m, q, s, o, c = self.activated(comp)
            end = at + len(m)
            rot = np.asarray(pose.rotation, np.float64)
            means[at:end] = m @ rot.T + np.asarray(pose.translation, np.float64)
            quats[at:end] = _quat_multiply(rotations_to_quats(rot[None])[0], q)
            scales[at:end], opac[at:end], colors[at:end] = s, o, c
            at = end
        return means, quats, scales, opac, colors


def _quat_multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product of one quaternion ``p`` ``[4]`` with ``q`` ``[N, 4]`` (scalar first)."""
    w1, x1, y1, z1 = p
    w2, x2, y2, z2 = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        -1,
    )


_LOCAL = threading.local()


def thread_scene_arrays() -> SceneArrays:
    """This thread's :class:`SceneArrays`."""
    sa = getattr(_LOCAL, "scene_arrays", None)
    if sa is None:
        sa = _LOCAL.scene_arrays = SceneArrays()
    return sa

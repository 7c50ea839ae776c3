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
from numba import njit

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
        self._tail_key: tuple[int, ...] | None = None  # actors whose static columns are in the buffer
        self._actors_key: tuple[int, ...] | None = None
        self._actors: Arrays | None = None
        self._owner = np.zeros(0, np.int64)
        self._actor_comps: list[GaussianComponent] = []
        self._world: list[np.ndarray] = []

    def activated(self, comp: GaussianComponent) -> Arrays:
        key = id(comp.means)
        entry = self._entries.get(key)
        if entry is None or not entry.valid(comp):
            # components come and go (other scenes, inserted assets): drop the arrays of dead ones
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
            self._tail_key = None
        return self._world

    def _actor_block(self, comps: list[GaussianComponent]) -> tuple[tuple[int, ...], Arrays, np.ndarray]:
        """The drawn actors' activated arrays concatenated (box frames) and the owner index ``[Na]``
        of each Gaussian; remade only when the set of drawn actors (or one of them) changes."""
        key = tuple(v for c in comps for v in _signature(c))
        if key != self._actors_key or self._actors is None:
            parts = [self.activated(c) for c in comps]
            self._actors = tuple(np.concatenate([p[k] for p in parts]) for k in range(5))  # type: ignore[assignment]
            self._owner = np.repeat(np.arange(len(comps)), [len(p[0]) for p in parts])
            self._actors_key = key
            self._actor_comps = comps  # held: their tensors' ids in ``key`` cannot be reused meanwhile
        return key, self._actors, self._owner  # type: ignore[return-value]

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
        if comps:
            key, (m, q, s, o, c), owner = self._actor_block(comps)
            if self._tail_key != key:  # the static columns of the actors, behind the background
                scales[nb:], opac[nb:], colors[nb:] = s, o, c
                self._tail_key = key
            rot = np.stack([p.rotation for p in poses]).astype(np.float64)
            trans = np.stack([p.translation for p in poses]).astype(np.float64)
            _place(m, q, owner, rot, trans, rotations_to_quats(rot), means[nb:], quats[nb:])
        return means, quats, scales, opac, colors


@njit(cache=True)
def _place(means, quats, owner, rot, trans, pose_quats, out_means, out_quats):  # pragma: no cover
    """``out = R_owner means + t_owner`` and ``pose_quat_owner * quats`` (Hamilton), in float64."""
    for i in range(means.shape[0]):
        a = owner[i]
        x, y, z = np.float64(means[i, 0]), np.float64(means[i, 1]), np.float64(means[i, 2])
        for r in range(3):
            out_means[i, r] = rot[a, r, 0] * x + rot[a, r, 1] * y + rot[a, r, 2] * z + trans[a, r]
        w1, x1, y1, z1 = pose_quats[a, 0], pose_quats[a, 1], pose_quats[a, 2], pose_quats[a, 3]
        w2, x2 = np.float64(quats[i, 0]), np.float64(quats[i, 1])
        y2, z2 = np.float64(quats[i, 2]), np.float64(quats[i, 3])
        out_quats[i, 0] = w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2
        out_quats[i, 1] = w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2
        out_quats[i, 2] = w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2
        out_quats[i, 3] = w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2


_LOCAL = threading.local()


def thread_scene_arrays() -> SceneArrays:
    """This thread's :class:`SceneArrays`."""
    sa = getattr(_LOCAL, "scene_arrays", None)
    if sa is None:
        sa = _LOCAL.scene_arrays = SceneArrays()
    return sa

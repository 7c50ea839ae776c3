"""Visibility from the render itself: each actor's Gaussians rendered alone give its instance mask,
compared with the full render's depth.

For a render path that draws a Gaussian scene with depth (``skeleton``), per keyframe and actor:

* the actor's *silhouette*: its Gaussians (the scene's component, the inserted asset, or the box
  the render path draws for it) rendered alone from every exported camera, alpha > 0.5;
* *seen* silhouette pixels: where the full render's depth is not nearer than the actor's own
  depth minus :data:`~jwmsim.export.visibility.DEPTH_TOLERANCE_M` (nothing drawn in front);
* visibility = seen / silhouette pixels over the cameras. An actor whose silhouette is empty (its
  box is outside every image, or the skeleton has no Gaussians for it: nothing of it is drawn)
  gets 0, nuScenes' 0-40 % bin: an annotation of an actor the images do not show is marked so.

Only actors whose box projects into some image are rendered (the projected-box footprint of
:mod:`jwmsim.export.visibility` decides). Actors whose footprints (grown by
:data:`FOOTPRINT_MARGIN_PX`) overlap in no camera are rendered together in one call, all cameras
at once, and each one's silhouette is read inside its own footprint: the same masks as one render
per actor, in a few calls per keyframe instead of one per actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import torch

from jwmsim.export.visibility import DEPTH_TOLERANCE_M, CameraView, box_footprint
from jwmsim.geometry import SE3, box_corners
from jwmsim.logs.segment import Camera

SILHOUETTE_ALPHA = 0.5  # alpha above which a pixel belongs to an actor's silhouette
FOOTPRINT_MARGIN_PX = 2  # [px] an actor's silhouette is looked for in its box footprint grown by this


class InstanceVisibility:
    """Instance-mask visibility for a render path that exposes its Gaussian scene.

    Args:
        renderer: the render path object; it needs ``scene`` (a GaussianScene) and
            ``actors_to_draw(state) -> (poses, extra components)``.
        cameras: the exported cameras; image_size: ``(H, W)`` [px]; backend: rasterizer name.
    """

    def __init__(
        self, renderer: Any, cameras: Sequence[Camera], image_size: tuple[int, int], backend: str = "auto"
    ) -> None:
        from dataclasses import replace

        from jwmsim.gaussians.scene import GaussianComponent

        scene = renderer.scene
        empty = GaussianComponent.empty(scene.device, scene.background.means.dtype)
        self.actor_scene = replace(scene, background=empty)  # the actors alone
        self.renderer = renderer
        self.cameras = list(cameras)
        self.size = image_size
        self.backend = backend

    @staticmethod
    def supports(renderer: Any) -> bool:
        """Whether ``renderer`` exposes what this needs."""
        from jwmsim.gaussians.scene import GaussianScene

        return isinstance(getattr(renderer, "scene", None), GaussianScene) and callable(
            getattr(renderer, "actors_to_draw", None)
        )

    def fractions(
        self,
        state: Any,
        ids: Sequence[str],
        poses: Mapping[str, SE3],
        sizes: Mapping[str, tuple],
        views: list[CameraView],
    ) -> np.ndarray:
        """Visible fraction ``[len(ids)]`` of each actor (see the module docstring).

        Args:
            state: the simulation state the images were rendered from.
            ids: actor ids; poses: their ``world_from_box``; sizes: their ``(w, l, h)`` [m].
            views: one :class:`CameraView` per camera, with the full render's depth.
        """
        from jwmsim.gaussians.render import render

        draw_poses, extra = self.renderer.actors_to_draw(state)
        ego = state.ego.pose()
        out = np.zeros(len(ids))
        prints: dict[int, list[np.ndarray | None]] = {}  # actor -> grown footprint per camera
        for n, aid in enumerate(ids):
            comp = self.actor_scene.actors.get(aid, extra.get(aid))
            if aid not in draw_poses or comp is None or len(comp) == 0:
                continue  # nothing of it is drawn
            fps = _grown_footprints(box_corners(sizes[aid], poses[aid]), views)
            if any(fp is not None for fp in fps):
                prints[n] = fps
        for group in _disjoint_groups(prints, len(views)):
            members = {ids[n]: draw_poses[ids[n]] for n in group}
            missing = {a: extra[a] for a in members if a not in self.actor_scene.actors}
            with torch.no_grad():
                alone = render(
                    self.actor_scene,
                    self.cameras,
                    ego,
                    members,
                    self.size,
                    backend=self.backend,
                    extra_actors=missing or None,
                )
            alpha = alone.alpha.float().cpu().numpy()
            depth = alone.depth.float().cpu().numpy()
            for n in group:
                seen = total = 0
                for v, view in enumerate(views):
                    fp = prints[n][v]
                    if fp is None:
                        continue
                    sil = fp & (alpha[v] > SILHOUETTE_ALPHA)
                    count = int(sil.sum())
                    if count == 0:
                        continue
                    total += count
                    if view.depth is None:
                        seen += count
                        continue
                    full = np.asarray(view.depth, dtype=np.float64)[sil]
                    seen += int(np.count_nonzero(full >= depth[v][sil] - DEPTH_TOLERANCE_M))
                out[n] = seen / total if total else 0.0
        return out


def _grown_footprints(corners: np.ndarray, views: Sequence[CameraView]) -> list[np.ndarray | None]:
    """Per camera, the box's footprint grown by :data:`FOOTPRINT_MARGIN_PX` (None: not in view)."""
    kernel = np.ones((2 * FOOTPRINT_MARGIN_PX + 1,) * 2, np.uint8)
    out: list[np.ndarray | None] = []
    for view in views:
        fp = box_footprint(view.cam_from_world.apply(corners), view.intrinsics)
        out.append(None if fp is None else cv2.dilate(fp[0].astype(np.uint8), kernel).astype(bool))
    return out


def _disjoint_groups(prints: Mapping[int, list[np.ndarray | None]], n_views: int) -> list[list[int]]:
    """Greedy groups of actors whose footprints overlap in no camera: each group is rendered in
    one call, and every silhouette pixel of it belongs to exactly one actor."""
    groups: list[tuple[list[int], list[np.ndarray | None]]] = []
    for n, fps in prints.items():
        for members, union in groups:
            if all(fp is None or union[v] is None or not (fp & union[v]).any() for v, fp in enumerate(fps)):
                members.append(n)
                for v, fp in enumerate(fps):
                    if fp is not None:
                        union[v] = fp.copy() if union[v] is None else union[v] | fp
                break
        else:
            groups.append(([n], [None if fp is None else fp.copy() for fp in fps]))
    assert all(len(u) == n_views for _, u in groups)
    return [members for members, _ in groups]

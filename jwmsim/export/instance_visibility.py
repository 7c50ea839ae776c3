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
:mod:`jwmsim.export.visibility` decides), each with all cameras in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from jwmsim.export.visibility import DEPTH_TOLERANCE_M, CameraView, box_footprint
from jwmsim.geometry import SE3, box_corners
from jwmsim.logs.segment import Camera

SILHOUETTE_ALPHA = 0.5  # alpha above which a pixel belongs to an actor's silhouette


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
        for n, aid in enumerate(ids):
            corners = box_corners(sizes[aid], poses[aid])
            if not any(_in_view(corners, v) for v in views) or aid not in draw_poses:
                continue
            comp = self.actor_scene.actors.get(aid, extra.get(aid))
            if comp is None or len(comp) == 0:
                continue  # nothing of it is drawn
            with torch.no_grad():
                alone = render(
                    self.actor_scene,
                    self.cameras,
                    ego,
                    {aid: draw_poses[aid]},
                    self.size,
                    backend=self.backend,
                    extra_actors={aid: comp} if aid not in self.actor_scene.actors else None,
                )
            alpha = alone.alpha.float().cpu().numpy()
            depth = alone.depth.float().cpu().numpy()
            seen = total = 0
            for v, view in enumerate(views):
                sil = alpha[v] > SILHOUETTE_ALPHA
                if not sil.any():
                    continue
                total += int(sil.sum())
                if view.depth is None:
                    seen += int(sil.sum())
                    continue
                full = np.asarray(view.depth, dtype=np.float64)[sil]
                seen += int(np.count_nonzero(full >= depth[v][sil] - DEPTH_TOLERANCE_M))
            out[n] = seen / total if total else 0.0
        return out


def _in_view(corners: np.ndarray, view: CameraView) -> bool:
    return box_footprint(view.cam_from_world.apply(corners), view.intrinsics) is not None

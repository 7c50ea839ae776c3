"""The skeleton's render of one step, placing actors the way the simulator's ``skeleton`` path does.

Actors with Gaussians in the scene are drawn from them; actors the scene has none for are drawn
from ``extra`` (e.g. a shipped asset of an inserted vehicle) or, failing that, as a box of Gaussians
of their size (as :class:`jwmsim.envs.render_paths.SkeletonRenderer` does), so that a generator
trained on these renders sees what it will see in the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from jwmsim.gaussians.scene import GaussianComponent, GaussianScene
from jwmsim.geometry import SE3
from jwmsim.logs.segment import Camera


@dataclass
class SkeletonPainter:
    """Renders ``scene`` at ``size_hw`` for ``cameras``, keeping box actors per id."""

    scene: GaussianScene
    cameras: Sequence[Camera]
    size_hw: tuple[int, int]
    _boxes: dict[str, GaussianComponent] = field(default_factory=dict)

    @property
    def scene_version(self) -> str:
        """The version of the scene source that built ``scene`` (its ``method_version``
        metadata, e.g. the WorldRec weights' digest), or ``""`` where the scene records none."""
        return str(self.scene.metadata.get("method_version", ""))

    def render(
        self,
        ego: SE3,
        actor_poses: Mapping[str, SE3],
        sizes_lwh: Mapping[str, tuple[float, float, float]],
        extra: Mapping[str, GaussianComponent] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB uint8 ``[C, H, W, 3]``, depth float32 ``[C, H, W]`` [m] (0 empty) and alpha float32
        ``[C, H, W]`` in [0, 1] with the ego at ``ego`` (world_from_ego) and the actors at
        ``actor_poses`` (world_from_box); ``sizes_lwh`` [m] sizes the boxes of actors without
        Gaussians."""
        from jwmsim.gaussians.render import render
        from jwmsim.gaussians.synthetic import box_actor

        extra_all = dict(extra or {})
        for aid in actor_poses:
            if aid in self.scene.actors or aid in extra_all:
                continue
            if aid not in self._boxes:
                seed = int.from_bytes(aid.encode()[:4].ljust(4, b"\0"), "little")
                self._boxes[aid] = box_actor(tuple(sizes_lwh[aid]), n=600, seed=seed)
            extra_all[aid] = self._boxes[aid]
        with torch.no_grad():
            out = render(
                self.scene, list(self.cameras), ego, dict(actor_poses), self.size_hw, extra_actors=extra_all
            )
        rgb = (out.rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).numpy()
        return rgb, out.depth.float().numpy(), out.alpha.float().clamp(0.0, 1.0).numpy()


def scaled_asset(kind: str, size_lwh: tuple[float, float, float]) -> GaussianComponent:
    """The shipped Gaussian asset ``kind`` (sedan, suv, van, truck) stretched to a box of
    ``size_lwh`` [m] (length, width, height)."""
    from dataclasses import replace

    from jwmsim.gaussians.assets import load_actor_asset

    comp = load_actor_asset(kind)
    m = comp.means
    extent = (m.max(0).values - m.min(0).values).clamp_min(1e-3)
    centre = (m.max(0).values + m.min(0).values) / 2
    factor = torch.tensor(size_lwh, dtype=m.dtype) / extent
    return replace(
        comp,
        means=(m - centre) * factor,
        log_scales=comp.log_scales + torch.log(factor.mean()),
    )

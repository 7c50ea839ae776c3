"""The ``worldrec`` scene source: the shipped WorldRec network reconstructs the log (seconds), the
scene is pruned to the Gaussians the log's cameras see (:mod:`jwmsim.gaussians.prune`: about half
of them, at no measurable cost in quality, so it renders as fast as the lidar skeleton), and
``steps`` (``--refine`` of ``jwmsim reconstruct``), when given, refines it by that many steps of
per-scene fitting (:func:`jwmsim.gaussians.fit.fit_scene` started from it).

Weights: ``assets/worldrec/`` of the repository, or the folder named by ``$JWMSIM_WORLDREC_WEIGHTS``.
A missing or corrupt checkpoint is a :class:`~jwmsim.errors.CheckpointError` naming the path.
:data:`WORLDREC_SOURCE` is the ``worldrec`` entry of the ``jwmsim.scene_sources`` entry-point group.
Nothing heavy (torch, diffusers) is imported until ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jwmsim.gaussians.prune import PruneConfig
from jwmsim.scenes.sources import SourceSettings
from jwmsim.worldrec.weights import weights_digest, weights_dir

if TYPE_CHECKING:
    from jwmsim.gaussians.scene import GaussianScene
    from jwmsim.logs.segment import LogSegment

@dataclass(frozen=True)
class WorldRecSource:
    """Feed-forward reconstruction by the trained WorldRec network (optionally refined)."""

    needs_lidar: bool = True
    description: str = "WorldRec feed-forward network (seconds; --refine N adds N fitting steps)"
    prune: PruneConfig | None = field(default_factory=PruneConfig)

    @property
    def version(self) -> str:
        pruned = self.prune.key() if self.prune is not None else "unpruned"
        return f"worldrec-v1-{weights_digest(weights_dir())}-{pruned}"

    def build(
        self, segment: LogSegment, settings: SourceSettings, progress: bool
    ) -> tuple[GaussianScene, dict[str, Any]]:
        from jwmsim.worldrec.reconstruct import load_worldrec, reconstruct_segment

        model = load_worldrec(weights_dir(), device=settings.device)
        scene, report = reconstruct_segment(model, segment, progress=progress)
        report["weights"] = str(weights_dir())
        if self.prune is not None:
            from jwmsim.gaussians.prune import prune_scene

            scene, pruned = prune_scene(scene, segment, self.prune)
            report.update(pruned)
        if settings.steps:
            from jwmsim.gaussians.fit import FitConfig, fit_scene

            cfg = FitConfig(
                steps=settings.steps, image_hw=settings.image_hw or FitConfig().image_hw, seed=settings.seed
            )
            scene, fit = fit_scene(segment, cfg, progress=progress, init_scene=scene)
            report = {**report, "refine_steps": settings.steps, **fit.to_dict()}
        return scene, report


WORLDREC_SOURCE = WorldRecSource()  # the entry of the ``jwmsim.scene_sources`` group (pyproject.toml)

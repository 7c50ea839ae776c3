"""The ``worldrec`` scene source: the shipped WorldRec network reconstructs the log (seconds), the
scene is pruned to the Gaussians the log's cameras see (:mod:`jwmsim.gaussians.prune`: about half
of them, at no measurable cost in quality, so it renders as fast as the lidar skeleton), and
``steps`` (``--refine`` of ``jwmsim reconstruct``), when given, refines it by that many steps of
per-scene fitting (:func:`jwmsim.gaussians.fit.fit_scene` started from it).

Weights: ``assets/worldrec/`` of the repository, or the folder named by ``$JWMSIM_WORLDREC_WEIGHTS``.
A missing or corrupt checkpoint is a :class:`~jwmsim.errors.CheckpointError` naming the path.
:func:`register` adds the entry to :data:`jwmsim.envs.scene_sources.SCENE_SOURCES` (idempotent);
importing this module registers it. Nothing heavy (torch, diffusers) is imported until ``build``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jwmsim.envs.scene_sources import SCENE_SOURCES, SourceSettings
from jwmsim.errors import CheckpointError
from jwmsim.gaussians.prune import PruneConfig
from jwmsim.resources import shipped_path

if TYPE_CHECKING:
    from jwmsim.gaussians.scene import GaussianScene
    from jwmsim.logs.segment import LogSegment

ASSET_DIR = shipped_path("assets") / "worldrec"  # checkout: <repo>/assets/worldrec; wheel: package data
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"


def weights_dir() -> Path:
    """``$JWMSIM_WORLDREC_WEIGHTS`` or the shipped ``assets/worldrec``."""
    env = os.environ.get("JWMSIM_WORLDREC_WEIGHTS")
    return Path(env).expanduser() if env else ASSET_DIR


@lru_cache(maxsize=8)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    from jwmsim.checkpoints import file_digest  # torch-free import of this module: load it here

    return file_digest(path)


def weights_digest(folder: Path) -> str:
    """Content digest of the weights file (part of the scene cache key)."""
    f = Path(folder) / WEIGHTS_FILE
    if not f.is_file():
        raise CheckpointError(
            f"WorldRec weights {f} do not exist",
            hint="restore assets/worldrec/ from git, set JWMSIM_WORLDREC_WEIGHTS, or use --method lidar",
        )
    st = f.stat()
    return _digest(str(f), st.st_mtime_ns, st.st_size)


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


def register() -> None:
    """Add ``worldrec`` to the scene-source registry (once)."""
    if "worldrec" not in SCENE_SOURCES:
        SCENE_SOURCES.add("worldrec", WorldRecSource())


register()

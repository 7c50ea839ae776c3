"""The ``worldrec`` scene source (the default scene of the environment, replay, viewer and export):
the shipped WorldRec network reconstructs the log (seconds), the scene is pruned to the Gaussians
the log's cameras see (:mod:`jwmsim.gaussians.prune`), then refined by per-scene fitting
(:func:`jwmsim.gaussians.fit.fit_scene` started from it) for whatever is left of a wall-clock
**budget** (``SourceSettings.budget``, default :data:`DEFAULT_BUDGET` = 60 s for the whole build).

Every ``holdout_every``-th frame (default 8; index ``i % 8 == 4``) is **held out**: neither WorldRec
nor the refinement reads it, and the finished scene is scored on it (PSNR / SSIM, per camera, and a
contact sheet: :mod:`jwmsim.scenes.quality`). The report holds the time of each stage.

Stated fall-backs (recorded as ``report["fallback"]`` and printed by ``jwmsim reconstruct``):

* a log without lidar sweeps, or whose cameras are not the model's (channel names it was not
  trained on, or an aspect ratio far from its 16:9 input): per-scene fitting from the cameras alone
  within the same budget, since WorldRec's queries and depth test need lidar and its encoder has
  only seen the nuScenes-like 6-camera rig;
* a budget of 0: WorldRec alone, no refinement; a budget WorldRec used up: no refinement.

Weights: ``assets/worldrec/`` of the repository, or the folder named by ``$JWMSIM_WORLDREC_WEIGHTS``.
A missing or corrupt checkpoint is a :class:`~jwmsim.errors.CheckpointError` naming the path.
:data:`WORLDREC_SOURCE` is the ``worldrec`` entry of the ``jwmsim.scene_sources`` entry-point group.
Nothing heavy (torch, diffusers) is imported until ``build``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jwmsim.errors import ConfigError
from jwmsim.gaussians.prune import PruneConfig
from jwmsim.scenes.quality import build_frames, heldout_frames
from jwmsim.scenes.sources import SourceSettings
from jwmsim.worldrec.weights import weights_digest, weights_dir

if TYPE_CHECKING:
    from jwmsim.gaussians.scene import GaussianScene
    from jwmsim.logs.segment import LogSegment

DEFAULT_BUDGET = 60.0  # [s] of a whole build: WorldRec, pruning and refinement
MAX_REFINE_STEPS = 100_000  # cap of a budgeted refinement (the budget ends it first)
# The rig WorldRec was trained on (procedural towns and the real log both use nuScenes channels).
TRAINED_CAMERAS = frozenset(
    {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT"}
)
ASPECT_TOLERANCE = 0.15  # relative difference of width / height from the model's input


def check_budget(budget: float | None) -> float:
    """The build budget [s] (``None``: :data:`DEFAULT_BUDGET`).

    Raises:
        ConfigError: a negative or non-finite budget.
    """
    import math

    value = DEFAULT_BUDGET if budget is None else float(budget)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"the reconstruction budget must be 0 or more seconds, got {budget}",
            hint="--budget 60 (the default) refines WorldRec's scene for about a minute; --budget 0 skips it",
        )
    return value


def worldrec_unfit_reason(segment: LogSegment, image_hw: tuple[int, int]) -> str | None:
    """Why WorldRec cannot reconstruct ``segment`` (None when it can): no lidar, or cameras that
    are not the model's."""
    if not segment.lidar:
        return "the log has no lidar sweeps (WorldRec seeds its queries and depth test from lidar)"
    foreign = [c for c in segment.camera_names if c not in TRAINED_CAMERAS]
    if foreign:
        return (
            f"its cameras {foreign} are not the model's (WorldRec was trained on the 6-camera "
            f"nuScenes rig: {', '.join(sorted(TRAINED_CAMERAS))})"
        )
    want = image_hw[1] / image_hw[0]
    for c in segment.camera_names:
        h, w = segment.native_size(c)
        if abs(w / h - want) / want > ASPECT_TOLERANCE:
            return (
                f"camera {c} is {w}x{h} px (aspect {w / h:.2f}); WorldRec reads {want:.2f} "
                f"({image_hw[1]}x{image_hw[0]}) images"
            )
    return None


def model_image_hw() -> tuple[int, int]:
    """The input size ``(H, W)`` of the WorldRec weights in use (from their ``config.json``;
    the default 90x160 when it does not say)."""
    import json

    try:
        hw = json.loads((weights_dir() / "config.json").read_text()).get("image_hw", (90, 160))
    except (OSError, ValueError):
        hw = (90, 160)  # a missing config is reported by load_worldrec with its path
    return int(hw[0]), int(hw[1])


@dataclass(frozen=True)
class WorldRecSource:
    """WorldRec's feed-forward scene, refined within a time budget, scored on held-out frames."""

    needs_lidar: bool = True
    description: str = (
        "WorldRec feed-forward network refined by per-scene fitting within --budget seconds (default 60), "
        "scored on held-out frames"
    )
    prune: PruneConfig | None = field(default_factory=PruneConfig)
    options: tuple[str, ...] = ("refine", "budget", "holdout_every")

    def check(self, settings: SourceSettings) -> None:
        """A budget that is not a non-negative number, or a held-out period of 1: ConfigError."""
        from jwmsim.scenes.quality import heldout_frames

        check_budget(settings.budget)
        heldout_frames(1, settings.holdout_every)  # refuses a period of 1 or below 0

    def preview(self, segment: LogSegment) -> str | None:
        """The fall-back this source takes on ``segment`` (a log WorldRec cannot read), if any."""
        reason = worldrec_unfit_reason(segment, model_image_hw())
        return f"per-scene fitting from the cameras alone: {reason}" if reason else None

    @property
    def version(self) -> str:
        pruned = self.prune.key() if self.prune is not None else "unpruned"
        return f"worldrec-v2-{weights_digest(weights_dir())}-{pruned}"

    def build(
        self, segment: LogSegment, settings: SourceSettings, progress: bool, model: Any = None
    ) -> tuple[GaussianScene, dict[str, Any]]:
        """The scene and its report (see the module docstring); ``model``: a loaded
        :class:`~jwmsim.worldrec.modeling_worldrec.WorldRecModel` to use instead of the weights in
        :func:`~jwmsim.worldrec.weights.weights_dir` (evaluation of other weights)."""
        from jwmsim.gaussians.fit import FitConfig

        t0 = time.perf_counter()
        budget = check_budget(settings.budget)
        every = settings.holdout_every
        n = min(len(segment.frames[c]) for c in segment.camera_names)
        held = heldout_frames(n, every)
        build = build_frames(n, every)
        hw = settings.image_hw or FitConfig().image_hw
        stages: dict[str, float] = {}
        report: dict[str, Any] = {"budget_seconds": budget, "holdout_every": every, "heldout_frames": held}
        reason = worldrec_unfit_reason(segment, model_image_hw())
        if reason is None:
            scene = self._worldrec(segment, settings, build, progress, stages, report, model)
        else:
            report["fallback"] = f"per-scene fitting from the cameras alone: {reason}"
            if budget == 0 and settings.steps is None:
                raise ConfigError(
                    f"WorldRec cannot reconstruct log {segment.name}: {reason}",
                    hint="give per-scene fitting a budget (--budget 60) or use --method fit",
                )
            scene = None
        used = time.perf_counter() - t0
        left = budget - used
        if scene is not None and budget == 0 and settings.steps is None:
            report["refine_note"] = "budget 0: WorldRec alone, no refinement"
        elif scene is not None and left < 1.0 and settings.steps is None:
            report["refine_note"] = f"WorldRec used {used:.0f} s of the {budget:.0f} s budget: no refinement"
        else:
            scene = self._refine(
                segment, scene, settings, hw, left if budget > 0 else None, progress, stages, report
            )
        stages["total_build"] = round(time.perf_counter() - t0, 2)
        if held:
            from jwmsim.scenes.quality import evaluate_heldout

            t1 = time.perf_counter()
            quality = evaluate_heldout(scene, segment, held, hw)
            stages["evaluate"] = round(time.perf_counter() - t1, 2)
            report["quality"] = quality.to_dict()
            report["heldout_psnr"] = quality.psnr
            report["heldout_ssim"] = quality.ssim
            report["contact_sheet"] = quality.contact_sheet
        else:
            report["quality_note"] = "no held-out frames: the scene's quality is not measured"
        report["stages_seconds"] = stages
        report["gaussians"] = scene.num_gaussians
        report["build_seconds"] = stages["total_build"]
        return scene, report

    def _worldrec(
        self,
        segment: LogSegment,
        settings: SourceSettings,
        frames: list[int],
        progress: bool,
        stages: dict[str, float],
        report: dict[str, Any],
        model: Any = None,
    ) -> GaussianScene:
        t0 = time.perf_counter()
        from jwmsim.worldrec.reconstruct import load_worldrec, reconstruct_segment

        if model is None:
            model = load_worldrec(weights_dir(), device=settings.device)
            report["weights"] = str(weights_dir())
        stages["load_model"] = round(time.perf_counter() - t0, 2)
        scene, rec = reconstruct_segment(model, segment, frames=frames, progress=progress)
        stages["load_log"] = rec["load_seconds"]
        stages["worldrec"] = round(rec["build_seconds"] - rec["load_seconds"], 2)
        report["worldrec_gaussians"] = rec["gaussians"]
        if self.prune is not None:
            from jwmsim.gaussians.prune import prune_scene

            scene, pruned = prune_scene(scene, segment, self.prune)
            stages["prune"] = pruned["prune_seconds"]
            report.update(pruned)
        return scene

    def _refine(
        self,
        segment: LogSegment,
        scene: GaussianScene | None,
        settings: SourceSettings,
        hw: tuple[int, int],
        seconds: float | None,
        progress: bool,
        stages: dict[str, float],
        report: dict[str, Any],
    ) -> GaussianScene:
        from jwmsim.gaussians.fit import FitConfig, fit_scene

        steps = settings.steps or (MAX_REFINE_STEPS if seconds is not None else FitConfig().steps)
        cfg = FitConfig(
            steps=steps,
            image_hw=hw,
            seed=settings.seed,
            device=settings.device,
            holdout_every=settings.holdout_every,
            time_budget=max(seconds, 1e-3) if seconds is not None else None,
            evaluate=False,
        )
        t0 = time.perf_counter()
        refined, fit = fit_scene(segment, cfg, progress=progress, init_scene=scene)
        stages["refine"] = round(time.perf_counter() - t0, 2)
        report.update(
            refine_steps=fit.steps,
            refine_stopped=fit.stopped,
            init=fit.init,
            init_reason=fit.init_reason,
        )
        return refined


WORLDREC_SOURCE = WorldRecSource()  # the entry of the ``jwmsim.scene_sources`` group (pyproject.toml)

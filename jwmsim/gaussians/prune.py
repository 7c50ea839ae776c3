"""Pruning a Gaussian scene to the Gaussians the cameras actually see.

A feed-forward reconstruction decodes a fixed number of Gaussians per query, and many of them end
up hidden behind others, far outside every view, or so small that they colour a fraction of a
pixel. Rendering cost grows with the Gaussian count, so :func:`prune_scene` ranks the background's
Gaussians by their total *blending weight* (``alpha * T`` summed over the pixels of a set of views:
the pixels' worth of colour each one contributes, occlusion included; see
:func:`jwmsim.gaussians.backend_cpu.blending_weights_cpu`) and keeps the smallest set that holds
``weight_coverage`` of the total. The views are the log's own camera rigs every ``frame_stride``
frames, with the ego also shifted sideways by ``shifts`` metres, so that what the car sees when it
leaves the logged path is kept too. Actors' Gaussians are kept whole (they are few, and they move).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3

if TYPE_CHECKING:  # torch and the rasterizer load on first use: scene sources import this module
    from jwmsim.gaussians.scene import GaussianComponent, GaussianScene
    from jwmsim.logs.segment import LogSegment


@dataclass(frozen=True)
class PruneConfig:
    """How a scene is pruned.

    Attributes:
        weight_coverage: share of the total blending weight that the kept Gaussians hold (0-1].
            The default, 0.998, was chosen on the real log's in-sample held-out frames (the
            measurements: ``docs/models/worldrec.md``, "Pruning").
        frame_stride: every this many frames of the log's first camera is a view position.
        shifts: lateral offsets of the viewing ego at every view position [m] (positive: left).
        image_hw: resolution of the weighting renders [px] (the ranking barely depends on it).
    """

    weight_coverage: float = 0.998
    frame_stride: int = 10
    shifts: tuple[float, ...] = (0.0, 2.0, -2.0)
    image_hw: tuple[int, int] = (45, 80)

    def __post_init__(self) -> None:
        if not 0.0 < self.weight_coverage <= 1.0:
            raise ConfigError(f"weight_coverage must be in (0, 1], got {self.weight_coverage}")
        if self.frame_stride < 1:
            raise ConfigError(f"frame_stride must be at least 1, got {self.frame_stride}")

    def key(self) -> str:
        """Short text for cache keys and scene metadata."""
        shifts = ",".join(f"{s:g}" for s in self.shifts)
        h, w = self.image_hw
        return f"cov{self.weight_coverage:g}-stride{self.frame_stride}-shifts{shifts}-{h}x{w}"


def view_poses(segment: LogSegment, config: PruneConfig) -> list[SE3]:
    """``world_from_ego`` of every weighting view: the logged poses of every ``frame_stride``-th
    frame of the first camera, each shifted sideways by each of ``config.shifts``."""
    frames = segment.frames[segment.camera_names[0]][:: config.frame_stride]
    return [f.world_from_ego @ SE3.from_xy_yaw(0.0, float(d), 0.0) for f in frames for d in config.shifts]


def blending_weights(
    component: GaussianComponent, segment: LogSegment, config: PruneConfig = PruneConfig()
) -> np.ndarray:
    """``[N]`` total blending weight [pixels at ``config.image_hw``] of each world-frame Gaussian of
    ``component`` over the views of :func:`view_poses` and all cameras of ``segment``."""
    import torch

    from jwmsim.gaussians.backend_cpu import blending_weights_cpu
    from jwmsim.gaussians.render import FAR_PLANE, NEAR_PLANE, camera_matrices

    with torch.no_grad():
        arrays = [
            t.detach().to("cpu", torch.float32).contiguous().numpy()
            for t in (component.means, component.quats, component.scales, component.opacities)
        ]
    cams = [segment.cameras[c] for c in segment.camera_names]
    h, w = config.image_hw
    total = np.zeros(len(component), np.float64)
    for ego in view_poses(segment, config):
        viewmats, ks, _ = camera_matrices(cams, ego, config.image_hw)
        total += blending_weights_cpu(*arrays, viewmats, ks, w, h, NEAR_PLANE, FAR_PLANE)
    return total


def keep_mask(weights: np.ndarray, coverage: float) -> np.ndarray:
    """``[N]`` bool: the smallest set of entries, heaviest first, whose weights sum to at least
    ``coverage`` of the total (every entry with zero weight is dropped)."""
    if len(weights) == 0 or weights.sum() <= 0:
        return np.zeros(len(weights), bool)
    order = np.argsort(-weights, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    n_keep = min(int(np.searchsorted(cum, coverage)) + 1, int((weights > 0).sum()))
    mask = np.zeros(len(weights), bool)
    mask[order[:n_keep]] = True
    return mask


def prune_scene(
    scene: GaussianScene, segment: LogSegment, config: PruneConfig = PruneConfig()
) -> tuple[GaussianScene, dict[str, Any]]:
    """The scene with its background pruned to the Gaussians that hold ``config.weight_coverage``
    of the blending weight over the log's views (see the module docstring); actors, sky and
    metadata are kept. Returns the scene and a report (counts, seconds)."""
    import torch

    t0 = time.perf_counter()
    weights = blending_weights(scene.background, segment, config)
    mask = keep_mask(weights, config.weight_coverage)
    background = scene.background.select(torch.from_numpy(np.flatnonzero(mask)).to(scene.device))
    pruned = replace(scene, background=background, metadata={**scene.metadata, "pruned": config.key()})
    report = {
        "prune_seconds": round(time.perf_counter() - t0, 3),
        "prune_views": len(view_poses(segment, config)) * len(segment.camera_names),
        "background_before": len(scene.background),
        "background_after": len(background),
        "prune_coverage": config.weight_coverage,
    }
    return pruned, report

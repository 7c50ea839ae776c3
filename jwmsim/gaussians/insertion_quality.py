"""How well an inserted actor asset stands in for a real actor, against the procedural oracle.

The procedural town's ground-truth renderer (:func:`jwmsim.logs.procedural.render.render_ground_truth`)
draws every actor exactly. For one town actor seen by a camera, :func:`score_insertion` renders the
oracle image with the actor and without it, draws each candidate asset (scaled to the actor's box,
at its pose) alone over the actor-free image, and compares the composite with the true image inside
the actor's region (the bounding rectangle of the true actor mask and of the candidate's coverage,
grown by ``pad`` pixels):

* **PSNR** [dB] of the composite against the true image in that region;
* **sharpness ratio**: mean Sobel gradient magnitude of the composite's grey image in the region
  divided by that of the true image (1: as much detail as the truth; below 1: blurrier; above 1:
  more edges, e.g. speckle).

The asset's colours are its own (a real-log car keeps its paint, the oracle's car has another), so
PSNR measures shape, coverage and colour together; the sharpness ratio does not depend on colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.image_metrics import psnr
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel
from jwmsim.geometry import SE3
from jwmsim.logs.segment import Camera

if TYPE_CHECKING:
    from jwmsim.logs.procedural.render import GroundTruth

BLACK_SKY = SkyModel(torch.full((3, 2, 2), -30.0))  # sigmoid(-30) ~ 1e-13: premultiplied renders


@dataclass(frozen=True)
class InsertionScore:
    """One candidate on one actor view: ``psnr`` [dB] and ``sharpness_ratio`` (see the module
    docstring) in a region of ``region_px`` pixels."""

    psnr: float
    sharpness_ratio: float
    region_px: int


def sobel_magnitude(rgb: np.ndarray) -> np.ndarray:
    """``[H, W]`` Sobel gradient magnitude of the grey image of ``rgb`` ``[H, W, 3]`` in [0, 1]
    (edge pixels replicate their neighbours)."""
    grey = np.asarray(rgb, np.float64) @ np.array([0.299, 0.587, 0.114])
    p = np.pad(grey, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return np.hypot(gx, gy)


def sharpness_ratio(pred: np.ndarray, target: np.ndarray, region: np.ndarray) -> float:
    """Mean Sobel magnitude of ``pred`` over ``region`` ``[H, W]`` bool divided by that of
    ``target`` (images ``[H, W, 3]`` in [0, 1]; nan where the target has no gradient there)."""
    if not region.any():
        raise ConfigError("sharpness_ratio needs a non-empty region")
    ref = float(sobel_magnitude(target)[region].mean())
    return float(sobel_magnitude(pred)[region].mean()) / ref if ref > 0 else float("nan")


def render_alone(
    component: GaussianComponent, camera: Camera, ego_pose: SE3, box_pose: SE3, size_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``component`` (box frame) alone at ``box_pose`` (``world_from_box``) seen by ``camera`` on
    the ego at ``ego_pose``: premultiplied colour ``[H, W, 3]``, coverage ``[H, W]`` in [0, 1] and
    expected z-depth ``[H, W]`` [m] (0 where uncovered)."""
    from jwmsim.gaussians.render import render

    scene = GaussianScene(
        GaussianComponent.empty(), {"actor": component.detach().to("cpu", torch.float32)}, BLACK_SKY
    )
    with torch.no_grad():
        out = render(scene, [camera], ego_pose, {"actor": box_pose}, size_hw, backend="cpu")
    rgb = out.rgb[0].clamp(0, 1).double().numpy()
    return rgb, out.alpha[0].clamp(0, 1).double().numpy(), out.depth[0].double().numpy()


def actor_region(mask: np.ndarray, alpha: np.ndarray, pad: int = 3, min_alpha: float = 0.5) -> np.ndarray:
    """``[H, W]`` bool: the bounding rectangle of ``mask`` and of ``alpha > min_alpha``, grown by
    ``pad`` pixels and clipped to the image."""
    ys, xs = np.nonzero(mask | (alpha > min_alpha))
    region = np.zeros(mask.shape, bool)
    if len(ys) == 0:
        return region
    h, w = mask.shape
    region[
        max(ys.min() - pad, 0) : min(ys.max() + pad + 1, h),
        max(xs.min() - pad, 0) : min(xs.max() + pad + 1, w),
    ] = True
    return region


def composite_scores(
    truth: np.ndarray,
    background: np.ndarray,
    background_depth: np.ndarray,
    mask: np.ndarray,
    renders: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    pad: int = 3,
) -> dict[str, InsertionScore]:
    """Score candidates already rendered: ``truth`` / ``background`` ``[H, W, 3]`` in [0, 1] (the
    oracle with and without the actor), ``background_depth`` ``[H, W]`` [m] the actor-free z-depth
    (inf for sky), ``mask`` ``[H, W]`` the actor's true pixels, ``renders`` name -> (premultiplied
    colour, coverage, z-depth) of each candidate alone. A candidate is hidden where the background
    is nearer. One region for all candidates (the union of theirs), so that they are compared on
    the same pixels."""
    renders = {n: (rgb, a * (d < background_depth), d) for n, (rgb, a, d) in renders.items()}
    region = np.zeros(mask.shape, bool)
    for _, alpha, _ in renders.values():
        region |= actor_region(mask, alpha, pad)
    out = {}
    for name, (rgb, alpha, _) in renders.items():
        comp = rgb * (alpha > 0)[..., None] + (1.0 - alpha[..., None]) * background
        p = psnr(torch.from_numpy(comp), torch.from_numpy(truth), torch.from_numpy(region))
        out[name] = InsertionScore(p, sharpness_ratio(comp, truth, region), int(region.sum()))
    return out


def score_insertion(
    town: object,
    camera: Camera,
    time: float,
    actor_id: str,
    candidates: Mapping[str, GaussianComponent],
    min_pixels: int = 150,
    pad: int = 3,
    full: GroundTruth | None = None,
) -> dict[str, InsertionScore] | None:
    """Score ``candidates`` (box-frame assets already scaled to the actor's box) in place of town
    actor ``actor_id`` at ``time`` [s] seen by ``camera`` (intrinsics at the wanted resolution) on
    the logged ego pose. None where the actor covers fewer than ``min_pixels`` true pixels (hidden,
    out of view or too far) or is absent at ``time``. ``full``: the oracle render of this camera
    and time with all actors, where the caller has it (shared by the actors of one view)."""
    from jwmsim.logs.procedural.render import render_ground_truth

    poses = town.actor_poses_at(time)  # type: ignore[attr-defined]
    if actor_id not in poses:
        return None
    ego = town.ego_pose_at(time)  # type: ignore[attr-defined]
    if full is None:
        full = render_ground_truth(town, camera, ego, actor_poses=poses)  # type: ignore[arg-type]
    mask = full.mask(actor_id)
    if int(mask.sum()) < min_pixels:
        return None
    rest = {k: v for k, v in poses.items() if k != actor_id}
    without = render_ground_truth(town, camera, ego, actor_poses=rest)  # type: ignore[arg-type]
    size_hw = (camera.intrinsics.height, camera.intrinsics.width)
    renders = {n: render_alone(c, camera, ego, poses[actor_id], size_hw) for n, c in candidates.items()}
    return composite_scores(full.rgb / 255.0, without.rgb / 255.0, without.depth, mask, renders, pad)

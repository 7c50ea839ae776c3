"""How much of each actor's box the exported cameras see: the nuScenes ``visibility`` of an
annotation, by the projected box area. (For the ``skeleton`` render path the export measures
visibility on the render's instance masks instead: :mod:`jwmsim.export.instance_visibility`; this
box method is for render paths that expose no Gaussian scene.)

Method (projected box area with an occlusion test), per camera:

1. the actor's 3D box is clipped to the space in front of the camera (``z > NEAR_M``) and its
   clipped corners are projected; their convex hull, filled into the image, is the box's
   *footprint* (only the part inside the image counts);
2. a footprint pixel is *seen* when nothing nearer than the box covers it:
   * with the render's depth image (the ``skeleton`` path has one): the rendered depth there is 0
     (sky) or at least the box's nearest depth minus :data:`DEPTH_TOLERANCE_M`; this catches
     static occluders (buildings, parked cars of the background) as well as other actors;
   * without depth (a render path that has none): the box is the nearest footprint at that pixel
     (boxes are drawn far to near into an id buffer), so only actors occlude actors.

The visibility fraction is ``seen pixels / footprint pixels`` summed over the cameras; an actor
whose box projects into no exported image has fraction 0 (nuScenes' 0-40 % bin). The fraction maps
to nuScenes' tokens ``"1"`` (0-40 %), ``"2"`` (40-60 %), ``"3"`` (60-80 %), ``"4"`` (80-100 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from jwmsim.geometry import SE3, CameraIntrinsics

NEAR_M = 0.1  # [m] boxes are clipped to camera depth > NEAR_M before projecting
DEPTH_TOLERANCE_M = 0.5  # [m] rendered depth this much nearer than the box still counts as the box
# box edges as corner index pairs, for the nuScenes corner order of jwmsim.geometry.box_corners
_EDGES = (
    (0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7),
)  # fmt: skip


@dataclass(frozen=True)
class CameraView:
    """One exported camera at one instant.

    Attributes:
        cam_from_world: world -> OpenCV camera frame.
        intrinsics: for the exported image size.
        depth: ``[H, W]`` float32 rendered camera z-depth [m] (0 where nothing was drawn), or None.
    """

    cam_from_world: SE3
    intrinsics: CameraIntrinsics
    depth: np.ndarray | None = None


def visibility_token(fraction: float) -> str:
    """nuScenes visibility token of a visible fraction in [0, 1]."""
    return "1" if fraction < 0.4 else "2" if fraction < 0.6 else "3" if fraction < 0.8 else "4"


def box_footprint(corners_cam: np.ndarray, k: CameraIntrinsics) -> tuple[np.ndarray, float] | None:
    """Filled hull ``[H, W]`` bool of a box ``[8, 3]`` (camera frame) and its nearest depth [m];
    None when no part of the box is in front of the camera or in the image."""
    z = corners_cam[:, 2]
    pts = [corners_cam[z > NEAR_M]]
    for a, b in _EDGES:  # where an edge crosses the near plane
        za, zb = z[a], z[b]
        if (za > NEAR_M) != (zb > NEAR_M):
            t = (NEAR_M - za) / (zb - za)
            pts.append((corners_cam[a] + t * (corners_cam[b] - corners_cam[a]))[None])
    front = np.concatenate(pts, 0)
    if len(front) < 3:
        return None
    uv = front[:, :2] / front[:, 2:3] * np.array([k.fx, k.fy]) + np.array([k.cx, k.cy])
    uv = np.clip(uv, -1e6, 1e6)
    if uv[:, 0].max() < -0.5 or uv[:, 1].max() < -0.5 or uv[:, 0].min() > k.width - 0.5:
        return None
    if uv[:, 1].min() > k.height - 0.5:
        return None
    hull = cv2.convexHull(np.round(uv).astype(np.int32))
    mask = np.zeros((k.height, k.width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    if not mask.any():
        return None
    return mask.astype(bool), float(max(NEAR_M, front[:, 2].min()))


def box_visibility(corners_world: np.ndarray, views: Sequence[CameraView]) -> np.ndarray:
    """Visible fraction of each box over all ``views`` (see the module docstring).

    Args:
        corners_world: ``[N, 8, 3]`` box corners in the world frame [m] (``box_corners`` order).
        views: the cameras.

    Returns:
        ``[N]`` float64 fractions in [0, 1].
    """
    corners = np.asarray(corners_world, dtype=np.float64).reshape(-1, 8, 3)
    n = len(corners)
    seen = np.zeros(n)
    total = np.zeros(n)
    for view in views:
        k = view.intrinsics
        prints: dict[int, tuple[np.ndarray, float]] = {}
        for i in range(n):
            fp = box_footprint(view.cam_from_world.apply(corners[i]), k)
            if fp is not None:
                prints[i] = fp
        if not prints:
            continue
        if view.depth is not None:
            depth = np.asarray(view.depth, dtype=np.float64)
            for i, (mask, z_near) in prints.items():
                d = depth[mask]
                total[i] += mask.sum()
                seen[i] += np.count_nonzero((d <= 0.0) | (d >= z_near - DEPTH_TOLERANCE_M))
        else:
            owner = np.full((k.height, k.width), -1, dtype=np.int64)
            for i in sorted(prints, key=lambda j: -prints[j][1]):  # far to near
                owner[prints[i][0]] = i
            for i, (mask, _) in prints.items():
                total[i] += mask.sum()
                seen[i] += np.count_nonzero(owner[mask] == i)
    return np.divide(seen, total, out=np.zeros(n), where=total > 0)

"""Visibility of boxes from their projected footprint and an occlusion test (depth or id buffer)."""

from __future__ import annotations

import numpy as np

from jwmsim.export.visibility import CameraView, box_visibility, visibility_token
from jwmsim.geometry import SE3, CameraIntrinsics, box_corners

K = CameraIntrinsics(100.0, 100.0, 63.5, 35.5, 128, 72)
# camera looking along world +x (OpenCV: z forward = world x, x right = world -y, y down = world -z)
CAM_FROM_WORLD = SE3(np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]), np.zeros(3))


def _box(x: float, y: float = 0.0) -> np.ndarray:
    return box_corners((2.0, 4.0, 1.5), SE3.from_xy_yaw(x, y, 0.0))


def test_unoccluded_box_in_view_is_fully_visible_and_box_behind_is_not() -> None:
    corners = np.stack([_box(15.0), _box(-15.0)])
    depth = np.zeros((72, 128), np.float32)  # nothing drawn: sky everywhere
    vis = box_visibility(corners, [CameraView(CAM_FROM_WORLD, K, depth)])
    assert vis[0] == 1.0 and vis[1] == 0.0
    assert visibility_token(vis[0]) == "4" and visibility_token(vis[1]) == "1"


def test_depth_nearer_than_the_box_occludes_it() -> None:
    corners = _box(20.0)[None]
    depth = np.full((72, 128), 5.0, np.float32)  # a wall 5 m ahead
    assert box_visibility(corners, [CameraView(CAM_FROM_WORLD, K, depth)])[0] == 0.0
    depth[:, 64:] = 40.0  # the right half of the image sees beyond the box
    frac = box_visibility(corners, [CameraView(CAM_FROM_WORLD, K, depth)])[0]
    assert 0.3 < frac < 0.7


def test_without_depth_a_nearer_box_hides_the_one_behind() -> None:
    corners = np.stack([_box(30.0), _box(12.0)])  # same line of sight, the second one nearer
    vis = box_visibility(corners, [CameraView(CAM_FROM_WORLD, K, None)])
    assert vis[1] == 1.0 and vis[0] < 0.05


def test_box_straddling_the_camera_plane_is_clipped_not_mirrored() -> None:
    corners = _box(1.0)[None]  # from x = -1 to 3 m: partly behind the camera
    vis = box_visibility(corners, [CameraView(CAM_FROM_WORLD, K, np.zeros((72, 128), np.float32))])
    assert vis[0] == 1.0  # the part in front fills the image and nothing occludes it

"""The exported boxes project onto the exported images where the rendered actors are.

For every keyframe of CAM_FRONT, the seed log's Gaussian scene is rendered without any actor from
the exported ego pose and calibrated sensor (as the devkit reads them); where the exported JPEG
differs from that render is where actors were drawn. The devkit's boxes (projected with its own
``get_sample_data`` and ``view_points``) must cover those pixels, and every fully visible box must
hold actor pixels around its projected centre."""

from __future__ import annotations

import contextlib
import io

import cv2
import numpy as np
import torch

from jwmsim.envs.scene_sources import scene_for_log
from jwmsim.export import ExportResult
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.gaussians.render import render
from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.segment import Camera

DIFF_THRESHOLD = 40  # [0-255] larger than JPEG noise at quality 90


def _hull_mask(corners_uv: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(corners_uv.T).astype(np.int32)), 1)
    return mask.astype(bool)


def test_boxes_cover_the_actor_pixels_of_the_images(exported: ExportResult, town_log) -> None:
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.geometry_utils import view_points

    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes(exported.version, str(exported.out), verbose=False)
    scene = scene_for_log(load_nuscenes_log(town_log), "lidar", progress=False)
    checked_boxes = covered = actor_px = 0
    for sample in nusc.sample:
        sd = nusc.get("sample_data", sample["data"]["CAM_FRONT"])
        cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
        pose = nusc.get("ego_pose", sd["ego_pose_token"])
        h, w = sd["height"], sd["width"]
        cam = Camera(
            "CAM_FRONT",
            CameraIntrinsics.from_matrix(cs["camera_intrinsic"], w, h),
            SE3.from_quat(cs["rotation"], cs["translation"]),
        )
        with torch.no_grad():
            out = render(scene, [cam], SE3.from_quat(pose["rotation"], pose["translation"]), {}, (h, w))
        background = (out.rgb[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        image = cv2.cvtColor(cv2.imread(str(exported.out / sd["filename"])), cv2.COLOR_BGR2RGB)
        diff = np.abs(image.astype(int) - background.astype(int)).max(-1) > DIFF_THRESHOLD
        diff = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).astype(bool)
        _, boxes, k = nusc.get_sample_data(sd["token"])
        union = np.zeros((h, w), bool)
        for box in boxes:
            corners = box.corners()
            if corners[2].min() < 0.5:
                continue
            hull = _hull_mask(view_points(corners, k, normalize=True)[:2], (h, w))
            union |= hull
            ann = nusc.get("sample_annotation", box.token)
            if ann["visibility_token"] == "4" and hull.sum() >= 30:
                checked_boxes += 1
                centre = view_points(box.center[:, None], k, normalize=True)[:2, 0]
                u, v = int(round(centre[0])), int(round(centre[1]))
                window = diff[max(0, v - 3) : v + 4, max(0, u - 3) : u + 4]
                assert 0 <= u < w and 0 <= v < h and window.any(), f"no actor pixels at the centre of {ann}"
                assert diff[hull].mean() > 0.2
        grown = cv2.dilate(union.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        covered += int((diff & grown).sum())
        actor_px += int(diff.sum())
    assert checked_boxes >= 2  # the inserted leader in both scenes at least
    assert actor_px > 50 and covered / actor_px > 0.9

"""The exported boxes project onto the exported images where the rendered actors are.

Boxes come from the devkit (``get_sample_data``: the exported ego pose, calibrated sensor and
annotation, projected with ``view_points``). Two checks on every CAM_FRONT keyframe:

* log actors: each actor's Gaussian component is rendered alone at its annotated pose from the
  exported camera (its instance mask, alpha > 0.5); the mask must lie inside the projected box and
  the box centre inside the mask's extent;
* the inserted car (not in the seed log's scene): the exported JPEG differs from a render of the
  seed scene without actors at the box centre, and that blob of changed pixels fills the projected
  box and stays inside it.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace

import cv2
import numpy as np
import torch

from jwmsim.export import ExportResult
from jwmsim.gaussians.render import render
from jwmsim.gaussians.scene import GaussianComponent
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.segment import Camera
from jwmsim.scenes.sources import scene_for_log

DIFF_THRESHOLD = 40  # [0-255] larger than JPEG noise at quality 90


def _hull_mask(corners_uv: np.ndarray, hw: tuple[int, int], grow: int = 0) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(corners_uv.T).astype(np.int32)), 1)
    if grow:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return mask.astype(bool)


def test_boxes_match_instance_masks_and_image(exported: ExportResult, town_log) -> None:
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.geometry_utils import view_points

    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes(exported.version, str(exported.out), verbose=False)
    scene = scene_for_log(load_nuscenes_log(town_log), "lidar", progress=False)
    alone = replace(scene, background=GaussianComponent.empty())
    masks_checked = leaders_checked = 0
    for sample in nusc.sample:
        sd = nusc.get("sample_data", sample["data"]["CAM_FRONT"])
        cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
        ego_rec = nusc.get("ego_pose", sd["ego_pose_token"])
        h, w = sd["height"], sd["width"]
        cam = Camera(
            "CAM_FRONT",
            CameraIntrinsics.from_matrix(cs["camera_intrinsic"], w, h),
            SE3.from_quat(cs["rotation"], cs["translation"]),
        )
        ego = SE3.from_quat(ego_rec["rotation"], ego_rec["translation"])
        _, boxes, k = nusc.get_sample_data(sd["token"])
        for box in boxes:
            ann = nusc.get("sample_annotation", box.token)
            centre = view_points(box.center[:, None], k, normalize=True)[:2, 0]
            u, v = int(round(centre[0])), int(round(centre[1]))
            if box.corners()[2].min() < 0.5 or not (3 <= u < w - 3 and 3 <= v < h - 3):
                continue  # only boxes wholly in front with their centre in the image
            hull = _hull_mask(view_points(box.corners(), k, normalize=True)[:2], (h, w), grow=2)
            if ann["actor_id"] == "leader":
                with torch.no_grad():
                    bg = render(scene, [cam], ego, {}, (h, w)).rgb[0]
                background = (bg.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
                image = cv2.cvtColor(cv2.imread(str(exported.out / sd["filename"])), cv2.COLOR_BGR2RGB)
                diff = np.abs(image.astype(int) - background.astype(int)).max(-1) > DIFF_THRESHOLD
                assert diff[v - 1 : v + 2, u - 1 : u + 2].all(), "the inserted car is not at its box centre"
                # the car's blob of changed pixels (the one at the centre) lies inside its box
                _, labels = cv2.connectedComponents(diff.astype(np.uint8), connectivity=4)
                blob = labels == labels[v, u]
                assert blob[hull].sum() >= 0.9 * blob.sum() and blob.sum() >= 0.3 * hull.sum()
                leaders_checked += 1
            elif ann["actor_id"] in scene.actors and len(scene.actors[ann["actor_id"]]) >= 50:
                pose = SE3.from_quat(ann["rotation"], ann["translation"])
                with torch.no_grad():
                    alpha = render(alone, [cam], ego, {ann["actor_id"]: pose}, (h, w)).alpha[0].numpy()
                mask = alpha > 0.5
                if mask.sum() < 10:
                    continue
                assert mask[hull].sum() >= 0.95 * mask.sum(), f"actor {ann['actor_id']} drawn outside its box"
                rows, cols = np.nonzero(mask)
                assert rows.min() - 2 <= v <= rows.max() + 2 and cols.min() - 2 <= u <= cols.max() + 2
                masks_checked += 1
    assert leaders_checked >= 2 and masks_checked >= 3

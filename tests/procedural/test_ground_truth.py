"""Ground-truth renderer: depth agrees with known geometry, instance masks agree with boxes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3, box_corners, world_to_camera
from jwmsim.logs.procedural import ActorModel, Town, nuscenes_like_rig, render_ground_truth, vehicle
from jwmsim.logs.procedural.meshes import box

RIG = nuscenes_like_rig(160, 90)


def test_road_depth_matches_ray_plane_intersection(town: Town) -> None:
    cam = RIG["CAM_FRONT"]
    ego = town.ego_pose_at(1.0)
    gt = render_ground_truth(town, cam, ego, actor_poses={})
    k = cam.intrinsics
    world_from_cam = ego @ cam.ego_from_cam
    dirs = k.ray_directions().reshape(-1, 3)
    d_world = dirs @ world_from_cam.rotation.T
    o = world_from_cam.translation
    with np.errstate(divide="ignore"):
        t_plane = -o[2] / d_world[:, 2]
    hit = o + d_world * t_plane[:, None]
    on_road = (t_plane > 0) & (t_plane < 40) & shapely.contains_xy(town.drivable_area, hit[:, 0], hit[:, 1])
    expected = (t_plane * dirs[:, 2])[on_road]
    got = gt.depth.reshape(-1)[on_road]
    assert on_road.sum() > 500
    err = np.abs(got - expected)
    # markings are 1 cm above the road; a few pixels may see a pole or a tree first
    assert np.median(err) < 1e-3
    assert np.mean(err < 0.02 + 0.02 * expected) > 0.97
    assert np.isinf(gt.depth[0]).any(), "the top row sees sky somewhere"
    assert gt.rgb.dtype == np.uint8 and gt.rgb.shape == (90, 160, 3)


def test_inserted_box_at_known_distance(town: Town) -> None:
    cam = RIG["CAM_FRONT"]
    ego = town.ego_pose_at(0.0)
    mesh = box((2.0, 2.0, 2.0), (0.0, 0.0, 0.0), color=(0.5, 0.1, 0.1))
    cube = ActorModel("movable_object.barrier", (2.0, 2.0, 2.0), mesh)
    cam_pose = ego @ cam.ego_from_cam
    centre = cam_pose.apply(np.array([0.0, 0.0, 9.0]))  # 9 m straight ahead of the camera
    gt = render_ground_truth(
        town, cam, ego, actor_poses={"cube": SE3(cam_pose.rotation, centre)}, inserted={"cube": cube}
    )
    k = cam.intrinsics
    v, u = int(round(k.cy)), int(round(k.cx))
    assert gt.depth[v, u] == pytest.approx(8.0, abs=1e-3)  # the near face is 1 m in front of the centre
    mask = gt.mask("cube")
    assert mask[v, u] and gt.actor_ids[-1] == "cube"
    # the cube spans 2 m at 8 m: about 2 * fx / 8 pixels wide
    cols = np.flatnonzero(mask[v])
    assert abs(len(cols) - 2 * k.fx / 8.0) <= 2


def test_actor_boxes_project_onto_instance_masks(town: Town) -> None:
    t = 2.0
    ego = town.ego_pose_at(t)
    checked = 0
    for cam in RIG.values():
        gt = render_ground_truth(town, cam, ego, time=t)
        k = cam.intrinsics
        for index in np.unique(gt.instance):
            if index == 0:
                continue
            actor = town.actor(gt.actor_ids[index - 1])
            mask = gt.instance == index
            corners = world_to_camera(box_corners(actor.size_wlh, actor.pose_at(t)), ego, cam.ego_from_cam)
            if (corners[:, 2] <= 0.1).any():
                continue
            uv, _ = k.project(corners)
            u0, v0 = uv.min(0) - 1.0
            u1, v1 = uv.max(0) + 1.0
            vs, us = np.nonzero(mask)
            assert ((us >= u0) & (us <= u1) & (vs >= v0) & (vs <= v1)).all(), actor.actor_id
            inside_image = u0 >= 0 and v0 >= 0 and u1 < k.width and v1 < k.height
            if inside_image and mask.sum() > 60 and gt.depth[mask].min() < 25:
                box_area = (u1 - u0 - 2) * (v1 - v0 - 2)
                mask_bbox = (us.max() - us.min() + 1) * (vs.max() - vs.min() + 1)
                checked += 1
                assert mask_bbox > 0.3 * box_area, (actor.actor_id, mask_bbox, box_area)
    assert checked >= 1


def test_actor_selection_and_errors(town: Town) -> None:
    cam = RIG["CAM_FRONT"]
    ego = town.ego_pose_at(0.0)
    empty = render_ground_truth(town, cam, ego, actor_poses={})
    assert (empty.instance == 0).all()
    with pytest.raises(ConfigError, match="unknown actor"):
        render_ground_truth(town, cam, ego, actor_poses={"no-such-car": SE3()})
    with pytest.raises(ConfigError, match="already name town actors"):
        clash = {town.actors[0].actor_id: vehicle(np.random.default_rng(0))}
        render_ground_truth(town, cam, ego, actor_poses={}, inserted=clash)
    twice = {town.actors[0].actor_id: SE3(), town.instance_token(town.actors[0].actor_id): SE3()}
    with pytest.raises(ConfigError, match="placed twice"):
        render_ground_truth(town, cam, ego, actor_poses=twice)
    with pytest.raises(ConfigError, match="time or explicit"):
        render_ground_truth(town, cam, ego)
    # a car moved right in front of the camera shows up there, by id or by instance token
    car = town.actors[0]
    front = ego @ SE3.from_xy_yaw(8.0, 0.0, 0.0, z=car.size_wlh[2] / 2)
    for key in (car.actor_id, town.instance_token(car.actor_id)):
        gt = render_ground_truth(town, cam, ego, actor_poses={key: front})
        assert gt.mask(car.actor_id)[60, 80]


def test_off_log_pose_renders_differently(town: Town) -> None:
    cam = RIG["CAM_FRONT"]
    ego = town.ego_pose_at(1.0)
    shifted = ego @ SE3.from_xy_yaw(0.0, 2.0, 0.0)
    a = render_ground_truth(town, cam, ego, time=1.0)
    b = render_ground_truth(town, cam, shifted, time=1.0)
    assert np.abs(a.rgb.astype(int) - b.rgb.astype(int)).mean() > 3

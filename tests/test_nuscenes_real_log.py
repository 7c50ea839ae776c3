"""The nuScenes reader on the real PandaSet log in ../shared/data (skipped where absent)."""

from __future__ import annotations

import numpy as np
import pytest

from jwmsim.geometry import box_corners, world_to_camera
from jwmsim.logs.segment import ActorTrack, LogSegment

CAMERAS = ["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK_RIGHT", "CAM_BACK"]


def _inside(track: ActorTrack, t: float, pts_world: np.ndarray, shrink: float = 0.9) -> np.ndarray:
    local = track.pose_at(t).inverse().apply(pts_world)
    w, length, h = track.size_wlh
    half = np.array([length, w, h]) / 2 * shrink
    return np.all(np.abs(local) <= half, axis=1)


def test_rig_frames_and_rate(pandaset_log: LogSegment) -> None:
    log = pandaset_log
    assert log.camera_names == CAMERAS
    for cam in CAMERAS:
        assert log.num_frames(cam) == 60, cam
        assert log.native_size(cam) == (360, 640)
        assert sum(f.is_keyframe for f in log.frames[cam]) == 12
    assert log.frame_rate() == pytest.approx(10.0, rel=0.01)
    assert 5.8 < log.duration < 6.1
    assert len(log.lidar) == 57  # frames 56-58 have no lidar
    assert len(log.tracks) == 95
    img = log.image("CAM_FRONT", 7, size_hw=(112, 200))
    assert img.shape == (112, 200, 3)


def test_each_frame_has_its_own_ego_pose(pandaset_log: LogSegment) -> None:
    front = pandaset_log.frames["CAM_FRONT"]
    back = pandaset_log.frames["CAM_BACK"]
    # cameras fire at different times and so carry different ego poses once the car moves
    assert front[-1].time != back[-1].time
    assert not front[-1].world_from_ego.allclose(back[-1].world_from_ego, atol=1e-3)


def test_ego_path_lies_on_drivable_area(pandaset_log: LogSegment) -> None:
    xy = np.array([p.translation[:2] for p in pandaset_log.ego_poses])
    assert pandaset_log.on_drivable_area(xy).all()
    assert 3000 < pandaset_log.drivable_area.area < 6000  # README of the log: 4572 m^2


def test_lidar_points_in_boxes_project_into_box_footprints(pandaset_log: LogSegment) -> None:
    """Points inside an annotated car box at a keyframe project into that box's image footprint."""
    log = pandaset_log
    checked = 0
    for sweep in [s for s in log.lidar if s.is_keyframe][:6]:
        pts = sweep.points_world()
        for cam in ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_BACK"):
            fi = log.nearest_frame(cam, sweep.time)
            frame, camera = log.frames[cam][fi], log.cameras[cam]
            for tr in log.tracks.values():
                if tr.kind != "vehicle" or not tr.is_present(sweep.time):
                    continue
                inside = _inside(tr, sweep.time, pts)
                if inside.sum() < 30:
                    continue
                # move the points with the box from the lidar time to the camera time
                box_t = tr.pose_at(frame.time) @ tr.pose_at(sweep.time).inverse()
                p_cam = world_to_camera(box_t.apply(pts[inside]), frame.world_from_ego, camera.ego_from_cam)
                corners = world_to_camera(
                    box_corners(tr.size_wlh, tr.pose_at(frame.time)),
                    frame.world_from_ego,
                    camera.ego_from_cam,
                )
                if (corners[:, 2] < 1.0).any():
                    continue
                k = camera.intrinsics
                uv_c, _ = k.project(corners)
                if not k.in_image(uv_c).all():
                    continue
                uv, _ = k.project(p_cam)
                lo, hi = uv_c.min(0) - 2, uv_c.max(0) + 2
                in_fp = np.all((uv >= lo) & (uv <= hi), axis=1)
                assert in_fp.mean() > 0.97, (tr.instance_id, cam, in_fp.mean())
                checked += 1
    assert checked >= 10


def test_annotations_interpolate_between_keyframes(pandaset_log: LogSegment) -> None:
    """At a sweep between keyframes, lidar points fill the interpolated boxes of moving cars better
    than boxes held at the previous keyframe."""
    log = pandaset_log
    sweeps = [s for s in log.lidar if not s.is_keyframe and 1.0 < s.time < 5.0]
    interp_hits = held_hits = 0
    for sweep in sweeps[::3]:
        pts = sweep.points_world()
        for tr in log.tracks.values():
            if (
                tr.kind != "vehicle"
                or not tr.is_present(sweep.time)
                or np.linalg.norm(tr.velocity_at(sweep.time)) < 3
            ):
                continue
            prev_key = max(t for t in tr.times if t <= sweep.time + 1e-9)
            interp_hits += int(_inside(tr, sweep.time, pts).sum())
            held_hits += int(_inside(tr, prev_key, pts).sum())
    assert interp_hits > 200
    assert interp_hits > 1.2 * held_hits


def test_selection_of_cameras_and_window(pandaset_log: LogSegment) -> None:
    sub = pandaset_log.select_cameras(["CAM_FRONT", "CAM_BACK"]).time_window(1.0, 3.0)
    assert sub.camera_names == ["CAM_FRONT", "CAM_BACK"]
    assert 19 <= sub.num_frames("CAM_FRONT") <= 21
    assert all(0 <= f.time <= 2.0 + 1e-6 for f in sub.frames["CAM_FRONT"])
    assert all(s.time >= 0 for s in sub.lidar)
    assert sub.tracks and all(t.start >= -1e-9 for t in sub.tracks.values())

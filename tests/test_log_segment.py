"""The LogSegment data model: tracks, interpolation, selections, lazily resized images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import shapely

from jwmsim.errors import LogFormatError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.segment import (
    ActorTrack,
    Camera,
    CameraFrame,
    LogSegment,
    category_kind,
    image_bytes_problem,
    load_image,
)


def _track() -> ActorTrack:
    return ActorTrack(
        "car-1",
        "vehicle.car",
        (1.9, 4.5, 1.6),
        (0.0, 0.5, 1.0),
        (SE3.from_xy_yaw(0, 0, 0), SE3.from_xy_yaw(5, 0, 0), SE3.from_xy_yaw(10, 0, 0.4)),
    )


def _segment(tmp_path: Path, image_size: tuple[int, int] = (40, 64)) -> LogSegment:
    h, w = image_size
    k = CameraIntrinsics(50.0, 50.0, (w - 1) / 2, (h - 1) / 2, w, h)
    cam = Camera("CAM_FRONT", k, SE3(np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]]), [1.5, 0, 1.5]))
    frames = []
    for i in range(11):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : w // 2] = (255, 0, 0)  # left half red
        path = tmp_path / f"f{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        frames.append(CameraFrame("CAM_FRONT", i * 0.1, SE3.from_xy_yaw(i * 1.0, 0, 0), path, i % 5 == 0))
    return LogSegment(
        name="toy",
        start_us=1_000_000,
        duration=1.0,
        cameras={"CAM_FRONT": cam},
        frames={"CAM_FRONT": tuple(frames)},
        ego_times=tuple(i * 0.1 for i in range(11)),
        ego_poses=tuple(SE3.from_xy_yaw(i * 1.0, 0, 0) for i in range(11)),
        tracks={"car-1": _track()},
        drivable_area=shapely.box(-5, -4, 20, 4),
    )


def test_track_interpolation_and_velocity() -> None:
    tr = _track()
    assert tr.pose_at(0.25).translation[0] == pytest.approx(2.5)
    assert tr.pose_at(0.75).yaw == pytest.approx(0.2)
    assert tr.pose_at(-1).allclose(tr.poses[0]) and tr.pose_at(5).allclose(tr.poses[-1])
    np.testing.assert_allclose(tr.velocity_at(0.2), [10.0, 0.0, 0.0])
    assert tr.is_present(0.5) and not tr.is_present(1.5)
    assert tr.kind == "vehicle"


def test_track_validation() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        ActorTrack("a", "vehicle.car", (1, 1, 1), (0.0, 0.0), (SE3(), SE3()))
    with pytest.raises(ValueError):
        ActorTrack("a", "vehicle.car", (1, 1, 1), (0.0,), ())


def test_category_kind() -> None:
    assert category_kind("vehicle.truck") == "vehicle"
    assert category_kind("vehicle.bicycle") == "cyclist"
    assert category_kind("human.pedestrian.adult") == "pedestrian"
    assert category_kind("movable_object.barrier") == "static"


def test_ego_pose_interpolation_and_speed(tmp_path: Path) -> None:
    seg = _segment(tmp_path)
    assert seg.ego_pose_at(0.35).translation[0] == pytest.approx(3.5)
    assert seg.ego_speed_at(0.5) == pytest.approx(10.0)
    assert seg.frame_rate() == pytest.approx(10.0)
    assert seg.nearest_frame("CAM_FRONT", 0.33) == 3


def test_time_window_retimes_everything(tmp_path: Path) -> None:
    seg = _segment(tmp_path).time_window(0.3, 0.7)
    times = [f.time for f in seg.frames["CAM_FRONT"]]
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2, 0.3, 0.4], atol=1e-9)
    assert seg.start_us == 1_300_000
    assert seg.ego_pose_at(0.0).translation[0] == pytest.approx(3.0)
    tr = seg.tracks["car-1"]
    assert tr.start == pytest.approx(0.0) and tr.end == pytest.approx(0.4)
    assert tr.pose_at(0.0).translation[0] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        _segment(tmp_path).time_window(5.0, 6.0)


def test_select_cameras(tmp_path: Path) -> None:
    seg = _segment(tmp_path)
    assert seg.select_cameras(["CAM_FRONT"]).camera_names == ["CAM_FRONT"]
    with pytest.raises(KeyError, match="CAM_BACK"):
        seg.select_cameras(["CAM_BACK"])


def test_resized_image_matches_scaled_intrinsics(tmp_path: Path) -> None:
    """The red/black edge at the image centre column stays at the principal point after resizing."""
    seg = _segment(tmp_path, image_size=(40, 64))
    img = seg.image("CAM_FRONT", 0, size_hw=(20, 32))
    assert img.shape == (20, 32, 3) and img.dtype == np.uint8
    k = seg.intrinsics("CAM_FRONT", (20, 32))
    assert (k.width, k.height) == (32, 20)
    red = img[10, :, 0] > 127
    edge = np.argmin(red) - 0.5  # first non-red column edge
    assert edge == pytest.approx(k.cx, abs=0.51)
    assert k.fx == pytest.approx(25.0)


def test_missing_image_is_a_clear_error(tmp_path: Path) -> None:
    seg = _segment(tmp_path)
    (tmp_path / "f3.png").unlink()
    with pytest.raises(LogFormatError, match="f3.png is missing"):
        seg.image("CAM_FRONT", 3)
    (tmp_path / "f4.png").write_bytes(b"not an image")
    with pytest.raises(LogFormatError, match="could not be decoded"):
        seg.image("CAM_FRONT", 4)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_image_is_refused_with_its_path(tmp_path: Path, ext: str) -> None:
    """cv2 alone decodes a truncated JPEG as a partly grey image; it must be an error instead."""
    img = np.random.default_rng(0).integers(0, 255, (40, 64, 3), dtype=np.uint8)
    data = cv2.imencode(ext, img)[1].tobytes()
    whole, cut = tmp_path / f"whole{ext}", tmp_path / f"cut{ext}"
    whole.write_bytes(data + (b"\0" * 7 if ext == ".jpg" else b""))  # padding after the EOI is fine
    cut.write_bytes(data[: len(data) - 10])
    assert load_image(whole).shape == (40, 64, 3)
    kind = "JPEG" if ext == ".jpg" else "PNG"
    with pytest.raises(LogFormatError, match=f"image .*cut\\{ext} is a truncated {kind}"):
        load_image(cut)
    cut.write_bytes(b"")
    with pytest.raises(LogFormatError, match="is empty"):
        load_image(cut)


def test_image_bytes_problem_keeps_thumbnail_eoi_apart() -> None:
    """A JPEG whose only end-of-image marker belongs to an embedded thumbnail (before the main
    scan) is truncated; unknown formats are left to the decoder."""
    thumb = b"\xff\xd8\xff\xe1exif\xff\xd8thumb\xff\xd9"
    assert image_bytes_problem(thumb + b"\xff\xdascan-data") is not None
    assert image_bytes_problem(thumb + b"\xff\xdascan-data\xff\xd9") is None
    assert image_bytes_problem(b"GIF89a....") is None


def test_drivable_area_and_summary(tmp_path: Path) -> None:
    seg = _segment(tmp_path)
    np.testing.assert_array_equal(seg.on_drivable_area(np.array([[0, 0], [0, 10]])), [True, False])
    s = seg.summary()
    assert s["actors"] == 1 and s["frame_rate_hz"] == 10.0 and s["keyframes"] == 3
    assert s["drivable_area_source"] == ""  # built in Python: not recorded


def test_drivable_area_source_must_be_known(tmp_path: Path) -> None:
    seg = _segment(tmp_path)
    assert (
        replace(seg, drivable_area_source="ego_corridor").summary()["drivable_area_source"] == "ego_corridor"
    )
    with pytest.raises(ValueError, match="drivable_area_source 'guess'"):
        replace(seg, drivable_area_source="guess")


def _ten_second_segment() -> LogSegment:
    """A 10 s log at 10 Hz whose times come from microsecond stamps, as the nuScenes reader makes
    them; one actor spans the whole log, one appears at 2 s and leaves at 7 s."""
    k = CameraIntrinsics(50.0, 50.0, 31.5, 19.5, 64, 40)
    cam = Camera("CAM_FRONT", k, SE3())
    stamps = [1_700_000_000_000_000 + i * 100_000 for i in range(101)]
    times = tuple((s - stamps[0]) / 1e6 for s in stamps)
    frames = tuple(
        CameraFrame("CAM_FRONT", t, SE3.from_xy_yaw(t * 8.0, 0, 0), Path(f"f{i}.jpg"), i % 5 == 0)
        for i, t in enumerate(times)
    )
    whole = ActorTrack(
        "whole", "vehicle.car", (1.9, 4.5, 1.6), times, tuple(SE3.from_xy_yaw(t * 5.0, 3, 0) for t in times)
    )
    part_times = tuple(t for t in times if 2.0 - 1e-9 <= t <= 7.0 + 1e-9)
    part = ActorTrack(
        "part", "human.pedestrian.adult", (0.6, 0.6, 1.7), part_times,
        tuple(SE3.from_xy_yaw(10.0, t, 0) for t in part_times),
    )  # fmt: skip
    return LogSegment(
        name="ten",
        start_us=stamps[0],
        duration=10.0,
        cameras={"CAM_FRONT": cam},
        frames={"CAM_FRONT": frames},
        ego_times=times,
        ego_poses=tuple(f.world_from_ego for f in frames),
        tracks={"whole": whole, "part": part},
    )


@pytest.mark.parametrize("t1", [10.0, 10.0 - 1e-3, 10.0 - 1e-7, 10.0 + 1e-7, 10.0 + 1e-3, 12.0])
def test_time_window_up_to_about_the_logs_end(t1: float) -> None:
    """Regression: a window ending within a millisecond of the log's end (or past it) once made
    ActorTrack.window repeat the last annotation and raise 'strictly increasing'."""
    seg = _ten_second_segment()
    w = seg.time_window(0.0, t1)
    whole, part = w.tracks["whole"], w.tracks["part"]
    assert whole.start == 0.0 and whole.end == pytest.approx(min(t1, 10.0), abs=1e-9)
    assert part.start == pytest.approx(2.0) and part.end == pytest.approx(7.0)
    assert len(part.times) == 51  # its own 51 annotations, none repeated
    assert whole.pose_at(whole.end).translation[0] == pytest.approx(5.0 * min(t1, 10.0), abs=1e-6)
    assert len(w.frames["CAM_FRONT"]) == 101 - (t1 < 10.0 - 1e-6)


def test_track_window_clips_to_the_annotated_span() -> None:
    tr = _ten_second_segment().tracks["part"]
    assert tr.window(0.0, 10.0).times == tr.times  # the span lies inside the window: unchanged
    w = tr.window(2.05, 6.95)
    assert w.times[0] == 2.05 and w.times[-1] == 6.95 and len(w.times) == 1 + 49 + 1
    assert w.pose_at(2.05).translation[1] == pytest.approx(2.05)
    near = tr.window(2.0 + 1e-9, 7.0 - 1e-9)  # ends within the tolerance of annotations
    assert len(near.times) == 51 and all(b > a for a, b in zip(near.times, near.times[1:], strict=False))
    point = tr.window(7.0 + 1e-7, 9.0)  # touches the span's end within the tolerance
    assert point is not None and len(point.times) == 1
    assert tr.window(7.1, 9.0) is None and tr.window(0.0, 1.9) is None


def test_track_window_starting_inside_keeps_times_increasing() -> None:
    from jwmsim.logs.segment import ActorTrack

    poses = tuple(SE3.from_xy_yaw(float(i), 0.0, 0.0) for i in range(4))
    track = ActorTrack("a", "vehicle.car", (1.9, 4.5, 1.6), (1.0, 1.5, 2.0, 2.5), poses)
    w = track.window(0.0, 2.2)  # starts inside the window: its first annotation must appear once
    assert w is not None and w.times == (1.0, 1.5, 2.0, 2.2)
    assert w.poses[-1].translation[0] == pytest.approx(2.4)
    assert track.window(1.5, 2.5).times == (1.5, 2.0, 2.5)

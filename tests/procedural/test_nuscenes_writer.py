"""NuScenesWriter: a tiny log written here must load in nuscenes-devkit with consistent links."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely.geometry
from nuscenes.nuscenes import NuScenes

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.nuscenes_writer import TABLE_NAMES, NuScenesWriter, mask_from_polygon

T0 = 1_700_000_000_000_000  # [us]
K = CameraIntrinsics(fx=40.0, fy=40.0, cx=31.5, cy=17.5, width=64, height=36)
CAM_FRONT = SE3.from_quat([0.5, -0.5, 0.5, -0.5], [1.5, 0.0, 1.6])  # OpenCV camera looking along ego +x
ROAD = shapely.geometry.box(10.0, 20.0, 90.0, 28.0)


def write_tiny_log(
    out: Path, num_frames: int = 11, overwrite: bool = False, traffic_lights: tuple = ()
) -> Path:
    """10 Hz camera + lidar, keyframes every 5 frames, one car moving at 5 m/s, one parked car;
    ``traffic_lights`` (:class:`jwmsim.logs.signals.TrafficLight`, times from the first frame) are
    written when given."""
    rng = np.random.default_rng(0)
    with NuScenesWriter(out, scene_name="scene-tiny", log_name="tiny", overwrite=overwrite) as w:
        w.add_camera("CAM_FRONT", K, CAM_FRONT)
        w.add_lidar("LIDAR_TOP", SE3.from_xy_yaw(0.9, 0.0, -np.pi / 2, z=1.8))
        for i in range(num_frames):
            t = T0 + i * 100_000
            key = i % 5 == 0
            if key:
                w.add_sample(t)
            ego = SE3.from_xy_yaw(20.0 + 1.0 * i, 22.0, 0.0)
            image = rng.integers(0, 255, (K.height, K.width, 3), dtype=np.uint8)
            w.add_camera_frame("CAM_FRONT", t + 20_000, ego, image, is_key_frame=key)
            w.add_lidar_sweep("LIDAR_TOP", t, ego, rng.normal(size=(50, 3)), is_key_frame=key)
            if key:
                car = SE3.from_xy_yaw(30.0 + 0.5 * i, 25.5, 0.0, z=0.8)
                w.add_annotation("car-1", "vehicle.car", t, car, (1.9, 4.5, 1.6), 12, "vehicle.moving")
                w.add_annotation(
                    "parked", "vehicle.car", t, SE3.from_xy_yaw(60, 27, 0.1, 0.8), (1.8, 4.2, 1.5)
                )
        w.set_map(polygon=ROAD)
        w.set_lanes({"lane-east": np.array([[10.0, 22.0], [90.0, 22.0]])}, width_m=3.5)
        w.add_extra_json("generator", {"name": "test"})
        if traffic_lights:
            w.set_traffic_lights(traffic_lights, T0)
    return out


def test_tiny_log_loads_in_devkit(tmp_path: Path) -> None:
    root = write_tiny_log(tmp_path / "log")
    for name in TABLE_NAMES:
        assert (root / "v1.0-mini" / f"{name}.json").exists()
    assert not list(tmp_path.glob(".log.partial-*")), "temporary folder left behind"
    nusc = NuScenes(version="v1.0-mini", dataroot=str(root), verbose=False)
    assert len(nusc.sample) == 3 and len(nusc.scene) == 1 and nusc.scene[0]["nbr_samples"] == 3
    assert len(nusc.sample_data) == 22 and len(nusc.instance) == 2

    # Walk the sample chain and, per keyframe, the camera data and its pose.
    sample = nusc.get("sample", nusc.scene[0]["first_sample_token"])
    times = []
    while True:
        times.append(sample["timestamp"])
        assert set(sample["data"]) == {"CAM_FRONT", "LIDAR_TOP"}
        path, boxes, k = nusc.get_sample_data(sample["data"]["CAM_FRONT"])
        assert Path(path).exists() and "samples/CAM_FRONT" in path
        np.testing.assert_allclose(k, K.matrix)
        assert {b.name for b in boxes} <= {"vehicle.car"}
        if not sample["next"]:
            break
        sample = nusc.get("sample", sample["next"])
    assert times == [T0, T0 + 500_000, T0 + 1_000_000]

    # Sweep -> sample assignment: nearest keyframe (ties earlier); chain per channel.
    cams = sorted((r for r in nusc.sample_data if r["channel"] == "CAM_FRONT"), key=lambda r: r["timestamp"])
    for a, b in zip(cams, cams[1:], strict=False):
        assert a["next"] == b["token"] and b["prev"] == a["token"]
    by_token = {s["token"]: s["timestamp"] for s in nusc.sample}
    for r in cams:
        dists = [abs(t - r["timestamp"]) for t in times]
        assert by_token[r["sample_token"]] == times[int(np.argmin(dists))]
        assert r["filename"].startswith("samples/" if r["is_key_frame"] else "sweeps/")
        assert (root / r["filename"]).exists()

    # Lidar files: float32 x5, points in the sensor frame.
    lidar = next(r for r in nusc.sample_data if r["channel"] == "LIDAR_TOP")
    pts = np.fromfile(root / lidar["filename"], dtype=np.float32).reshape(-1, 5)
    assert pts.shape == (50, 5)

    # Annotations: instance chain, velocity, attribute, poses.
    first = {i["token"]: nusc.get("sample_annotation", i["first_annotation_token"]) for i in nusc.instance}
    inst = next(i for i in nusc.instance if first[i["token"]]["num_lidar_pts"] == 12)
    assert inst["nbr_annotations"] == 3
    ann = nusc.get("sample_annotation", inst["first_annotation_token"])
    ann = nusc.get("sample_annotation", ann["next"])
    np.testing.assert_allclose(nusc.box_velocity(ann["token"]), [5.0, 0.0, 0.0], atol=1e-9)
    assert nusc.get("attribute", ann["attribute_tokens"][0])["name"] == "vehicle.moving"
    assert ann["size"] == [1.9, 4.5, 1.6]

    # Map: MapMask agrees with the polygon; lanes and GeoJSON written.
    log = nusc.get("log", nusc.scene[0]["log_token"])
    mask = nusc.get("map", log["map_token"])["mask"]
    assert mask.is_on_mask(np.array([50.0, 5.0, 50.0]), np.array([24.0, 24.0, 30.0])).tolist() == [
        True,
        False,
        False,
    ]
    lanes = json.loads((root / "maps" / "lanes" / f"{log['map_token']}.json").read_text())
    assert lanes["lanes"][0]["id"] == "lane-east" and lanes["lanes"][0]["width"] == 3.5
    geo = json.loads((root / "extras" / "drivable_area.geojson").read_text())
    assert shapely.geometry.shape(geo["features"][0]["geometry"]).equals(ROAD)
    assert json.loads((root / "extras" / "generator.json").read_text()) == {"name": "test"}


def test_writer_is_deterministic(tmp_path: Path) -> None:
    a = write_tiny_log(tmp_path / "a")
    b = write_tiny_log(tmp_path / "b")
    for name in TABLE_NAMES:
        table = f"v1.0-mini/{name}.json"
        assert (a / table).read_bytes() == (b / table).read_bytes()


def test_error_inside_block_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "log"
    with pytest.raises(RuntimeError), NuScenesWriter(out) as w:
        w.add_camera("CAM_FRONT", K, CAM_FRONT)
        w.add_sample(T0)
        w.add_camera_frame("CAM_FRONT", T0, SE3(), np.zeros((36, 64, 3), np.uint8), True)
        raise RuntimeError("interrupted")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_overwrite_replaces_existing_log(tmp_path: Path) -> None:
    out = write_tiny_log(tmp_path / "log")
    with pytest.raises(ConfigError, match="already exists"):
        NuScenesWriter(out)
    write_tiny_log(out, num_frames=6, overwrite=True)
    assert len(json.loads((out / "v1.0-mini" / "sample.json").read_text())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log"]


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    w = NuScenesWriter(tmp_path / "log")
    w.add_camera("CAM_FRONT", K, CAM_FRONT)
    with pytest.raises(ConfigError, match="registered twice"):
        w.add_camera("CAM_FRONT", K, CAM_FRONT)
    with pytest.raises(ConfigError, match="registered at 64x36"):
        w.add_camera_frame("CAM_FRONT", T0, SE3(), np.zeros((10, 10, 3), np.uint8), True)
    with pytest.raises(ConfigError, match="no camera channel 'CAM_BACK'"):
        w.add_camera_frame("CAM_BACK", T0, SE3(), np.zeros((36, 64, 3), np.uint8), True)
    with pytest.raises(ConfigError, match="unknown nuScenes category"):
        w.add_annotation("x", "car", T0, SE3(), (1, 4, 1.5))
    w.add_sample(T0)
    with pytest.raises(ConfigError, match="must increase"):
        w.add_sample(T0)
    w.add_camera_frame("CAM_FRONT", T0, SE3(), np.zeros((36, 64, 3), np.uint8), True)
    w.add_annotation("x", "vehicle.car", T0 + 1, SE3(), (1, 4, 1.5))
    w.set_map(polygon=ROAD)
    with pytest.raises(ConfigError, match="matches no keyframe"):
        w.close()
    assert list(tmp_path.iterdir()) == [], "a failed close must discard the partial output"


def test_mask_from_polygon_matches_devkit_convention() -> None:
    mask = mask_from_polygon(shapely.geometry.box(1.0, 2.0, 3.0, 4.0), resolution_m=0.1, margin_m=1.0)
    assert mask.shape == (50, 40)
    # global (2, 3) -> column 20, row H - 30 = 20 (MapMask: row = H - y / res)
    assert mask[20, 20] == 255 and mask[45, 5] == 0
    assert abs((mask == 255).sum() - 20 * 20) <= 45
    with pytest.raises(ConfigError, match="negative"):
        mask_from_polygon(shapely.geometry.box(-1.0, 0.0, 1.0, 1.0))


def test_set_map_binarises_a_grey_mask(tmp_path: Path) -> None:
    """A given mask is stored as 255 where it is above 127 and 0 elsewhere, as uint8, also when it
    is a non-contiguous view and at another resolution."""
    w = NuScenesWriter(tmp_path / "log")
    grey = np.tile(np.arange(256, dtype=np.uint8), (8, 1))
    w.set_map(mask=grey[:, ::2])  # a strided view: values 0, 2, ..., 254
    np.testing.assert_array_equal(w._map_mask, np.where(grey[:, ::2] > 127, 255, 0))
    assert w._map_mask.dtype == np.uint8
    w.set_map(mask=grey, resolution_m=0.2)  # resampled to 0.1 m/px, then binarised
    assert w._map_mask.shape == (16, 512) and set(np.unique(w._map_mask)) == {0, 255}
    assert w._map_mask[0, 2 * 127] == 0 and w._map_mask[0, 2 * 128] == 255
    with pytest.raises(ConfigError, match="uint8"):
        w.set_map(mask=grey.astype(np.int32))

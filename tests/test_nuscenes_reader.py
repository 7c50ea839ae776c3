"""The nuScenes reader on a tiny log the tests write themselves (no ../shared needed), and its
error messages for broken dataroots (library and ``jwmsim info``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from procedural.test_nuscenes_writer import ROAD, write_tiny_log
from shapely.geometry import Point

from jwmsim.errors import LogFormatError
from jwmsim.logs.nuscenes import fallback_drivable_area, load_nuscenes_log


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_log(tmp_path_factory.mktemp("tiny") / "log")


@pytest.fixture()
def broken_root(tiny_root: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny log that a test may break."""
    return Path(shutil.copytree(tiny_root, tmp_path / "log"))


def test_round_trip(tiny_root: Path) -> None:
    log = load_nuscenes_log(tiny_root)
    assert log.name == "scene-tiny" and log.camera_names == ["CAM_FRONT"]
    frames = log.frames["CAM_FRONT"]
    assert len(frames) == 11 and [f.is_keyframe for f in frames].count(True) == 3
    assert log.frame_rate() == pytest.approx(10.0)
    # camera frames are 20 ms after the lidar; time 0 = the first sample (earliest timestamp)
    assert frames[0].time == pytest.approx(0.02)
    assert frames[3].world_from_ego.translation[0] == pytest.approx(23.0)
    assert len(log.ego_times) == 11 and log.ego_pose_at(0.25).translation[0] == pytest.approx(22.5)
    # the car is annotated at keyframes (x = 30 + 0.5 i); between them it is interpolated
    car = next(t for t in log.tracks.values() if t.pose_at(0).translation[0] == pytest.approx(30.0))
    assert car.category == "vehicle.car" and car.size_wlh == (1.9, 4.5, 1.6)
    assert car.pose_at(0.2).translation[0] == pytest.approx(31.0)
    np.testing.assert_allclose(car.velocity_at(0.3), [5.0, 0.0, 0.0], atol=1e-9)
    # lidar in the ego frame: sensor (0.9, 0, 1.8) rotated by -90 deg about z
    pts = log.lidar[0].points_ego()
    assert pts.shape == (50, 3) and abs(pts[:, 2].mean() - 1.8) < 0.5
    assert log.drivable_area.hausdorff_distance(ROAD) < 1e-6  # the writer's polygon
    np.testing.assert_allclose(log.lanes["lane-east"], [[10.0, 22.0], [90.0, 22.0]])
    assert log.image("CAM_FRONT", 4).shape == (36, 64, 3)


def test_camera_selection_and_unknown_camera(tiny_root: Path) -> None:
    with pytest.raises(LogFormatError, match="CAM_BACK"):
        load_nuscenes_log(tiny_root, cameras=["CAM_BACK"])
    assert load_nuscenes_log(tiny_root, cameras=["CAM_FRONT"], with_lidar=False).lidar == ()


def test_fallback_drivable_area_covers_ego_and_moving_cars(tiny_root: Path) -> None:
    log = load_nuscenes_log(tiny_root)
    ego_xy = np.array([p.translation[:2] for p in log.ego_poses])
    area = fallback_drivable_area(ego_xy, log.tracks.values())
    assert all(area.contains(Point(x, y)) for x, y in ego_xy)
    assert area.contains(Point(32.0, 25.5))  # on the moving car's path
    assert not area.contains(Point(60.0, 27.0 + 10))  # far from anything driven


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda r: (r / "v1.0-mini" / "sample_data.json").unlink(), r"missing table .*sample_data\.json"),
        (lambda r: (r / "v1.0-mini" / "scene.json").write_text("{oops"), r"scene\.json is not valid JSON"),
        (lambda r: (r / "v1.0-mini" / "map.json").write_text("[]"), r"map\.json is empty"),
        (lambda r: next((r / "maps").glob("*.png")).unlink(), r"map image .*\.png .* is missing"),
        (
            lambda r: next((r / "sweeps" / "CAM_FRONT").glob("*.jpg")).unlink(),
            r"camera image .*\.jpg is missing",
        ),
        (lambda r: shutil.rmtree(r / "v1.0-mini"), r"no nuScenes table folder"),
    ],
    ids=["missing-table", "corrupt-table", "empty-map", "missing-map-png", "missing-image", "no-version"],
)
def test_broken_dataroot_is_a_clear_error(broken_root: Path, breakage, message: str) -> None:
    breakage(broken_root)
    with pytest.raises(LogFormatError, match=message):
        load_nuscenes_log(broken_root)


def test_truncated_camera_image_is_refused_with_its_path(broken_root: Path) -> None:
    """A truncated JPEG must not load as a grey image: the error names the file."""
    log = load_nuscenes_log(broken_root)
    path = log.frames["CAM_FRONT"][4].image_path
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LogFormatError, match=f"image {re.escape(str(path))} is a truncated JPEG"):
        log.image("CAM_FRONT", 4)
    assert log.image("CAM_FRONT", 3).shape == (36, 64, 3)  # the others still load
    path.write_bytes(b"")  # an empty file is refused when the log is read
    with pytest.raises(LogFormatError, match=f"camera image {re.escape(str(path))} is empty"):
        load_nuscenes_log(broken_root)


def test_drivable_area_source_is_recorded(tiny_root: Path, broken_root: Path) -> None:
    # jwmsim's writer stores the whole map's polygon: the reader takes it as it is
    log = load_nuscenes_log(tiny_root)
    assert log.drivable_area_source == "geojson" and log.drivable_area.equals(ROAD)
    (broken_root / "extras" / "drivable_area.geojson").unlink()  # a log without it: the raster
    log = load_nuscenes_log(broken_root)
    assert log.drivable_area_source == "semantic_prior"
    assert log.drivable_area.hausdorff_distance(ROAD) < 0.2  # traced from the 0.1 m/px raster
    png = next((broken_root / "maps").glob("*.png"))
    blank = np.zeros_like(cv2.imread(str(png), cv2.IMREAD_GRAYSCALE))
    cv2.imwrite(str(png), blank)  # a map that marks nothing drivable: the reader falls back
    log = load_nuscenes_log(broken_root)
    assert log.drivable_area_source == "ego_corridor"
    assert log.summary()["drivable_area_source"] == "ego_corridor"
    ego_xy = np.array([p.translation[:2] for p in log.ego_poses])
    assert log.drivable_area.equals(fallback_drivable_area(ego_xy, log.tracks.values()))
    res = _jwmsim("info", str(broken_root))
    assert res.returncode == 0, res.stderr
    assert "fall-back: no map applies" in res.stdout


def test_broken_drivable_area_geojson_is_a_clear_error(broken_root: Path) -> None:
    (broken_root / "extras" / "drivable_area.geojson").write_text('{"type": "FeatureCollection"}')
    with pytest.raises(LogFormatError, match="drivable_area.geojson is not a GeoJSON"):
        load_nuscenes_log(broken_root)


def test_dangling_token_is_a_clear_error(broken_root: Path) -> None:
    path = broken_root / "v1.0-mini" / "instance.json"
    rows = json.loads(path.read_text())
    rows[0]["category_token"] = "does-not-exist"
    path.write_text(json.dumps(rows))
    with pytest.raises(LogFormatError, match="could not index|category"):
        load_nuscenes_log(broken_root)


def test_missing_dataroot_and_unknown_scene(tiny_root: Path, tmp_path: Path) -> None:
    with pytest.raises(LogFormatError, match="does not exist"):
        load_nuscenes_log(tmp_path / "nowhere")
    with pytest.raises(LogFormatError, match="(?s)scene .nope. .*known scenes: scene-tiny"):
        load_nuscenes_log(tiny_root, scene="nope")


def _jwmsim(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_cli_info(tiny_root: Path) -> None:
    res = _jwmsim("info", str(tiny_root))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "CAM_FRONT" in out and "64x36" in out and "11 frames" in out
    assert "10.0 Hz" in out and "vehicle.car" in out and "lanes      1" in out
    assert "drivable area" in out and "drivable_area.geojson" in out and "fall-back" not in out


def test_cli_help_lists_commands() -> None:
    res = _jwmsim("--help")
    assert res.returncode == 0 and "info" in res.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("info", "/definitely/not/here"), "/definitely/not/here does not exist"),
        (("info", "{root}", "--scene", "nope"), "scene 'nope'"),
        (("info", "{broken}"), "camera image"),
    ],
    ids=["missing-dataroot", "unknown-scene", "missing-image"],
)
def test_cli_errors_exit_nonzero_without_traceback(
    broken_root: Path, tiny_root: Path, args, needle: str
) -> None:
    next((broken_root / "samples" / "CAM_FRONT").glob("*.jpg")).unlink()
    argv = [a.format(root=tiny_root, broken=broken_root) for a in args]
    res = _jwmsim(*argv)
    assert res.returncode == 2
    assert needle in res.stderr and "Traceback" not in res.stderr and res.stderr.startswith("error: ")


def test_example_project_boxes_runs(tiny_root: Path, tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "examples" / "project_boxes.py"
    out = tmp_path / "boxes.png"
    res = subprocess.run(
        [sys.executable, str(script), str(tiny_root), "--frame", "5", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    import cv2

    img = cv2.imread(str(out))
    assert img is not None and img.shape[:2] == (36, 64)

"""BEV raster, mosaics and atomic video writing."""

from __future__ import annotations

import threading
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import shapely

from jwmsim.geometry import SE3
from jwmsim.viz import BevActor, BevRenderer, VideoWriter, camera_mosaic, side_by_side
from jwmsim.viz.bev import KIND_COLOURS


def test_bev_places_actor_ahead_of_ego_above_it() -> None:
    road = shapely.box(-50, -4, 200, 4)
    bev = BevRenderer(
        road, {"l": np.array([[-50.0, -1.75], [200.0, -1.75]])}, size_px=(200, 100), pixels_per_m=2
    )
    ego = SE3.from_xy_yaw(10, 0, 0)
    car = BevActor(SE3.from_xy_yaw(30, 0, 0), (2.0, 4.5, 1.5), "vehicle")
    img = bev.draw(ego, [car])
    u, v = bev.to_pixels(ego, np.array([30.0, 0.0]))
    assert v < 200 * 0.65 and abs(u - 50) < 1e-9  # 20 m ahead -> 40 px above the ego row
    np.testing.assert_array_equal(img[int(v), int(u)], KIND_COLOURS["vehicle"])
    eu, ev = bev.to_pixels(ego, ego.translation[:2])
    np.testing.assert_array_equal(img[int(ev), int(eu)], KIND_COLOURS["ego"])
    assert tuple(img[5, 5]) == (45, 45, 45)  # off-road background (12 m left of the road)
    # left of the ego is left in the image
    lu, _ = bev.to_pixels(ego, np.array([10.0, 3.0]))
    assert lu < eu


def test_mosaic_and_side_by_side() -> None:
    imgs = [np.full((10, 20, 3), i * 40, np.uint8) for i in range(5)]
    m = camera_mosaic(imgs, columns=3)
    assert m.shape == (20, 60, 3) and m[15, 25, 0] == 160 and m[15, 45, 0] == 0
    s = side_by_side(m, np.zeros((40, 40, 3), np.uint8))
    assert s.shape == (20, 80, 3)
    with pytest.raises(ValueError):
        camera_mosaic([])


def test_video_writer_is_atomic(tmp_path: Path) -> None:
    out = tmp_path / "run.mp4"
    with VideoWriter(out, fps=10) as vw:
        for i in range(5):
            vw.append(np.full((30, 50, 3), i * 50, np.uint8))
    frames = iio.imread(out, plugin="pyav")
    assert frames.shape[0] == 5 and frames.shape[1:3] == (32, 64)
    assert list(tmp_path.iterdir()) == [out]

    bad = tmp_path / "bad.mp4"
    with pytest.raises(RuntimeError), VideoWriter(bad) as vw:
        vw.append(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("interrupted")
    assert not bad.exists() and list(tmp_path.iterdir()) == [out]
    with pytest.raises(ValueError), VideoWriter(tmp_path / "x.mp4") as vw:
        vw.append(np.zeros((16, 16), np.uint8))


def test_bev_cached_map_layer_matches_drawing_per_view() -> None:
    """The map warped from the cached north-up layer agrees with the map drawn for the view."""
    import shapely

    from jwmsim.geometry import SE3
    from jwmsim.viz.bev import DRIVABLE, BevRenderer

    area = shapely.union(shapely.box(-50, -4, 400, 4), shapely.box(96, -200, 104, 200))
    lanes = {"a": np.stack([np.linspace(-50, 400, 200), np.full(200, -2.0)], 1)}
    bev = BevRenderer(area, lanes, (224, 224), pixels_per_m=3.2)
    for x, y, yaw in [(0.0, 0.0, 0.0), (90.0, 1.0, 0.4), (100.0, 50.0, 1.571), (300.0, -2.0, -2.8)]:
        ego = SE3.from_xy_yaw(x, y, yaw)
        cached = bev._warp_map(ego)
        direct = bev._draw_map(ego)
        assert cached is not None and cached.shape == direct.shape
        a = np.all(cached == DRIVABLE, -1) | (np.abs(cached.astype(int) - DRIVABLE).max(-1) < 20)
        b = np.all(direct == DRIVABLE, -1)
        assert b.mean() > 0.05  # the view does show road
        assert np.mean(a != b) < 0.02, (x, y, yaw, np.mean(a != b))
    far = BevRenderer(shapely.box(0, 0, 20000, 20000), {}, (64, 64), pixels_per_m=4.0)
    assert far._map_layer() is None  # too large to cache: drawn per view
    assert far.draw(SE3.from_xy_yaw(10.0, 10.0, 0.0)).shape == (64, 64, 3)


def test_bev_skips_only_boxes_that_would_not_change_a_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Boxes wholly outside the image are not drawn; the image equals drawing every box."""
    from jwmsim.viz import bev as bev_module
    from jwmsim.viz.bev import BoxArrays

    rng = np.random.default_rng(4)
    n = 300
    kinds = ("vehicle", "pedestrian", "cyclist", "static")
    boxes = BoxArrays(
        x=rng.uniform(-120, 120, n),
        y=rng.uniform(-120, 120, n),
        yaw=rng.uniform(-np.pi, np.pi, n),
        length=rng.uniform(0.5, 12.0, n),
        width=rng.uniform(0.5, 3.0, n),
        kinds=tuple(kinds[i] for i in rng.integers(0, 4, n)),
        highlight=rng.random(n) < 0.3,
    )
    road = shapely.box(-150, -5, 150, 5)
    for size in [(224, 224), (120, 300)]:
        bev = BevRenderer(road, {}, size, pixels_per_m=3.2)
        for x, y, yaw in [(0.0, 0.0, 0.0), (20.0, -7.0, 0.9), (-40.0, 30.0, -2.5)]:
            ego = SE3.from_xy_yaw(x, y, yaw)
            culled = bev.draw(ego, boxes)
            monkeypatch.setattr(bev_module, "OFF_IMAGE_MARGIN_PX", 10**6)
            every = bev.draw(ego, boxes)
            monkeypatch.undo()
            np.testing.assert_array_equal(culled, every)
            assert (culled != bev.draw(ego, ())).any()  # the boxes in view were drawn


def test_video_writer_draws_queued_frames_in_order(tmp_path: Path) -> None:
    """append_drawn draws in the writer's thread, in order; the file equals appending the frames."""
    frames = [np.full((30, 50, 3), i * 40, np.uint8) for i in range(6)]
    with VideoWriter(tmp_path / "direct.mp4", fps=10) as vw:
        for f in frames:
            vw.append(f)
    threads: list[str] = []

    def draw(i: int) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return frames[i]

    with VideoWriter(tmp_path / "drawn.mp4", fps=10) as vw:
        for i in range(len(frames)):
            vw.append_drawn(lambda i=i: draw(i))
    assert (tmp_path / "drawn.mp4").read_bytes() == (tmp_path / "direct.mp4").read_bytes()
    assert len(threads) == len(frames) and threading.current_thread().name not in threads


def test_video_writer_raises_a_drawing_error_and_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> np.ndarray:
        raise KeyError("no such camera")

    out = tmp_path / "run.mp4"
    vw = VideoWriter(out)
    vw.append(np.zeros((16, 16, 3), np.uint8))
    vw.append_drawn(broken)
    with pytest.raises(KeyError, match="no such camera"):
        vw.close()
    assert list(tmp_path.iterdir()) == []
    vw = VideoWriter(out)
    vw.append_drawn(lambda: np.zeros((16, 16), np.uint8))  # not RGB: refused in the thread
    with pytest.raises(ValueError, match=r"\[H, W, 3\] uint8"):
        vw.close()
    drawn: list[int] = []
    entered, gate = threading.Event(), threading.Event()

    def first() -> np.ndarray:
        entered.set()
        gate.wait(5)
        drawn.append(0)
        return np.zeros((16, 16, 3), np.uint8)

    def later(i: int) -> np.ndarray:
        drawn.append(i)
        return np.zeros((16, 16, 3), np.uint8)

    vw = VideoWriter(out)
    vw.append_drawn(first)
    for i in range(1, 6):
        vw.append_drawn(lambda i=i: later(i))
    assert entered.wait(5)
    threading.Timer(0.2, gate.set).start()
    vw.abort()  # frames still queued when aborting are not drawn
    assert drawn == [0] and list(tmp_path.iterdir()) == []

"""BEV raster, mosaics and atomic video writing."""

from __future__ import annotations

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

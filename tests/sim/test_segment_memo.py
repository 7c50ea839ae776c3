"""What is derived from a log segment alone is computed once per segment object."""

from __future__ import annotations

import gc
from dataclasses import replace

import numpy as np
from sim_logs import straight_road, straight_track

from jwmsim.sim.log_replay import resample_tracks
from jwmsim.sim.map import build_road_map
from jwmsim.sim.route import build_route
from jwmsim.sim.segment_memo import per_segment
from jwmsim.sim.world import SimConfig, build_world


class _Thing:
    """A weakly referenceable stand-in for a segment."""


def test_per_segment_memoises_by_identity_and_argument_values() -> None:
    calls: list[tuple[int, float]] = []

    @per_segment
    def derive(segment: _Thing, width: float = 3.5, extra: float = 1.0) -> list[float]:
        calls.append((id(segment), width))
        return [width * extra]

    a, b = _Thing(), _Thing()
    first = derive(a)
    assert derive(a) is first and derive(a, 3.5) is first and derive(a, width=3.5, extra=1.0) is first
    assert derive(a, 4.0) is not first and derive(b) is not first
    assert len(calls) == 3
    del a
    gc.collect()
    assert derive(_Thing()) == [3.5]  # a new object (maybe at a freed id): computed afresh
    assert len(calls) == 4
    derive.cache_clear()
    derive(b)
    assert len(calls) == 5


def test_road_route_and_traffic_are_shared_by_the_worlds_of_one_log() -> None:
    log = straight_road(tracks={"car": straight_track("car", 20.0, 0.0, 8.0, 8.0)}, duration=8.0)
    cfg = SimConfig(start_time=1.0)
    a, b = build_world(log, cfg), build_world(log, cfg, removed=["car"])
    assert a.road is b.road and a.route is b.route and a.log is b.log
    assert build_road_map(log, cfg.lane_width, cfg.lane_extension) is a.road
    # another segment object (even an equal copy) gets its own, equal, results
    copy = replace(log)
    road = build_road_map(copy, cfg.lane_width, cfg.lane_extension)
    assert road is not a.road and road.lane_ids == a.road.lane_ids
    route = build_route(copy, road, 1.0, cfg.dt, cfg.route_extension, cfg.episode_seconds)
    np.testing.assert_array_equal(route.line.points, a.route.line.points)
    assert resample_tracks(copy, 1.0, cfg.dt) is not a.log
    np.testing.assert_array_equal(resample_tracks(copy, 1.0, cfg.dt).x, a.log.x)
    assert not a.log.x.flags.writeable  # shared arrays are read-only


def test_replay_frames_share_the_bev_map_layer_of_their_road() -> None:
    from jwmsim.sim.world import initial_state
    from jwmsim.viz.replay_frame import ReplayFrameDrawer, bev_for_road

    log = straight_road(duration=8.0)
    cfg = SimConfig(start_time=1.0)
    a, b = build_world(log, cfg), build_world(log, cfg, removed=[])
    da = ReplayFrameDrawer(initial_state(a), "a", (112, 200), 3)
    db = ReplayFrameDrawer(initial_state(b), "a", (112, 200), 3)
    assert da.bev is db.bev is bev_for_road(a.road, 224)
    assert bev_for_road(a.road, 128) is not da.bev and bev_for_road(a.road, 128).size_px == (128, 128)
    images = [np.zeros((112, 200, 3), np.uint8)] * 3
    names = ["CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"]
    np.testing.assert_array_equal(
        da.draw(initial_state(a), images, names), db.draw(initial_state(b), images, names)
    )

"""Polylines, road maps (log lanes and the derived fall-back) and the route."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from sim_logs import LANE_W, curve_road, make_log, straight_road, straight_track

from jwmsim.errors import ConfigError
from jwmsim.sim.map import build_road_map
from jwmsim.sim.polyline import Polyline
from jwmsim.sim.route import LEAD_IN, build_route


def test_polyline_projection_interpolation_and_extrapolation():
    line = Polyline.from_points(np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]))
    assert line.length == pytest.approx(20.0)
    s, d = line.project(np.array([[5.0, 1.0], [11.0, 5.0], [-3.0, -2.0], [10.0, 14.0]]))
    assert np.allclose(s, [5.0, 15.0, -3.0, 24.0])
    assert np.allclose(d, [1.0, -1.0, -2.0, 0.0])
    xy, yaw = line.interpolate(np.array([-2.0, 5.0, 15.0, 25.0]))
    assert np.allclose(xy, [[-2.0, 0.0], [5.0, 0.0], [10.0, 5.0], [10.0, 15.0]])
    assert yaw[0] == pytest.approx(0.0) and yaw[-1] == pytest.approx(math.pi / 2)
    straight = Polyline(np.array([[0.0, 0.0], [10.0, 0.0]]))
    x, y, _ = straight.frenet_to_xy(5.0, 2.0)
    assert (x, y) == (pytest.approx(5.0), pytest.approx(2.0))
    assert line.pose_at(15.0)[:2] == (pytest.approx(10.0), pytest.approx(5.0))


def test_polyline_rejects_degenerate_input():
    with pytest.raises(ValueError):
        Polyline.from_points(np.array([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError):
        Polyline(np.array([[0.0, 0.0]]))


def test_log_lanes_are_used_and_located():
    road = build_road_map(straight_road(with_lanes=True), LANE_W)
    assert road.source == "log" and road.lane_ids == ["lane_0", "lane_1"]
    lane, s, d = road.locate(20.0, 3.0, 0.0)
    assert road.lanes[lane].id == "lane_1" and d == pytest.approx(-0.5)
    assert road.locate(20.0, 3.0, math.pi)[0] == -1  # heading the wrong way
    assert road.locate(20.0, 30.0)[0] == -1  # too far
    assert road.lanes[road.neighbour(0, "left", 10.0)].id == "lane_1"
    assert road.neighbour(0, "right", 10.0) == -1
    with pytest.raises(ConfigError, match="lane_9"):
        road.lane_index("lane_9")


def test_derived_lanes_follow_the_ego_and_stay_on_the_drivable_area():
    tracks = {
        "oncoming": straight_track("oncoming", 80.0, 3.5, -10.0),
        "lead": straight_track("lead", 30, 0, 10),
    }
    road = build_road_map(straight_road(with_lanes=False, tracks=tracks), LANE_W, lane_extension=50.0)
    assert road.source == "derived"
    ids = road.lane_ids
    # ego lane, its left neighbour (inside the area), no right one; the oncoming car's path is new,
    # the lead car's path runs along the ego lane and is dropped
    assert ids[:2] == ["ego", "ego_left_1"] and "ego_right_1" not in ids
    assert "track:oncoming" in ids and "track:lead" not in ids
    ego_lane = road.lanes[0].centreline
    assert ego_lane.points[0, 0] == pytest.approx(-50.0) and ego_lane.points[-1, 0] == pytest.approx(110.0)
    left = road.lanes[1].centreline
    assert np.allclose(left.points[:, 1], LANE_W) and left.points[-1, 0] > left.points[0, 0]
    onc = road.lanes[ids.index("track:oncoming")].centreline
    assert onc.heading_at(5.0) == pytest.approx(math.pi, abs=1e-6)


def test_derived_lanes_on_a_curve_and_drivable_fallback():
    road = build_road_map(curve_road(radius=40.0), LANE_W, lane_extension=20.0)
    left = road.lanes[road.lane_ids.index("ego_left_1")].centreline
    right = road.lanes[road.lane_ids.index("ego_right_1")].centreline
    mid_l = left.interpolate(np.array([left.length / 2]))[0][0]
    mid_r = right.interpolate(np.array([right.length / 2]))[0][0]
    assert math.hypot(mid_l[0], mid_l[1] - 40.0) == pytest.approx(40.0 - LANE_W, abs=0.1)
    assert math.hypot(mid_r[0], mid_r[1] - 40.0) == pytest.approx(40.0 + LANE_W, abs=0.1)
    # a log without drivable area: the area is the buffered lanes
    log = make_log(lambda t: (10.0 * t, 0.0, 0.0), 3.0)
    road = build_road_map(log, LANE_W)
    assert road.drivable_source == "lanes"
    assert road.covers(shapely.box(0, -1.0, 4, 1.0))[0] and not road.covers(shapely.box(0, 6.0, 4, 8.0))[0]


def test_route_follows_the_log_then_extends_and_tracks_expert_progress():
    log = straight_road()
    road = build_road_map(log, LANE_W)
    route = build_route(log, road, start_time=1.0, dt=0.1, extension=40.0)
    assert route.start_s == pytest.approx(LEAD_IN)
    assert route.length == pytest.approx(50.0 + 40.0, abs=0.6)  # 5 s of log at 10 m/s + extension
    assert route.expert_progress(0) == pytest.approx(0.0, abs=1e-6)
    assert route.expert_progress(20) == pytest.approx(20.0, abs=1e-6)
    assert route.expert_progress(10_000) == pytest.approx(50.0, abs=1e-6)  # held after the log
    s, d = route.project(30.0, 1.0, s_hint=25.0)
    assert s == pytest.approx(LEAD_IN + 20.0) and d == pytest.approx(1.0)


def test_route_extension_follows_the_lane_on_a_curve():
    log = curve_road(radius=40.0, speed=8.0, duration=4.0)
    road = build_road_map(log, LANE_W, lane_extension=30.0)
    route = build_route(log, road, 0.0, 0.1, extension=25.0)
    end = route.line.points[-1]
    # the ego lane is the logged arc extended straight by 30 m; the route follows it 25 m
    x_end, y_end, yaw_end = road.lanes[0].centreline.pose_at(32.0 + 25.0 - 1e-9 + 30.0)
    assert math.hypot(end[0] - x_end, end[1] - y_end) < 0.6

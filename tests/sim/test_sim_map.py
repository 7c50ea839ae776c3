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
from jwmsim.sim.route import LEAD_IN, build_route, follow_lanes


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
    assert route.length == pytest.approx(50.0, abs=1e-6)  # 5 s of log at 10 m/s: what can be covered
    assert route.line.length - route.end_s == pytest.approx(40.0, abs=0.6)  # look-ahead beyond it
    assert route.expert_progress(0) == pytest.approx(0.0, abs=1e-6)
    assert route.expert_progress(20) == pytest.approx(20.0, abs=1e-6)
    assert route.expert_progress(10_000) == pytest.approx(50.0, abs=1e-6)  # held after the log
    s, d = route.project(30.0, 1.0, s_hint=25.0)
    assert s == pytest.approx(LEAD_IN + 20.0) and d == pytest.approx(1.0)
    # a 3 s episode covers 30 m of the log; an 8 s one outlasts it by 3 s at the end speed 10 m/s
    assert build_route(log, road, 1.0, 0.1, 40.0, episode_seconds=3.0).length == pytest.approx(30.0)
    long = build_route(log, road, 1.0, 0.1, 40.0, episode_seconds=8.0)
    assert long.length == pytest.approx(80.0, abs=0.05) and long.end_speed == pytest.approx(10.0)
    assert long.line.length - long.end_s == pytest.approx(40.0, abs=0.6)


def test_route_extension_follows_the_lane_on_a_curve():
    log = curve_road(radius=40.0, speed=8.0, duration=4.0)
    road = build_road_map(log, LANE_W, lane_extension=30.0)
    route = build_route(log, road, 0.0, 0.1, extension=25.0)
    end = route.line.points[-1]
    # the ego lane is the logged arc extended straight by 30 m; the route follows it 25 m
    x_end, y_end, yaw_end = road.lanes[0].centreline.pose_at(32.0 + 25.0 - 1e-9 + 30.0)
    assert math.hypot(end[0] - x_end, end[1] - y_end) < 0.6


def _junction_log(duration: float = 3.0):
    """The ego drives 30 m east on ``in`` (x 0..40), which ends at a junction; from its end ``ahead``
    runs on east (x 40..100, then north-east), ``right`` turns south, and ``cross`` (a north-south
    lane through the junction) passes the end point across it."""
    t = np.linspace(0.0, 1.0, 41)
    arc = np.stack([40.0 + 10.0 * np.sin(t * np.pi / 2), -10.0 + 10.0 * np.cos(t * np.pi / 2)], 1)
    ahead = np.concatenate([np.stack([np.linspace(40, 100, 61), np.zeros(61)], 1), [[130.0, 30.0]]])
    lanes = {
        "in": np.stack([np.linspace(0, 40, 41), np.zeros(41)], 1),
        "ahead": ahead,
        "right": np.concatenate([arc, np.stack([np.full(30, 50.0), np.linspace(-11, -40, 30)], 1)]),
        "cross": np.stack([np.full(41, 40.0), np.linspace(-20, 20, 41)], 1),
    }
    return make_log(lambda t: (10.0 * t, 0.0, 0.0), duration, lanes=lanes, name="junction")


def test_lane_graph_successors_and_straight_on():
    road = build_road_map(_junction_log(), LANE_W)
    i = road.lane_index
    succ = dict(road.successors(i("in")))
    # the crossing lane passes the end point across it: not a successor
    assert set(succ) == {i("ahead"), i("right")} and succ[i("ahead")] == pytest.approx(0.0)
    assert road.straight_on(i("in")) == (i("ahead"), pytest.approx(0.0))
    assert road.successors(i("ahead")) == () and road.straight_on(i("ahead")) is None


def test_route_after_the_log_follows_the_lane_graph_then_goes_straight():
    log = _junction_log()
    road = build_road_map(log, LANE_W)
    pts, missing = follow_lanes(road, 30.0, 0.0, 0.0, 150.0)
    # 10 m of "in", straight on through the junction along "ahead" (60 m east, 42.4 m north-east)
    assert missing == pytest.approx(150.0 - 10.0 - 60.0 - math.hypot(30, 30), abs=0.2)  # 1 m resampling
    assert np.allclose(pts[-1], [130.0, 30.0], atol=1e-6) and np.all(pts[:, 1] >= -1e-9)
    # a 15 s episode: 3 s of log (30 m), 12 s at 10 m/s beyond; the lanes end, then straight on
    route = build_route(log, road, 0.0, 0.1, extension=20.0, episode_seconds=15.0)
    assert route.length == pytest.approx(150.0, abs=0.1)
    x, y, yaw = route.line.pose_at(route.start_s + 115.0)  # on "ahead", north-east of x = 100
    assert y > 5.0 and abs(y - (x - 100.0)) < 0.3 and yaw == pytest.approx(math.pi / 4, abs=0.02)
    x_end, y_end = route.line.points[-1]
    assert y_end - x_end == pytest.approx(30.0 - 130.0, abs=0.3)  # straight on along 45 degrees
    assert route.line.length - route.end_s == pytest.approx(20.0, abs=1.0)

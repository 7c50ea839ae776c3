"""Traffic lights in written logs: written by the writer and the procedural town, read back by
the nuScenes reader; a log without them loads with none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from test_nuscenes_writer import write_tiny_log

from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.procedural.signals import junction_programs
from jwmsim.logs.signals import SignalProgram, TrafficLight

LIGHT = TrafficLight(
    id="j/east",
    stop_line=((50.0, 20.0), (50.0, 24.0)),
    heading=0.0,
    head=(50.0, 19.0, 5.0),
    program=SignalProgram(cycle=30.0, green=10.0, yellow=3.0, offset=-2.0),
    lanes=("lane-east",),
)


def test_a_log_written_without_lights_loads_with_none(tmp_path: Path) -> None:
    root = write_tiny_log(tmp_path / "log")
    assert not (root / "maps" / "traffic_lights").exists()
    log = load_nuscenes_log(root, with_lidar=False)
    assert log.traffic_lights == () and log.summary()["traffic_lights"] == 0
    assert log.time_window(0.2, 0.8).traffic_lights == ()


def test_lights_are_written_and_read_back_on_the_segment_clock(tmp_path: Path) -> None:
    root = write_tiny_log(tmp_path / "log", traffic_lights=(LIGHT,))
    log = load_nuscenes_log(root, with_lidar=False)
    (back,) = log.traffic_lights
    assert back.id == LIGHT.id and back.lanes == LIGHT.lanes
    np.testing.assert_allclose(back.stop_line_array(), LIGHT.stop_line_array())
    # the segment's time 0 is the first (lidar) timestamp, T0: the program is unchanged
    assert back.program == LIGHT.program
    assert [back.phase_at(t) for t in (0.0, 7.9, 8.0, 11.0, 27.9, 28.0)] == [
        "green", "green", "yellow", "red", "red", "green",
    ]  # fmt: skip
    window = log.time_window(0.5, 1.0)  # its time 0 is the log's 0.5 s
    assert window.traffic_lights[0].phase_at(7.6) == "yellow"


def test_town_lights_keep_the_main_road_green_through_the_log() -> None:
    main, side = junction_programs(20.0)
    for t in np.arange(-5.0, 25.0, 0.1):
        assert main.phase_at(t) == "green" and side.phase_at(t) == "red", t
    assert main.phase_at(26.0) == "yellow" and main.phase_at(40.0) == "red"
    assert side.phase_at(40.0) == "green"  # after the 2 s all-red
    for t in np.arange(0.0, 120.0, 0.1):  # never green for both roads
        assert not (main.phase_at(t) in ("green", "yellow") and side.phase_at(t) in ("green", "yellow")), t
    longer, _ = junction_programs(50.0)
    assert all(longer.phase_at(t) == "green" for t in np.arange(0.0, 55.0, 0.5))


@pytest.mark.parametrize("seed", [3, 11])
def test_town_has_a_light_per_approach_of_each_four_way_junction(seed: int) -> None:
    from jwmsim.logs.procedural import Town

    town = Town.generate(seed)
    ids = {light.id for light in town.traffic_lights}
    junctions = ("cross", "cross2")
    assert ids == {f"{j}/{road}:{d}" for j in junctions for road in ("main", j) for d in ("fwd", "bwd")}
    ego_heading = float(town.ego_states[0, 2])
    ahead = town.traffic_lights[0]  # cross/main:fwd guards the ego's direction
    assert ahead.id == "cross/main:fwd" and np.cos(ahead.heading - ego_heading) > 0.99
    for light in town.traffic_lights:  # each stop line crosses its lanes
        line = shapely.LineString(light.stop_line_array())
        for lane in light.lanes:
            assert shapely.LineString(town.lanes[lane]).intersects(line)

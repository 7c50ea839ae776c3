"""The built-in planners (agents/) in the pure simulation, and planner loading."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sim_logs import curve_road, straight_road, straight_track

from jwmsim.config import SimConfig
from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.planning import make_planner, planner_names
from jwmsim.sim import build_world, initial_state, transition

CFG = SimConfig(terminate_on_collision=False, terminate_on_offroad=False, route_extension=400.0)


def drive(world, planner, steps: int):
    state = initial_state(world)
    planner.reset(world)
    states = [state]
    for _ in range(steps):
        state = transition(state, planner.act(state))
        states.append(state)
    return states


def test_registry_lists_the_builtin_planners() -> None:
    assert {"idm", "constant_velocity", "log_replay", "random", "sb3"} <= set(planner_names())


def test_idm_follows_a_curve_without_leaving_the_road() -> None:
    world = build_world(curve_road(duration=8.0), CFG)
    states = drive(world, make_planner("idm"), 70)
    assert all(s.last.metrics["dac"] == 1.0 for s in states[1:])
    assert max(abs(s.last.measurements.route_d) for s in states[1:]) < 0.6
    assert states[-1].ego.yaw > 1.0  # turned left along the arc


def test_idm_stops_behind_a_stopped_car_and_ignores_the_next_lane() -> None:
    stopped = straight_track("stopped", 70.0, 0.0, 0.0, duration=20.0)
    beside = straight_track("beside", 20.0, 3.5, 0.0, duration=20.0)  # parked in the left lane
    world = build_world(straight_road(tracks={"stopped": stopped, "beside": beside}, duration=20.0), CFG)
    states = drive(world, make_planner("idm", target_speed=10.0), 150)
    assert all(s.last.metrics["nc"] == 1.0 for s in states[1:])
    end = states[-1]
    assert end.ego.speed < 0.3
    front = end.ego.x + CFG.vehicle.length - CFG.vehicle.rear_overhang
    gap = 70.0 - 4.6 / 2 - front
    assert 1.0 < gap < 6.0
    assert states[30].ego.x > 20.0 + 5  # passed the car in the left lane without braking for it


def test_constant_velocity_keeps_speed() -> None:
    world = build_world(straight_road(speed=10.0), CFG)
    states = drive(world, make_planner("constant_velocity"), 20)
    assert states[-1].ego.speed == pytest.approx(states[0].ego.speed)
    assert abs(states[-1].ego.y) < 1e-9


def test_log_replay_reproduces_the_logged_path() -> None:
    log = curve_road(duration=6.0)
    world = build_world(log, CFG)
    states = drive(world, make_planner("log_replay"), 50)
    logged = log.ego_pose_at(5.0).translation[:2]
    assert np.linalg.norm(np.array([states[50].ego.x, states[50].ego.y]) - logged) < 0.5


def test_idm_with_waypoint_actions() -> None:
    cfg = SimConfig(
        terminate_on_collision=False,
        terminate_on_offroad=False,
        route_extension=400.0,
        action_type="waypoints",
    )
    world = build_world(curve_road(duration=8.0), cfg)
    states = drive(world, make_planner("idm"), 60)
    assert all(s.last.metrics["dac"] == 1.0 for s in states[1:])
    assert states[-1].ego.speed > 3.0
    assert states[-1].ego.yaw > 0.8
    cv = drive(world, make_planner("constant_velocity"), 5)
    assert cv[-1].ego.speed == pytest.approx(cv[0].ego.speed, abs=0.2)


def test_planner_by_path_and_clear_errors(tmp_path: Path) -> None:
    f = tmp_path / "brake.py"
    f.write_text(
        "import numpy as np\nfrom jwmsim.planning import Planner\n\n"
        "class Brake(Planner):\n    name = 'brake'\n\n"
        "    def compute_action(self, state, observation):\n        return np.array([-1.0, 0.0])\n"
    )
    world = build_world(straight_road(), CFG)
    states = drive(world, make_planner(str(f)), 5)
    assert states[-1].ego.speed < states[0].ego.speed - 3.0
    with pytest.raises(ConfigError, match="did you mean 'idm'"):
        make_planner("idn")
    with pytest.raises(ConfigError, match="does not exist"):
        make_planner(str(tmp_path / "missing.py"))
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="exactly one Planner subclass"):
        make_planner(str(empty))
    with pytest.raises(ConfigError, match="rejected its arguments"):
        make_planner("idm", bogus=1)


def test_non_finite_planner_output_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "nan.py"
    f.write_text(
        "import numpy as np\nfrom jwmsim.planning import Planner\n\n"
        "class Bad(Planner):\n    def compute_action(self, state, observation):\n"
        "        return np.array([math.nan, 0.0])\n\nimport math\n"
    )
    world = build_world(straight_road(), CFG)
    with pytest.raises(ValueError, match="non-finite"):
        make_planner(str(f)).act(initial_state(world))


def test_sb3_planner_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        make_planner("sb3", path=tmp_path / "nope.zip")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a model zip"):
        make_planner("sb3", path=bad)
    world = build_world(straight_road(), CFG)
    assert math.isfinite(world.route.length)


def test_random_planner_is_uniform_in_the_box_and_seeded() -> None:
    world = build_world(straight_road(), CFG)
    planner = make_planner("random")
    first = [planner.act(s) for s in drive(world, make_planner("idm"), 20)]
    planner.reset(world)  # a new episode: the same sequence again
    again = [planner.act(s) for s in drive(world, make_planner("idm"), 20)]
    arr = np.array(first)
    assert arr.shape == (21, 2) and np.all(np.abs(arr) <= 1.0) and arr.std() > 0.3
    np.testing.assert_array_equal(arr, np.array(again))
    wp_world = build_world(straight_road(), SimConfig(action_type="waypoints", num_waypoints=3))
    assert make_planner("random").act(initial_state(wp_world)).shape == (6,)

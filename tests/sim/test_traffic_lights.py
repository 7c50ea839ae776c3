"""Traffic lights: phase programs, the red-light infraction metric, drivers stopping at red, and
the lights written into and read back from a log (or absent from it)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sim_logs import straight_road, straight_track

from jwmsim.config import SimConfig
from jwmsim.errors import LogFormatError
from jwmsim.logs.signals import SignalProgram, TrafficLight, lights_from_json, lights_to_json
from jwmsim.planning import make_planner
from jwmsim.sim import build_world, episode_metrics, initial_state, transition
from jwmsim.sim.scripts import ActorScript

STOP_X = 60.5  # [m] the stop line across the ego's lane on the straight test road
CFG = SimConfig(terminate_on_collision=False, terminate_on_offroad=False, route_extension=400.0)


def light(program: SignalProgram, x: float = STOP_X, heading: float = 0.0) -> TrafficLight:
    """A light for +x traffic with its stop line across both lanes of the straight road at ``x``."""
    return TrafficLight(
        id="j/ego",
        stop_line=((x, -1.75), (x, 5.25)),
        heading=heading,
        head=(x, -3.0, 5.0),
        program=program,
        lanes=("lane_0", "lane_1"),
    )


def road_with(program: SignalProgram, duration: float = 12.0, **kwargs):
    return dataclasses.replace(straight_road(duration=duration, **kwargs), traffic_lights=(light(program),))


def test_phase_program_cycles_green_yellow_red() -> None:
    p = SignalProgram(cycle=60.0, green=30.0, yellow=3.0, offset=-5.0)
    assert [p.phase_at(t) for t in (-5.0, 0.0, 24.9, 25.0, 27.9, 28.0, 54.9, 55.0, 115.0, -6.0)] == [
        "green", "green", "green", "yellow", "yellow", "red", "red", "green", "green", "red",
    ]  # fmt: skip
    assert p.red == 27.0
    shifted = p.shifted(10.0)  # a window starting 10 s into the log: its t = 0 is log time 10
    assert all(shifted.phase_at(t) == p.phase_at(t + 10.0) for t in np.arange(-20.0, 80.0, 0.7))
    with pytest.raises(ValueError, match="green \\+ yellow <= cycle"):
        SignalProgram(cycle=10.0, green=9.0, yellow=3.0)


def test_lights_round_trip_through_the_file_payload() -> None:
    original = light(SignalProgram(60.0, 30.0, 3.0, offset=-5.0))
    payload = json.loads(json.dumps(lights_to_json([original], start_us=1_000_000)))
    assert payload["traffic_lights"][0]["program"]["start_us"] == -4_000_000
    (back,) = lights_from_json(payload, start_us=1_000_000)
    assert back == original
    (later,) = lights_from_json(payload, start_us=3_000_000)  # a segment starting 2 s later
    assert later.program.offset == pytest.approx(-7.0)
    with pytest.raises(LogFormatError, match="malformed"):
        lights_from_json({"traffic_lights": [{"id": "x"}]}, 0, "t.json")


def run_constant_speed(world, steps: int):
    state = initial_state(world)
    for _ in range(steps):
        state = transition(state, [0.0, 0.0])
    return state


def test_crossing_the_stop_line_at_red_is_one_infraction_at_green_none() -> None:
    # the ego drives at 10 m/s from x = 0: its rear bumper (1 m behind the rear axle) crosses the
    # stop line at x = 60.5 m at (60.5 + 1) / 10 = 6.15 s, i.e. in the step ending at 6.2 s (step 62)
    red = build_world(road_with(SignalProgram(100.0, 0.0, 0.0)), CFG)  # red throughout
    state = run_constant_speed(red, 80)
    assert [(s, light_id) for s, _, light_id in state.episode.red_lights] == [(62, "j/ego")]
    m = episode_metrics(state)
    assert m["red_lights"] == 1.0 and m["red_light_penalty"] == pytest.approx(0.7)
    assert [p.metric for p in state.episode.penalties if p.metric == "red_light"] == ["red_light"]
    green = build_world(road_with(SignalProgram(100.0, 100.0, 0.0)), CFG)
    m = episode_metrics(run_constant_speed(green, 80))
    assert m["red_lights"] == 0.0 and m["red_light_penalty"] == 1.0
    # green until 5 s, yellow 5-6 s, red from 6 s: the line is crossed at 6.2 s -> infraction
    late = build_world(road_with(SignalProgram(100.0, 5.0, 1.0)), CFG)
    assert episode_metrics(run_constant_speed(late, 80))["red_lights"] == 1.0
    # red until 6.0 s, then green: the line is crossed at green -> none
    early = build_world(road_with(SignalProgram(100.0, 94.0, 0.0, offset=6.0)), CFG)
    assert episode_metrics(run_constant_speed(early, 80))["red_lights"] == 0.0


def test_a_light_for_the_other_direction_is_not_an_infraction() -> None:
    seg = dataclasses.replace(
        straight_road(duration=12.0), traffic_lights=(light(SignalProgram(100.0, 0.0, 0.0), heading=np.pi),)
    )
    assert episode_metrics(run_constant_speed(build_world(seg, CFG), 80))["red_lights"] == 0.0


def test_state_reports_the_phase_of_every_light() -> None:
    world = build_world(road_with(SignalProgram(1.0, 0.4, 0.2)), CFG)
    state = initial_state(world)
    phases = []
    for _ in range(9):
        phases.append(state.signal_phases["j/ego"])
        state = transition(state, [0.0, 0.0])
    assert phases == ["green"] * 4 + ["yellow"] * 2 + ["red"] * 3  # t = 0.0 .. 0.8 s


def test_idm_stops_at_red_and_drives_on_at_green() -> None:
    # red for the first 20 s, then green: IDM must stand before the line, then drive through
    program = SignalProgram(cycle=200.0, green=180.0, yellow=0.0, offset=20.0)
    world = build_world(road_with(program, duration=30.0), CFG)
    planner = make_planner("idm")
    planner.reset(world)
    state = initial_state(world)
    front = CFG.vehicle.length - CFG.vehicle.rear_overhang
    stood = False
    for _ in range(300):
        state = transition(state, planner.act(state))
        if state.log_time < 20.0:
            assert state.ego.x + front < STOP_X, f"front bumper past the stop line at {state.log_time:.1f} s"
            stood |= state.ego.speed < 0.1 and STOP_X - (state.ego.x + front) < 6.0
    assert stood, "IDM never stood still just before the red light"
    assert state.ego.x > STOP_X + 20.0  # drove on at green
    assert episode_metrics(state)["red_lights"] == 0.0


def test_pdm_closed_stops_at_red() -> None:
    world = build_world(road_with(SignalProgram(100.0, 0.0, 0.0), duration=15.0), CFG)
    planner = make_planner("pdm_closed")
    planner.reset(world)
    state = initial_state(world)
    for _ in range(120):
        state = transition(state, planner.act(state))
    front = CFG.vehicle.length - CFG.vehicle.rear_overhang
    assert state.ego.speed < 0.1 and 0.0 < STOP_X - (state.ego.x + front) < 6.0
    assert episode_metrics(state)["red_lights"] == 0.0


def test_idm_traffic_stops_at_red() -> None:
    # a car 20 m ahead of the ego in the other lane, handed to IDM at once, meets a red light
    seg = road_with(
        SignalProgram(100.0, 0.0, 0.0),
        tracks={"car": straight_track("car", 20.0, 3.5, 10.0, duration=12.0)},
    )
    world = build_world(seg, CFG, scripts={"car": ActorScript("idm")})
    state = run_constant_speed(world, 100)
    i = state.actors.index("car")
    assert state.actors.speed[i] < 0.1
    assert 0.0 < STOP_X - (state.actors.x[i] + 0.5 * state.actors.length[i]) < 6.0


def test_a_log_without_lights_has_none() -> None:
    world = build_world(straight_road(duration=6.0), CFG)
    state = transition(initial_state(world), [0.0, 0.0])
    assert state.signal_phases == {} and world.signals.route_stops == ()
    assert episode_metrics(state)["red_lights"] == 0.0


def test_info_and_bev_show_the_phase() -> None:
    from jwmsim.envs.drive_env import JWMDrivingEnv
    from jwmsim.geometry import SE3
    from jwmsim.viz.bev import PHASE_COLOURS, BevRenderer

    env = JWMDrivingEnv(segment=road_with(SignalProgram(100.0, 0.0, 0.0)), observation="none")
    _, info = env.reset(seed=0)
    assert info["traffic_lights"] == {"j/ego": "red"}
    _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
    assert info["traffic_lights"] == {"j/ego": "red"}
    env.close()
    # the stop line 20 m ahead of an ego at the origin facing +x is drawn in the phase's colour
    bev = BevRenderer(None, size_px=(200, 200), pixels_per_m=4.0, ego_row_frac=0.5)
    line = np.array([[20.0, -3.0], [20.0, 3.0]])
    for phase in ("red", "green"):
        img = bev.draw(SE3.from_xy_yaw(0.0, 0.0, 0.0), signals=[(line, phase)])
        assert tuple(img[100 - 80, 100]) == PHASE_COLOURS[phase]  # 20 m ahead = 80 px up

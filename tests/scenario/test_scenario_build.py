"""The bridge scenario -> simulator, on the pure simulation (no rendering): behaviours do what the
scenario says, the ego start is applied, and jitter reproduces exactly in closed loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jwmsim.config import SimConfig
from jwmsim.errors import ConfigError
from jwmsim.logs.segment import LogSegment
from jwmsim.scenario import ScenarioError, parse_scenario, sample
from jwmsim.scenario.build import build_world_for_run, script_summary
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.triggers import TRIGGERS
from jwmsim.sim.world import initial_state, transition

CONFIG = SimConfig(
    terminate_on_collision=False, terminate_on_offroad=False, terminate_on_route_complete=False
)
HEAD = "version: 1\nlog: {dataroot: unused}\nego: {start_time: 1.0}\nduration: 8\nlog_actors: {remove: all}\n"
KEEP_SPEED = np.array([0.0, 0.0])  # normalised (acceleration, steering): coast straight on
BRAKE = np.array([-1.0, 0.0])


def _run(
    log: LogSegment,
    actors_yaml: str,
    steps: int,
    action: np.ndarray = KEEP_SPEED,
    run_index: int = 0,
    extra: str = "",
) -> list[SimState]:
    s = parse_scenario(HEAD + extra + "actors:\n" + actors_yaml, "test.yaml")
    state = initial_state(build_world_for_run(sample(s, run_index), log, CONFIG))
    states = [state]
    for _ in range(steps):
        state = transition(state, action)
        states.append(state)
    return states


def test_cut_in_ends_in_the_ego_lane_ahead_of_the_ego(toy_log: LogSegment) -> None:
    states = _run(
        toy_log,
        """\
  - id: cutter
    asset: sedan
    lane: ego_left
    offset: 25
    speed_ratio: 0.8
    trigger: {type: distance_to_ego, distance: 15, ahead_only: true}
    then: {type: cut_in, target_lane: ego, duration: 2.0}
""",
        steps=80,
    )
    trig = states[-1].actors.triggered_at[0]
    assert 3.0 < trig < 5.0  # 25 m ahead closing at 2 m/s: within 15 m after about 4 s
    before = [st for st in states if st.time < trig]
    assert all(abs(st.actors.y[0] - 3.5) < 0.05 for st in before)  # kept the left lane until then
    done = [st for st in states if st.time >= trig + 2.0]
    assert done, "the window must cover the lane change"
    for st in done:  # in the ego's lane (y = 0), ahead of the ego
        assert abs(st.actors.y[0]) < 0.2 and st.actors.x[0] - st.ego.x > 4.0


def test_hard_brake_leader_follows_its_deceleration_profile(toy_log: LogSegment) -> None:
    states = _run(
        toy_log,
        """\
  - id: leader
    asset: suv
    lane: ego
    offset: 30
    speed: 10
    trigger: {type: time, at: 1.0}
    then: {type: hard_brake, decel: 6.0, ramp: 0.5, stop_duration: 1.5}
""",
        steps=70,
        action=BRAKE,
    )
    t = np.array([st.time for st in states])
    v = np.array([st.actors.speed[0] for st in states])
    trig = states[-1].actors.triggered_at[0]
    assert trig == pytest.approx(1.0, abs=0.11)
    assert np.all(np.abs(v[t <= trig] - 10.0) < 0.05)  # IDM cruise before
    # constant phase after the 0.5 s ramp: -6 m/s^2 until the standstill at about trig + 0.25 + 10/6 s
    first_stop = t[(v == 0.0) & (t > trig)][0]
    full = (t > trig + 0.7) & (t <= first_stop) & (v > 0.5)
    rates = np.diff(v)[full[1:]] / CONFIG.dt
    assert len(rates) > 8 and np.allclose(rates, -6.0, atol=0.35)
    ramp = (t > trig) & (t < trig + 0.45)
    assert np.all(np.diff(v)[ramp[1:]] / CONFIG.dt > -6.0)  # softer while ramping up
    stopped = t[(v == 0.0) & (t > trig)]
    assert stopped[0] == pytest.approx(trig + 0.25 + 10 / 6, abs=0.3)
    assert stopped[-1] - stopped[0] == pytest.approx(1.5, abs=0.25)  # stands stop_duration, then drives on
    assert v[-1] > 0.5


@pytest.mark.parametrize(("side", "lateral"), [("left", -2.8), ("right", 2.8)])
def test_pedestrian_crosses_the_ego_path(toy_log: LogSegment, side: str, lateral: float) -> None:
    states = _run(
        toy_log,
        f"""\
  - id: walker
    asset: pedestrian
    lane: ego
    offset: 40
    lateral: {lateral}
    speed: 0
    behaviour: {{type: hold}}
    trigger: {{type: distance_to_ego, distance: 20, ahead_only: true}}
    then: {{type: pedestrian_crossing, speed: 1.5, direction: {side}, angle: 0.0}}
""",
        steps=60,
    )
    y = np.array([st.actors.y[0] for st in states])
    x = np.array([st.actors.x[0] for st in states])
    assert y[0] == pytest.approx(lateral, abs=0.01)
    sign = 1.0 if side == "left" else -1.0
    assert sign * y[-1] > 1.5  # crossed the ego's path (y = 0) to the other side
    assert np.all(np.abs(x - x[0]) < 0.05)  # straight across (angle 0)
    moving = np.flatnonzero(np.abs(np.diff(y)) > 1e-6)
    assert states[moving[0]].time == pytest.approx(states[-1].actors.triggered_at[0], abs=0.11)
    assert np.abs(np.diff(y))[moving[3:]].max() / CONFIG.dt == pytest.approx(1.5, abs=0.05)


def test_ego_start_offset_speed_and_inserted_speed(toy_log: LogSegment) -> None:
    extra = "ego: {start_time: 2.0, offset: {longitudinal: 2.0, lateral: 0.5}, speed: 6.0}\n"
    text = (
        HEAD.replace("ego: {start_time: 1.0}\n", extra)
        + """actors:
  - {id: a, asset: sedan, lane: ego_left, offset: 10, speed_ratio: 0.5}
  - {id: b, asset: truck, lane: oncoming, offset: 50, speed: 7, behaviour: {type: constant_velocity}}
"""
    )
    world = build_world_for_run(sample(parse_scenario(text, "e.yaml"), 0), toy_log, CONFIG)
    ego = world.initial_ego
    assert (ego.x, ego.y, ego.yaw, ego.speed) == pytest.approx((22.0, 0.5, 0.0, 6.0))
    a, b = world.initial_actors.index("a"), world.initial_actors.index("b")
    acts = world.initial_actors
    assert (acts.x[a], acts.y[a], acts.speed[a]) == pytest.approx((32.0, 3.5, 3.0))
    assert (acts.x[b], acts.y[b], acts.speed[b]) == pytest.approx((72.0, 7.0, 7.0))
    assert abs(math.remainder(acts.yaw[b] - math.pi, 2 * math.pi)) < 1e-3
    assert acts.length[b] == pytest.approx(8.0) and world.categories[b] == "vehicle.truck"
    assert world.config.start_time == 2.0 and world.config.episode_seconds == 8.0
    assert script_summary(world) == {"a": "idm", "b": "constant_velocity"}


def test_waypoints_in_the_ego_start_frame(toy_log: LogSegment) -> None:
    states = _run(
        toy_log,
        """\
  - id: w
    asset: sedan
    lane: ego
    offset: 20
    behaviour:
      type: waypoints
      points: [{t: 0, x: 20, y: 0}, {t: 2, x: 30, y: 4}]
""",
        steps=30,
    )
    # ego starts at x = 10 (log time 1 s): waypoints are at world (30, 0) -> (40, 4)
    at2 = states[20]
    assert (at2.actors.x[0], at2.actors.y[0]) == pytest.approx((40.0, 4.0), abs=1e-6)
    assert (states[-1].actors.x[0], states[-1].actors.y[0]) == pytest.approx((40.0, 4.0), abs=1e-6)


def test_log_actors_removed_overridden_and_kept(toy_log: LogSegment) -> None:
    s = parse_scenario(
        HEAD.replace(
            "{remove: all}",
            """
  remove: all
  override: [{id: car_ahead, trigger: {type: time, at: 0.5}, then: {type: stop, decel: 4}}]""",
        ),
        "l.yaml",
    )
    world = build_world_for_run(sample(s, 0), toy_log, CONFIG)
    assert world.initial_actors.ids == ("car_ahead",)
    sc = world.scripts[0]
    assert (sc.before, sc.behaviour, sc.trigger.kind, dict(sc.params)) == (
        "log_replay",
        "stop",
        "time",
        {"decel": 4.0},
    )
    kept = parse_scenario(HEAD.replace("log_actors: {remove: all}\n", ""), "k.yaml")
    assert set(build_world_for_run(sample(kept, 0), toy_log, CONFIG).initial_actors.ids) == set(
        toy_log.tracks
    )


def test_trigger_watching_another_actor(toy_log: LogSegment) -> None:
    s = parse_scenario(
        HEAD
        + """actors:
  - {id: a, asset: sedan, lane: ego_left, offset: 20, speed: 5}
  - id: b
    asset: sedan
    lane: ego
    offset: 60
    trigger: {type: distance_to_ego, distance: 4, actor: a}
    then: {type: stop}
""",
        "w.yaml",
    )
    run = sample(s, 0)
    if "actor" not in TRIGGERS.get("distance_to_ego").defaults:  # a simulator without watched actors
        with pytest.raises(ScenarioError, match=r"w.yaml:12: actors\[1\]\.trigger\.actor: found 'a'") as info:
            build_world_for_run(run, toy_log, CONFIG)
        assert info.value.exit_code == 2
        return
    state = initial_state(build_world_for_run(run, toy_log, CONFIG))
    veh = CONFIG.vehicle
    first_close = None
    for _ in range(60):
        state = transition(state, KEEP_SPEED)
        a = state.actors.index("a")
        ex = state.ego.x + veh.centre_offset * math.cos(state.ego.yaw)
        ey = state.ego.y + veh.centre_offset * math.sin(state.ego.yaw)
        if first_close is None and math.hypot(state.actors.x[a] - ex, state.actors.y[a] - ey) <= 4.0:
            first_close = state.time
    fired = state.actors.triggered_at[state.actors.index("b")]
    assert first_close is not None and fired == pytest.approx(first_close, abs=0.11)
    assert math.isnan(state.actors.triggered_at[state.actors.index("a")])


def test_unsampled_scenario_is_refused(toy_log: LogSegment) -> None:
    from jwmsim.scenario.jitter import ConcreteScenario

    s = parse_scenario(HEAD + "actors:\n  - {id: a, asset: sedan, offset: {uniform: [10, 20]}}\n", "u.yaml")
    with pytest.raises(ConfigError, match=r"still has ranges at \['actors\[0\].offset'\]"):
        build_world_for_run(ConcreteScenario(s, 0, 0), toy_log, CONFIG)


def test_jittered_runs_reproduce_exactly_in_closed_loop(toy_log: LogSegment) -> None:
    actors = """\
  - id: cutter
    asset: sedan
    lane: ego_left
    offset: {uniform: [15, 30]}
    speed_ratio: {uniform: [0.7, 0.9]}
    trigger: {type: distance_to_ego, distance: {uniform: [10, 15]}, ahead_only: true}
    then: {type: cut_in, duration: {uniform: [1.5, 2.5]}}
"""

    def trajectory(run: int) -> np.ndarray:
        return np.array(
            [[st.actors.x[0], st.actors.y[0], st.ego.x] for st in _run(toy_log, actors, 50, run_index=run)]
        )

    a, b, c = trajectory(3), trajectory(3), trajectory(4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)

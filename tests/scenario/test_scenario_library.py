"""The shipped scenario library parses, validates against its log, and samples."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from jwmsim.scenario import jittered_paths, load_scenario, sample
from jwmsim.scenario.jitter import is_concrete
from jwmsim.scenario.loader import load_seed_log
from jwmsim.scenario.params import Choice, Uniform
from jwmsim.scenario.validate import validate_against_log

REPO = Path(__file__).resolve().parents[2]
LIBRARY = ["cut_in", "hard_brake", "pedestrian_crossing", "oncoming", "stalled_vehicle"]
REAL = REPO / "scenarios" / "real" / "pandaset_pedestrian_crossing.yaml"


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_parses_with_jitter(name: str) -> None:
    s = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    assert s.name == name and s.log.builtin and 0 < s.duration <= 60 and s.runs >= 10
    assert jittered_paths(s), "every library scenario jitters something"
    run = sample(s, 0)
    assert is_concrete(run.scenario) and set(run.draws) == set(jittered_paths(s))
    for path, value in run.draws.items():
        assert not isinstance(value, (Uniform, Choice)), path


def test_library_ranges_follow_closed_loop_doc() -> None:
    cut = load_scenario(REPO / "scenarios" / "cut_in.yaml").actors[0]
    assert cut.then is not None and cut.then.type == "cut_in"
    assert 1.5 <= cut.then.duration.lo and cut.then.duration.hi <= 2.5  # ~2 s lane change
    assert 10 <= cut.trigger.distance.lo and cut.trigger.distance.hi <= 30  # 10-30 m ahead
    brake = load_scenario(REPO / "scenarios" / "hard_brake.yaml").actors[0]
    assert brake.then.decel.hi <= 8.0 and 15 <= brake.offset.lo and brake.offset.hi <= 30
    walk = load_scenario(REPO / "scenarios" / "pedestrian_crossing.yaml").actors[0]
    assert 1.3 <= walk.then.speed.lo and walk.then.speed.hi <= 2.0
    assert 6 <= walk.trigger.distance.lo and walk.trigger.distance.hi <= 15
    onc = load_scenario(REPO / "scenarios" / "oncoming.yaml").actors[0]
    assert onc.offset.hi - onc.offset.lo == pytest.approx(10) and onc.lateral.hi == pytest.approx(0.75)
    stall = load_scenario(REPO / "scenarios" / "stalled_vehicle.yaml").actors[0]
    assert (stall.offset.hi - stall.offset.lo, stall.lateral.hi, stall.yaw.hi) == pytest.approx(
        (10, 1.5, 0.5)
    )


def test_real_log_scenario_validates(pandaset_root: Path) -> None:
    s = load_scenario(REAL)
    log = load_seed_log(s)
    assert log.name == "scene-pandaset-002"
    road = validate_against_log(s, log, REAL)
    assert road.lanes


@pytest.fixture(scope="module")
def builtin_log():
    """The built-in seed log, where it has been generated already (generating it takes ~2 min)."""
    from jwmsim.logs.procedural import DEFAULT_SEED, GENERATOR_VERSION, cache_dir
    from jwmsim.logs.procedural.write_log import VERSION

    prefix = f"seed-log-{GENERATOR_VERSION}-s{DEFAULT_SEED}-"
    done = [p for p in cache_dir().glob(prefix + "*") if (p / VERSION / "sample_data.json").is_file()]
    if not done:
        pytest.skip(
            f"the built-in seed log is not generated yet in {cache_dir()}: run `jwmsim info` once (~2 min)"
        )
    return load_seed_log(load_scenario(REPO / "scenarios" / "cut_in.yaml"))


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_validates_and_runs_on_the_builtin_log(name: str, builtin_log) -> None:
    from jwmsim.config import SimConfig
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.sim.world import expert_actions, initial_state, transition

    path = REPO / "scenarios" / f"{name}.yaml"
    s = load_scenario(path)
    validate_against_log(s, builtin_log, path)
    world = build_world_for_run(sample(s, 0), builtin_log, SimConfig(terminate_on_collision=False))
    state = initial_state(world)
    for action in expert_actions(world, 20):
        state = transition(state, action)
    assert state.step == 20 and all(a.id in world.initial_actors.ids for a in s.actors)


# --- closed loop: each scenario produces the event it exists for ----------------------------------
EVENT_RUNS = (0, 1, 2, 3)  # jittered runs per scenario


@dataclass(frozen=True)
class Trace:
    """One closed-loop run with the IDM agent, without rendering: per step (0 = start) the ego's
    route arc length ``ego_s`` [T] and the scripted actor's ``x, y, yaw, speed, s, d`` [T] (``s``:
    route arc length, ``d``: offset from the ego's start lane, left positive), its lane index and
    whether its trigger has fired; ``lane_width`` [m], the scenario's ``run``."""

    world: object
    run: object
    ego_s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    s: np.ndarray
    d: np.ndarray
    lane: np.ndarray
    triggered: np.ndarray
    ego_lane: int
    lane_yaw: np.ndarray
    actor: int


def _closed_loop(name: str, run_index: int, log) -> Trace:
    from jwmsim_agents.idm_planner import IDMPlanner

    from jwmsim.config import SimConfig
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.sim.world import initial_state, transition

    scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    run = sample(scenario, run_index)
    cfg = SimConfig(
        terminate_on_collision=False, terminate_on_offroad=False, terminate_on_route_complete=False
    )
    world = build_world_for_run(run, log, cfg)
    planner = IDMPlanner()
    planner.reset(world)
    state = initial_state(world)
    actor = state.actors.index(scenario.actors[0].id)
    ego_lane, _, _ = world.road.locate(state.ego.x, state.ego.y, state.ego.yaw)
    centre = world.road.lanes[ego_lane].centreline
    rows = []
    while True:
        a = state.actors
        # searched 10 m behind to 150 m ahead of the ego (the route may cross itself further on)
        s_a, _ = world.route.line.project_point(
            float(a.x[actor]), float(a.y[actor]), state.route_s - 10.0, state.route_s + 150.0
        )
        s_l, d_l = centre.project_point(float(a.x[actor]), float(a.y[actor]))
        rows.append(
            (
                state.route_s,
                a.x[actor],
                a.y[actor],
                a.yaw[actor],
                a.speed[actor],
                s_a,
                d_l,
                a.lane[actor],
                not math.isnan(a.triggered_at[actor]),
                centre.heading_at(s_l),
            )
        )
        if state.done:
            break
        state = transition(state, planner.act(state, None))
    assert state.reason == "time_limit" and state.time == pytest.approx(float(scenario.duration))
    cols = list(zip(*rows, strict=True))
    arr = [np.asarray(c) for c in cols]
    return Trace(
        world,
        run,
        arr[0],
        arr[1],
        arr[2],
        arr[3],
        arr[4],
        arr[5],
        arr[6],
        arr[7].astype(int),
        arr[8].astype(bool),
        ego_lane,
        arr[9],
        actor,
    )


def _draw(trace: Trace, path: str) -> float:
    return float(trace.run.draws[path])


@pytest.mark.parametrize("run_index", EVENT_RUNS)
def test_cut_in_ends_in_the_egos_lane_ahead_of_it(run_index: int, builtin_log) -> None:
    tr = _closed_loop("cut_in", run_index, builtin_log)
    w = tr.world.road.lane_width
    assert abs(abs(tr.d[0]) - w) < 0.3 and tr.s[0] > tr.ego_s[0] + 15.0  # starts beside, ahead
    fired = int(np.argmax(tr.triggered))
    assert tr.triggered.any() and np.all(tr.triggered[fired:])
    gap = tr.s[fired] - tr.ego_s[fired]
    assert 9.0 <= gap <= _draw(tr, "actors[0].trigger.distance") + 6.0  # fired near its distance
    done = fired + int(round((_draw(tr, "actors[0].then.duration") + 0.5) / tr.world.config.dt))
    assert done < len(tr.d), "the lane change has time to finish within the scenario"
    # from the end of the lane change on: in the ego's lane, ahead of the ego
    assert np.all(np.abs(tr.d[done:]) < 0.35) and np.all(tr.lane[done:] == tr.ego_lane)
    assert np.all(tr.s[done:] > tr.ego_s[done:] + 2.0)


@pytest.mark.parametrize("run_index", EVENT_RUNS)
def test_hard_brake_leader_decelerates_as_scripted_in_front(run_index: int, builtin_log) -> None:
    tr = _closed_loop("hard_brake", run_index, builtin_log)
    dt = tr.world.config.dt
    decel, at = _draw(tr, "actors[0].then.decel"), _draw(tr, "actors[0].trigger.at")
    stand = _draw(tr, "actors[0].then.stop_duration")
    assert np.all(np.abs(tr.d) < 0.3) and np.all(tr.s > tr.ego_s + 3.0)  # in the ego's lane, ahead
    fired = int(np.argmax(tr.triggered))
    assert at <= fired * dt <= at + 2 * dt + 1e-9  # checked at the start of each step
    brake = -np.diff(tr.speed) / dt
    assert np.all(brake[: fired - 1] < 1.0)  # no braking before the trigger
    assert brake.max() == pytest.approx(decel, abs=0.05)  # the scripted deceleration
    stopped = np.flatnonzero(tr.speed < 0.05)
    assert len(stopped) and stopped[0] * dt < at + tr.speed[fired] / decel + 0.3 + 0.5
    # it stands for the scripted time, then drives on
    standing = stopped[stopped < stopped[0] + int(round(stand / dt)) + 3]
    assert (standing[-1] - stopped[0]) * dt == pytest.approx(stand, abs=0.25)
    if (stopped[0] * dt + stand + 1.0) < tr.world.config.episode_seconds:
        assert tr.speed[-1] > 0.5


@pytest.mark.parametrize("run_index", EVENT_RUNS)
def test_pedestrian_crosses_the_egos_path(run_index: int, builtin_log) -> None:
    tr = _closed_loop("pedestrian_crossing", run_index, builtin_log)
    lateral = _draw(tr, "actors[0].lateral")
    assert tr.d[0] == pytest.approx(lateral, abs=0.05) and tr.d[0] < -2.0  # waits at the right edge
    fired = int(np.argmax(tr.triggered))
    assert tr.triggered.any() and np.all(np.abs(np.diff(tr.d[:fired])) < 1e-6)  # waits until then
    # it steps out in front of the ego, about the trigger distance ahead
    gap = tr.s[fired] - tr.ego_s[fired]
    assert gap == pytest.approx(_draw(tr, "actors[0].trigger.distance"), abs=1.5)
    assert len(np.flatnonzero(tr.d > 0.0)), "it reaches the ego lane's centre line (the ego's path)"
    assert np.all(np.diff(tr.d[fired:]) > 0)  # walking across, right to left
    speed = np.hypot(np.diff(tr.x[fired + 1 :]), np.diff(tr.y[fired + 1 :])) / tr.world.config.dt
    assert np.median(speed) == pytest.approx(_draw(tr, "actors[0].then.speed"), abs=0.05)


@pytest.mark.parametrize("run_index", EVENT_RUNS)
def test_oncoming_car_approaches_in_the_egos_lane(run_index: int, builtin_log) -> None:
    tr = _closed_loop("oncoming", run_index, builtin_log)
    gap = tr.s - tr.ego_s
    ahead = gap > 5.0
    assert ahead[0] and gap[0] > 45.0
    k = np.flatnonzero(ahead)
    assert np.all(np.abs(tr.d[k]) <= 0.75 + 0.05)  # in the ego's lane, within the lateral jitter
    assert np.all(np.cos(tr.yaw[k] - tr.lane_yaw[k]) < -0.99)  # head-on
    assert np.all(np.diff(gap[k]) < 0)  # closing in on the ego all along
    assert np.all(tr.speed[k] == pytest.approx(_draw(tr, "actors[0].speed")))


@pytest.mark.parametrize("run_index", EVENT_RUNS)
def test_stalled_vehicle_blocks_the_egos_lane(run_index: int, builtin_log) -> None:
    from jwmsim.sim.collision import box_corners

    tr = _closed_loop("stalled_vehicle", run_index, builtin_log)
    assert np.all(tr.speed == 0.0) and np.ptp(tr.x) == 0.0 and np.ptp(tr.y) == 0.0  # stands still
    a = tr.world.initial_actors
    i = tr.actor
    corners = box_corners(
        float(tr.x[0]), float(tr.y[0]), float(tr.yaw[0]), float(a.length[i]), float(a.width[i])
    )
    _, d = tr.world.road.lanes[tr.ego_lane].centreline.project(corners)
    half = tr.world.road.lane_width / 2
    assert d.min() < half and d.max() > -half, "part of the van is in the ego's lane"
    # the ego stays behind it for the whole scenario (it cannot drive through)
    front = tr.world.config.vehicle.length - tr.world.config.vehicle.rear_overhang
    assert np.all(tr.ego_s + front < tr.s[0])
    assert tr.ego_s[-1] - tr.ego_s[0] > 5.0  # it drove up to the van


def test_real_log_scenario_runs(pandaset_root: Path) -> None:
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.sim.world import initial_state, transition

    s = load_scenario(REAL)
    state = initial_state(build_world_for_run(sample(s, 0), load_seed_log(s)))
    walker = state.actors.index("walker")
    for _ in range(20):
        state = transition(state, [0.0, 0.0])
    assert state.actors.active[walker]


def test_red_light_runner_runs_its_red_across_the_egos_green(builtin_log) -> None:
    """crossing_vehicle: the runner's tail crosses the side road's stop line while that light is
    red and the ego's is green; the logged ego, which does not react, is hit."""
    import numpy as np

    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.sim.signals import red_light_runs
    from jwmsim.sim.world import episode_metrics, expert_actions, initial_state, transition

    scenario = load_scenario(REPO / "scenarios" / "crossing_vehicle.yaml")
    world = build_world_for_run(sample(scenario, 0), builtin_log)
    state = initial_state(world)
    i = state.actors.index("runner")
    ran, ego_phases = [], set()
    for action in expert_actions(world, 60):
        before, state = state, transition(state, action)
        a, b = before.actors, state.actors
        back = 0.5 * b.length[i] * np.array([np.cos(b.yaw[i]), np.sin(b.yaw[i])])
        tail_before = (a.x[i] - back[0], a.y[i] - back[1])
        ran += red_light_runs(
            world.signals, tail_before, (b.x[i] - back[0], b.y[i] - back[1]), b.yaw[i], state.log_time
        )
        ego_phases.add(state.signal_phases["cross/main:fwd"])
        if state.done:
            break
    assert ran == ["cross/cross:fwd"] and ego_phases == {"green"}
    assert state.reason == "collision" and state.episode.collisions[0].actor_id == "runner"
    assert episode_metrics(state)["red_lights"] == 0.0

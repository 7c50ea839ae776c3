"""The shipped scenario library parses, validates against its log, and samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.scenario import jittered_paths, load_scenario, sample
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
    assert run.scenario.is_concrete() and set(run.draws) == set(jittered_paths(s))
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


def test_real_log_scenario_runs(pandaset_root: Path) -> None:
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.sim.world import initial_state, transition

    s = load_scenario(REAL)
    state = initial_state(build_world_for_run(sample(s, 0), load_seed_log(s)))
    walker = state.actors.index("walker")
    for _ in range(20):
        state = transition(state, [0.0, 0.0])
    assert state.actors.active[walker]

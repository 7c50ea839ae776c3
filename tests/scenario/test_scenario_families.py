"""Every built-in scenario family loads, validates against its log and runs (briefly)."""

from __future__ import annotations

import pytest

from jwmsim.planning import make_planner
from jwmsim.scenario import load_scenario, sample
from jwmsim.scenario.build import build_world_for_run
from jwmsim.scenario.library import library_dir
from jwmsim.scenario.loader import load_seed_log, with_duration
from jwmsim.scenario.validate import validate_against_log
from jwmsim.sim.world import episode_metrics, initial_state, transition

FAMILIES = sorted(p.stem for p in library_dir().glob("*.yaml"))


def test_the_library_has_at_least_twelve_families():
    assert len(FAMILIES) >= 12
    for name in (
        "cut_in",
        "crossing_vehicle",
        "oncoming_left_turn",
        "pedestrian_behind_parked",
        "stop_and_go",
        "merge_dense",
        "cyclist_swerve",
        "obstacle_lane_change",
    ):
        assert name in FAMILIES


@pytest.mark.parametrize("name", FAMILIES)
def test_family_loads_validates_and_runs(name):
    scenario = with_duration(load_scenario(library_dir() / f"{name}.yaml"), 1.0)
    assert scenario.description and scenario.runs >= 1 and scenario.actors
    log = load_seed_log(scenario)
    validate_against_log(scenario, log, name)
    world = build_world_for_run(sample(scenario, 0, scenario.seed), log)
    assert world.config.max_steps == 10
    planner = make_planner("idm")
    planner.reset(world)
    state = initial_state(world)
    while not state.done:
        state = transition(state, planner.act(state, None))
    scores = episode_metrics(state)
    assert 0.0 <= scores["pdms"] <= 1.0 and state.step <= 10

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

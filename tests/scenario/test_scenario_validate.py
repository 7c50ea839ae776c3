"""Checks against the seed log: actor ids, trigger references, start time, lanes, the log itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.logs.segment import LogSegment
from jwmsim.scenario import ScenarioError, load_scenario
from jwmsim.scenario.lanes import StartPose, resolve_lane
from jwmsim.scenario.loader import load_seed_log
from jwmsim.scenario.validate import ego_start_pose, validate_against_log
from jwmsim.sim.map import build_road_map

BASE = """\
version: 1
log: {dataroot: nowhere}
ego: {start_time: 2.0}
duration: 8
log_actors:
  remove: [walker_1]
  override:
    - id: car_ahead
      behaviour: {type: idm}
      trigger: {type: time, at: 1.0}
      then: {type: hard_brake, decel: 6}
actors:
  - id: cutter
    asset: sedan
    lane: ego_left
    offset: 10
    behaviour: {type: idm}
    trigger: {type: distance_to_ego, distance: 12, actor: car_ahead}
    then: {type: cut_in, target_lane: ego}
"""


def _check(tmp_path: Path, text: str, log: LogSegment) -> ScenarioError | None:
    file = tmp_path / "s.yaml"
    file.write_text(text)
    s = load_scenario(file)
    try:
        validate_against_log(s, log, file)
    except ScenarioError as err:
        return err
    return None


def test_valid_against_the_toy_log(tmp_path: Path, toy_log: LogSegment) -> None:
    assert _check(tmp_path, BASE, toy_log) is None


def test_lane_keywords_resolve(toy_log: LogSegment) -> None:
    road = build_road_map(toy_log)
    refs = ("ego", "ego_left", "ego_adjacent", "oncoming", "back")
    on_main = {ref: road.lanes[resolve_lane(road, ref, StartPose(20.0, 0.0, 0.0))].id for ref in refs}
    assert on_main == {
        "ego": "main",
        "ego_left": "fast",
        "ego_adjacent": "fast",
        "oncoming": "back",
        "back": "back",
    }
    on_fast = {
        ref: road.lanes[resolve_lane(road, ref, StartPose(20.0, 3.5, 0.0))].id
        for ref in ("ego", "ego_adjacent")
    }
    assert on_fast == {"ego": "fast", "ego_adjacent": "main"}  # no left neighbour: the right one


def test_ego_start_pose_applies_offset(tmp_path: Path, toy_log: LogSegment) -> None:
    file = tmp_path / "o.yaml"
    file.write_text(
        BASE.replace("{start_time: 2.0}", "{start_time: 2.0, offset: {longitudinal: 3, lateral: 1}}")
    )
    pose = ego_start_pose(load_scenario(file), toy_log)
    assert (pose.x, pose.y, pose.yaw) == pytest.approx((23.0, 1.0, 0.0))


CASES = [
    (
        "unknown-log-actor-removed",
        ("remove: [walker_1]", "remove: [walker_2]"),
        6,
        "log_actors.remove[0]",
        "'walker_2', which is not an actor of the log 'toy-road'",
        "did you mean 'walker_1'?",
    ),
    (
        "unknown-log-actor-overridden",
        ("- id: car_ahead", "- id: car_ahed"),
        8,
        "log_actors.override[0].id",
        "'car_ahed'",
        "did you mean 'car_ahead'?",
    ),
    (
        "trigger-on-missing-actor",
        ("actor: car_ahead", "actor: ghost"),
        18,
        "actors[0].trigger.actor",
        "'ghost', which is neither in the log nor inserted",
        "an inserted actor id ['cutter']",
    ),
    (
        "trigger-on-removed-actor",
        ("actor: car_ahead", "actor: walker_1"),
        18,
        "actors[0].trigger.actor",
        "'walker_1', a log actor this scenario removes",
        "drop it from log_actors.remove",
    ),
    (
        "start-time-outside-log",
        ("{start_time: 2.0}", "{start_time: {uniform: [5, 14]}}"),
        3,
        "ego.start_time",
        "14 s",
        "within the log 'toy-road': 0 to 10.00 s",
    ),
    (
        "lane-that-does-not-exist",
        ("lane: ego_left", "lane: ego_right"),
        15,
        "actors[0].lane",
        "only 0 lane(s) to its right",
        "'ego_left'",
    ),
    (
        "lane-id-unknown",
        ("lane: ego_left", "lane: fastt"),
        15,
        "actors[0].lane",
        "neither a lane keyword nor a lane id of this map (did you mean 'fast'?)",
        "a lane reference that exists",
    ),
    (
        "cut-in-target-lane",
        ("target_lane: ego}", "target_lane: oncoming_2}"),
        19,
        "actors[0].then.target_lane",
        "no 2. lane running against the ego",
        "'oncoming'",
    ),
    (
        "inserted-id-clashes-with-log",
        ("- id: cutter", "- id: car_ahead"),
        13,
        "actors[0].id",
        "'car_ahead', the id of an actor of the log",
        "log_actors.override",
    ),
    (
        "override-behaviour-wrong-kind",
        (
            "remove: [walker_1]\n  override:\n    - id: car_ahead\n      behaviour: {type: idm}",
            "remove: []\n  override:\n    - id: walker_1\n      behaviour: {type: cut_in}",
        ),
        9,
        "log_actors.override[0].behaviour.type",
        "'cut_in' for log actor 'walker_1' (pedestrian)",
        "pedestrian_crossing",
    ),
]


@pytest.mark.parametrize(
    ("change", "line", "path", "found", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_log_checks_are_located_and_explained(
    tmp_path: Path,
    toy_log: LogSegment,
    change: tuple[str, str],
    line: int,
    path: str,
    found: str,
    expected: str,
) -> None:
    old, new = change
    assert old in BASE
    err = _check(tmp_path, BASE.replace(old, new, 1), toy_log)
    assert err is not None and err.exit_code == 2
    issue = next((i for i in err.issues if i.path == path), None)
    assert issue is not None, str(err)
    assert issue.line == line and issue.file == str(tmp_path / "s.yaml"), str(err)
    assert found in issue.found and expected in issue.expected, str(err)


def test_log_not_found(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(BASE)
    s = load_scenario(file)
    with pytest.raises(ScenarioError) as info:
        load_seed_log(s)
    issue = info.value.issues[0]
    assert info.value.exit_code == 2 and issue.line == 2 and issue.path == "log.dataroot"
    assert f"resolved to {tmp_path / 'nowhere'}, which does not exist" in issue.found
    assert "nuScenes-format dataroot" in issue.expected


def test_not_a_dataroot(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    file = tmp_path / "s.yaml"
    file.write_text(BASE.replace("dataroot: nowhere", "dataroot: empty"))
    with pytest.raises(
        ScenarioError, match=r"s.yaml:2: log.dataroot: found 'empty': no nuScenes table folder"
    ):
        load_seed_log(load_scenario(file))


def test_unknown_scene_of_real_log(tmp_path: Path, pandaset_root: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(
        BASE.replace("{dataroot: nowhere}", f"{{dataroot: {pandaset_root}, scene: scene-pandaset-02}}")
    )
    with pytest.raises(ScenarioError) as info:
        load_seed_log(load_scenario(file))
    issue = info.value.issues[0]
    assert issue.path == "log.scene" and issue.line == 2
    assert "did you mean 'scene-pandaset-002'?" in issue.expected


CLEAR = """\
version: 1
log: {dataroot: nowhere}
ego: {start_time: 2.0}
log_actors:
  clear: CLEAR
  override: [{id: walker_1, behaviour: {type: hold}}]
actors:
  - {id: a, asset: sedan, offset: 10, trigger: {type: ttc, ttc: 2, actor: ACTOR}, then: {type: stop}}
"""


def test_clear_removes_log_actors_on_the_lanes_near_the_ego(tmp_path: Path, toy_log: LogSegment) -> None:
    from jwmsim.scenario.clearing import cleared_actor_ids

    road = build_road_map(toy_log)

    def cleared(clear: str) -> list[str]:
        file = tmp_path / "c.yaml"
        file.write_text(CLEAR.replace("CLEAR", clear).replace("ACTOR", "walker_1"))
        s = load_scenario(file)
        validate_against_log(s, toy_log, file, road)
        return cleared_actor_ids(s, toy_log, road, ego_start_pose(s, toy_log))

    # at t = 2 s the ego is at x = 20 and car_ahead at x = 46 on the same lane; walker_1 is overridden
    assert cleared("{lanes: [ego], ahead: 30}") == ["car_ahead"]
    assert cleared("{lanes: [ego], ahead: 20}") == []
    assert cleared("{lanes: [ego_left, oncoming], ahead: 100, behind: 50}") == []


def test_clear_with_a_missing_lane_and_trigger_on_a_cleared_actor(
    tmp_path: Path, toy_log: LogSegment
) -> None:
    err = _check(tmp_path, CLEAR.replace("CLEAR", "{lanes: [ego, ego_right]}").replace("ACTOR", "a"), toy_log)
    assert err is not None and [i.path for i in err.issues] == ["log_actors.clear.lanes[1]"]
    assert err.issues[0].line == 5 and "only 0 lane(s) to its right" in err.issues[0].found
    err = _check(
        tmp_path, CLEAR.replace("CLEAR", "{lanes: [ego], ahead: 50}").replace("ACTOR", "car_ahead"), toy_log
    )
    assert err is not None and [i.path for i in err.issues] == ["actors[0].trigger.actor"]
    assert err.issues[0].line == 8 and "'car_ahead', a log actor this scenario removes" in err.issues[0].found

"""Scenario edits of the viewer (jwmsim.viewer.editing) on the pure model and the rebuilt world."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from viewer_options import small_options

from jwmsim.scenario import load_scenario
from jwmsim.scenario.dump import same_scenario
from jwmsim.viewer import editing
from jwmsim.viewer.commands import COMMANDS
from jwmsim.viewer.controls import BINDINGS, help_lines
from jwmsim.viewer.session import Session


@pytest.fixture()
def session(scenario_file: Path):
    s = Session(load_scenario(scenario_file), small_options(render="none"))
    yield s
    s.close()


def _start_xy(session: Session, aid: str) -> np.ndarray:
    a = session.world.initial_actors
    i = a.ids.index(aid)
    return np.array([a.x[i], a.y[i]])


def test_every_key_has_a_command_and_a_help_line() -> None:
    for b in BINDINGS:
        assert b.command in COMMANDS or b.command in ("drive", "select", "scrub"), b
    assert len(help_lines()) == len(BINDINGS)
    keys = [k for b in BINDINGS for k in b.keys]
    assert len(keys) == len(set(keys))  # no key bound twice


def test_insert_on_another_lane_lands_where_dropped(session: Session) -> None:
    road, ego = session.world.road, session.world.initial_ego
    lane_idx, s_ego, _ = road.locate(ego.x, ego.y, ego.yaw)
    # a point 12 m behind the ego's start, on any other lane near it
    others = [i for i in range(len(road.lanes)) if i != lane_idx]
    for i in others:
        line = road.lanes[i].centreline
        s, d = line.project_point(ego.x, ego.y)
        if abs(d) < 12 and 15 < s < line.length - 15:
            x, y, _ = line.frenet_to_xy(s - 12, 0.5)
            break
    else:
        pytest.skip("no second lane near the ego in this town")
    scenario, aid = editing.insert_asset(session.scenario, session.world, "suv", (x, y))
    session.apply(scenario)
    assert np.hypot(*(_start_xy(session, aid) - (x, y))) < 0.05
    assert scenario.actors[-1].lane == road.lanes[i].id or scenario.actors[-1].lane == "ego"


def test_move_keeps_a_lane_keyword_on_the_same_lane(session: Session) -> None:
    x, y = _start_xy(session, "leader")
    yaw = float(session.world.initial_actors.yaw[session.world.initial_actors.ids.index("leader")])
    target = (x + 3 * math.cos(yaw), y + 3 * math.sin(yaw))
    edited = editing.move_actor(session.scenario, session.concrete, session.world, "leader", *target)
    assert edited.actors[0].lane == "ego"
    session.apply(edited)
    assert np.hypot(*(_start_xy(session, "leader") - target)) < 0.05


def test_behaviour_and_trigger_cycles(session: Session) -> None:
    assert "cut_in" not in editing.behaviour_cycle("pedestrian", False)
    assert "log_replay" in editing.behaviour_cycle("vehicle", True)
    assert "log_replay" not in editing.behaviour_cycle("vehicle", False)
    s = session.scenario
    seen = []
    for _ in range(len(editing.TRIGGER_CYCLE)):
        s = editing.cycle_trigger(s, "leader", "vehicle")
        seen.append(s.actors[0].trigger.type if s.actors[0].trigger else None)
        if s.actors[0].trigger is None:
            assert s.actors[0].then is None
        else:
            session.apply(s)  # every trigger builds
    assert seen == ["distance_to_ego", "ttc", "ego_speed", None, "time"]
    s = editing.cycle_then(s, "leader", "vehicle")
    assert s.actors[0].then.type != "hard_brake"
    s = editing.adjust_trigger(s, "leader", -1.0)
    assert s.actors[0].trigger.at == 1.5


def test_log_actor_edits_use_overrides_and_remove(session: Session) -> None:
    log_id = next(
        i for i, k in zip(session.world.initial_actors.ids, session.world.log_index, strict=True) if k >= 0
    )
    s = editing.change_speed(session.scenario, log_id, 4.0, 1.0)
    assert s.log_actors.override[0].id == log_id and s.log_actors.override[0].behaviour.speed == 5.0
    session.apply(s)
    s = editing.cycle_behaviour(s, log_id, "vehicle")
    assert s.log_actors.override[0].behaviour.type != "idm" or len(s.log_actors.override) == 1
    s = editing.remove_actor(s, log_id)
    assert log_id in s.log_actors.remove and not s.log_actors.override
    session.apply(s)
    assert log_id not in session.world.initial_actors.ids
    with pytest.raises(editing.EditError, match="log actor"):
        editing.move_actor(s, session.concrete, session.world, session.world.initial_actors.ids[0], 0.0, 0.0)


def test_edits_are_valid_models_that_save_unchanged(session: Session, tmp_path: Path) -> None:
    from jwmsim.scenario.dump import dump_scenario

    s, aid = editing.insert_asset(session.scenario, session.world, "traffic_cone")
    s = editing.cycle_behaviour(s, aid, "static")
    written = dump_scenario(s, tmp_path / "e.yaml")
    assert same_scenario(written, s) and same_scenario(load_scenario(tmp_path / "e.yaml"), s)


def test_bad_edit_leaves_the_session_as_it_was(session: Session) -> None:
    from jwmsim.errors import JwmsimError

    before = session.scenario
    bad = before.model_copy(update={"actors": [before.actors[0].model_copy(update={"lane": "ego_left_9"})]})
    with pytest.raises(JwmsimError):
        session.apply(bad)
    assert session.scenario is before and session.state.step == 0

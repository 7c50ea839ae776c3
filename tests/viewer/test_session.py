"""The viewer's timeline: scrubbing back restores recorded states; stepping forward again
re-simulates them exactly; a new action branches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from viewer_options import small_options

from jwmsim.scenario import load_scenario
from jwmsim.sim.sim_state import SimState
from jwmsim.viewer.session import Session


def assert_same_state(a: SimState, b: SimState) -> None:
    assert a.step == b.step and a.time == b.time
    assert a.ego == b.ego
    for field in ("x", "y", "yaw", "speed", "active", "triggered_at"):
        np.testing.assert_array_equal(getattr(a.actors, field), getattr(b.actors, field))
    assert a.actors.behaviours == b.actors.behaviours
    assert dict(a.last.metrics) == dict(b.last.metrics) if a.last else b.last is None


@pytest.fixture()
def session(scenario_file: Path):
    s = Session(load_scenario(scenario_file), small_options())
    yield s
    s.close()


def test_scrub_back_and_replay_gives_the_same_states_and_images(session: Session) -> None:
    for _ in range(8):
        assert session.step()
    recorded = [m.state for m in session.timeline]
    images = [m.observation["CAM_FRONT"].copy() for m in session.timeline]
    assert recorded[-1].actors.triggered_at[recorded[-1].actors.ids.index("leader")] < np.inf
    session.seek(2)
    assert session.cursor == 2 and session.env.state is recorded[2]
    for k in range(3, 9):
        assert session.step()
        assert_same_state(session.state, recorded[k])
        np.testing.assert_array_equal(session.moment.observation["CAM_FRONT"], images[k])
    assert len(session.timeline) == 9


def test_seek_forward_resimulates_and_keeps_the_future(session: Session) -> None:
    for _ in range(6):
        session.step()
    final = session.state
    session.seek(0)
    session.seek(6)
    assert_same_state(session.state, final)
    assert len(session.timeline) == 7


def test_a_new_action_from_the_past_branches(session: Session) -> None:
    for _ in range(6):
        session.step()
    before = session.timeline[4].state
    session.seek(3)
    session.step(np.array([-1.0, 0.0], np.float32))  # hard brake instead of the planner
    assert len(session.timeline) == 5 and session.at_end
    assert session.state.ego.speed < before.ego.speed


def test_apply_rebuilds_from_the_edited_scenario(session: Session) -> None:
    session.step()
    edited = session.scenario.model_copy(update={"runs": 5, "seed": 4})
    session.apply(edited)
    assert session.cursor == 0 and len(session.timeline) == 1 and session.scenario.seed == 4


def test_unknown_render_path_is_refused_with_the_known_names() -> None:
    from jwmsim.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown render path 'dreams'") as err:
        small_options(render="dreams")
    assert "skeleton" in err.value.hint and "none" in err.value.hint


def test_apply_keep_time_resimulates_the_users_driving(session: Session) -> None:
    brake = np.array([-0.3, 0.2], np.float32)
    for _ in range(3):
        session.step(brake)  # the user drives
    for _ in range(2):
        session.step()  # the planner drives
    before = [m.state for m in session.timeline]
    leader = session.scenario.actors[0]
    edited = session.scenario.model_copy(
        update={"actors": [leader.model_copy(update={"speed": 2.0, "speed_ratio": None})]}
    )
    session.apply(edited, keep_time=True)
    assert session.cursor == 5 and session.state.time == pytest.approx(0.5)
    for k in range(1, 4):  # the user's steps: same actions, the ego moves as before
        assert session.timeline[k].state.ego == before[k].ego
        assert not session.timeline[k].by_planner
    assert session.timeline[4].by_planner and session.timeline[5].by_planner
    i = session.state.actors.ids.index("leader")
    assert session.world.initial_actors.speed[i] == 2.0

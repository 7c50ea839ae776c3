"""The simulation core on the real PandaSet log (skipped where ../shared/data lacks it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jwmsim.config import SimConfig
from jwmsim.sim import build_world, episode_metrics, expert_actions, initial_state, transition


def test_expert_replay_on_the_real_log(pandaset_log):
    world = build_world(pandaset_log, SimConfig(episode_seconds=5.8))
    assert world.road.source == "derived" and world.road.drivable_source == "log"
    assert "ego" in world.road.lane_ids and len(world.initial_actors) == len(pandaset_log.tracks)
    actions = expert_actions(world)
    assert np.all(np.abs(actions) <= 1.0)
    state = initial_state(world)
    while not state.done:
        state = transition(state, actions[state.step])
        p = pandaset_log.ego_pose_at(state.log_time).translation
        assert math.hypot(state.ego.x - p[0], state.ego.y - p[1]) < 0.05
        # log actors sit at their annotated poses while annotated (released after the last keyframe)
        a = state.actors
        for i in np.flatnonzero(a.active)[:5]:
            tr = pandaset_log.tracks[a.ids[i]]
            if tr.is_present(state.log_time):
                assert tr.pose_at(state.log_time).translation[:2] == pytest.approx([a.x[i], a.y[i]], abs=1e-6)
            else:
                assert a.behaviours[i] in ("idm", "hold", "constant_velocity")
    assert state.reason == "time_limit"
    scores = episode_metrics(state)
    assert scores["nc"] == 1.0 and scores["dac"] == 1.0 and scores["ep"] == pytest.approx(1.0, abs=0.02)
    # the logged driving is comfortable with the default 5-sample derivative window
    assert scores["c"] == 1.0 and scores["pdms"] == pytest.approx(1.0, abs=0.01)
    # the route is what the expert covers in the episode: the expert completes it
    assert world.route.length == pytest.approx(state.episode.progress_max, abs=0.1)
    assert (scores["rc"], scores["hd_score"], scores["pdms"]) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("seconds", [2.0, 4.0])
def test_expert_completes_shorter_episodes_of_the_real_log(pandaset_log, seconds):
    world = build_world(pandaset_log, SimConfig(episode_seconds=seconds))
    actions = expert_actions(world)
    state = initial_state(world)
    while not state.done:
        state = transition(state, actions[state.step])
    scores = episode_metrics(state)
    assert state.reason == "time_limit"
    assert (scores["rc"], scores["hd_score"], scores["pdms"]) == (1.0, 1.0, 1.0)


def test_traffic_carries_on_after_the_real_log(pandaset_log):
    cfg = SimConfig(
        episode_seconds=15.0,
        terminate_on_collision=False,
        terminate_on_offroad=False,
        terminate_on_route_complete=False,
    )
    world = build_world(pandaset_log, cfg)
    actions = expert_actions(world)
    state = initial_state(world)
    while not state.done:
        state = transition(state, actions[state.step] if state.step < len(actions) else (0.0, 0.0))
    a = state.actors
    assert state.reason == "time_limit" and a.active.sum() > 10
    assert {"idm", "hold"} & set(a.behaviours)
    for k in ("x", "y", "yaw", "speed"):
        assert np.all(np.isfinite(getattr(a, k)[a.active]))

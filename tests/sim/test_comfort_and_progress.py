"""nuPlan's comfort (Savitzky-Golay filtered signals) and NAVSIM's EP, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from jwmsim.config import ComfortThresholds, SimConfig
from jwmsim.sim.comfort import comfort_signals, comfort_violations, comfortable, is_comfortable
from jwmsim.sim.metrics import episode_ep, navsim_progress_ratio, pdms
from jwmsim.sim.state import EpisodeAccumulator

DT = 0.1
BOUNDS = ComfortThresholds()


def _violations(yaw, lon, lat=None):
    lat = np.zeros_like(lon) if lat is None else lat
    return comfort_violations(comfort_signals(yaw, lon, lat, DT), BOUNDS)


def test_constant_acceleration_is_comfortable_and_filters_exactly():
    n = 30
    sig = comfort_signals(np.zeros(n), np.full(n, 1.0), np.zeros(n), DT)
    # a polynomial of degree <= the filter order passes through unchanged: a = 1, jerks 0
    assert sig["lon_accel"] == pytest.approx(np.ones(n))
    assert sig["lon_jerk"] == pytest.approx(np.zeros(n), abs=1e-9)
    assert is_comfortable(np.zeros(n), np.full(n, 1.0), np.zeros(n), DT, BOUNDS)


def test_braking_beyond_the_bound_for_the_whole_window_fails_lon_accel_only():
    n = 20
    assert _violations(np.zeros(n), np.full(n, -5.0)) == {"lon_accel": pytest.approx(-5.0)}


def test_lon_jerk_of_a_linear_ramp():
    # a(t) = 0.2 + 5 t over 0.4 s: inside [-4.05, 2.40] but lon jerk 5 > 4.13 (exact for SG);
    # the jerk magnitude, 5, is inside 8.37
    t = np.arange(5) * DT
    v = _violations(np.zeros(5), 0.2 + 5.0 * t)
    assert set(v) == {"lon_jerk"} and v["lon_jerk"] == pytest.approx(5.0)


def test_yaw_rate_and_yaw_acceleration():
    t = np.arange(5) * DT
    assert _violations(1.0 * t, np.zeros(5)) == {"yaw_rate": pytest.approx(1.0)}  # 1.0 > 0.95 rad/s
    v = _violations(0.5 * 2.0 * t**2, np.zeros(5))  # yaw acc 2.0 > 1.93, yaw rate <= 0.8
    assert set(v) == {"yaw_accel"} and v["yaw_accel"] == pytest.approx(2.0)


def test_a_short_spike_is_smoothed_away_as_nupLan_does():
    # one sample of -6 m/s^2 in a steady drive: the raw value breaks the bound, the 8-sample
    # filter keeps it inside (the per-step causal metric would flag it)
    lon = np.zeros(40)
    lon[20] = -6.0
    assert is_comfortable(np.zeros(40), lon, np.zeros(40), DT, BOUNDS)
    lon[15:25] = -6.0  # a full second of it is not
    assert not is_comfortable(np.zeros(40), lon, np.zeros(40), DT, BOUNDS)


def test_batched_rows_match_single_trajectories():
    rng = np.random.default_rng(0)
    lon = rng.normal(0, 2.0, (6, 25))
    yaw = np.cumsum(rng.normal(0, 0.03, (6, 25)), axis=1)
    batch = comfortable(comfort_signals(yaw, lon, np.zeros_like(lon), DT), BOUNDS)
    single = [is_comfortable(yaw[i], lon[i], np.zeros(25), DT, BOUNDS) for i in range(6)]
    assert list(batch) == single


def test_navsim_progress_ratio():
    assert navsim_progress_ratio(30.0, 40.0, 5.0) == pytest.approx(0.75)
    assert navsim_progress_ratio(50.0, 40.0, 5.0) == 1.0  # farther than the reference: clipped
    assert navsim_progress_ratio(3.0, 4.0, 5.0) == 1.0  # both below the 5 m threshold
    assert navsim_progress_ratio(-2.0, 10.0, 5.0) == 0.0


def test_episode_ep_multiplies_the_ego_progress_by_nc_and_dac():
    cfg = SimConfig()
    acc = EpisodeAccumulator(steps=10, progress_last=40.0, reference_last=30.0)
    assert episode_ep(acc, 100.0, cfg) == 1.0
    half = EpisodeAccumulator(steps=10, nc=0.5, progress_last=40.0, reference_last=30.0)
    assert episode_ep(half, 100.0, cfg) == pytest.approx(20.0 / 30.0)
    crashed = EpisodeAccumulator(steps=10, nc=0.0, progress_last=40.0, reference_last=30.0)
    assert episode_ep(crashed, 100.0, cfg) == 0.0 and pdms(crashed, 100.0, cfg) == 0.0
    # no reference: the last step's ratio to the logged ego
    assert episode_ep(EpisodeAccumulator(steps=3, ep=0.4), 100.0, cfg) == 0.4
    slow = EpisodeAccumulator(steps=10, progress_last=24.0, reference_last=32.0)
    # PDMS = (5 * 0.75 + 5 * 1 + 2 * 1) / 12 (no trace: C from the steps, 1)
    assert pdms(slow, 100.0, cfg) == pytest.approx((5 * 0.75 + 5 + 2) / 12)


def test_logged_expert_keeps_c_and_ep_with_the_pdm_closed_reference():
    from jwmsim.ep_reference import with_reference
    from jwmsim.logs.nuscenes import load_nuscenes_log
    from jwmsim.logs.procedural import default_log_path
    from jwmsim.sim import build_world, episode_metrics, expert_actions, initial_state, transition

    world = with_reference(build_world(load_nuscenes_log(default_log_path()), SimConfig(episode_seconds=8.0)))
    assert world.route.reference is not None and world.route.reference[-1] > 5.0
    actions = expert_actions(world)
    state = initial_state(world)
    while not state.done:
        state = transition(state, actions[min(state.step, len(actions) - 1)])
    scores = episode_metrics(state)
    assert scores["c"] == 1.0 and scores["ep"] == 1.0 and scores["pdms"] == 1.0

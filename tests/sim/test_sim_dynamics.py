"""Kinematic bicycle, its inverse, the action mapping and the waypoint controller."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jwmsim.config import SimConfig, VehicleLimits
from jwmsim.errors import JwmsimError
from jwmsim.sim.actions import (
    ActionError,
    controls_from_action,
    denormalise,
    denormalise_waypoints,
    normalise,
    normalise_waypoints,
    track_waypoints,
    validate_action,
)
from jwmsim.sim.dynamics import actions_from_poses, bicycle_step, inverse_bicycle, states_from_poses
from jwmsim.sim.state import EgoState

LIM = VehicleLimits()
DT = 0.1


def rollout(ego: EgoState, controls) -> list[EgoState]:
    out = [ego]
    for a, d in controls:
        out.append(bicycle_step(out[-1], a, d, DT, LIM))
    return out


def test_straight_constant_acceleration_matches_kinematics():
    states = rollout(EgoState(0.0, 0.0, 0.0, 5.0), [(2.0, 0.0)] * 20)
    end = states[-1]
    assert end.speed == pytest.approx(5.0 + 2.0 * 2.0)
    assert end.x == pytest.approx(5.0 * 2.0 + 0.5 * 2.0 * 2.0**2)
    assert end.y == pytest.approx(0.0) and end.yaw == pytest.approx(0.0)
    assert end.accel == pytest.approx(2.0)


def test_constant_steer_drives_a_circle_of_the_bicycle_radius():
    steer = 0.2
    radius = LIM.wheelbase / math.tan(steer)
    states = rollout(EgoState(0.0, 0.0, 0.0, 8.0), [(0.0, steer)] * 200)
    # the rear axle stays on the circle centred at (0, radius)
    dist = [math.hypot(s.x, s.y - radius) for s in states]
    assert np.allclose(dist, radius, atol=0.05)
    assert states[-1].yaw_rate == pytest.approx(8.0 / radius)
    assert states[-1].lat_accel == pytest.approx(8.0**2 / radius)


def test_braking_stops_without_reversing_and_limits_clip():
    states = rollout(EgoState(0.0, 0.0, 0.0, 3.0), [(-100.0, 5.0)] * 10)
    assert states[1].accel == pytest.approx(-LIM.max_decel)  # clipped to -8 m/s^2
    assert states[1].steer == pytest.approx(LIM.max_steer)
    assert all(s.speed >= 0 for s in states)
    assert states[-1].speed == 0.0
    x_stop = states[-1].x
    assert states[-2].x == pytest.approx(x_stop)  # stands still once stopped
    fast = rollout(EgoState(0.0, 0.0, 0.0, 39.9), [(4.0, 0.0)] * 5)
    assert fast[-1].speed == pytest.approx(LIM.max_speed)


def test_steer_rate_limit():
    lim = VehicleLimits(max_steer_rate=0.5)
    s = bicycle_step(EgoState(0.0, 0.0, 0.0, 5.0), 0.0, 0.6, DT, lim)
    assert s.steer == pytest.approx(0.05)


def test_inverse_bicycle_is_exact_on_model_rollouts():
    rng = np.random.default_rng(0)
    controls = [
        (float(a), float(d)) for a, d in zip(rng.uniform(-3, 3, 40), rng.uniform(-0.3, 0.3, 40), strict=True)
    ]
    states = rollout(EgoState(1.0, 2.0, 0.3, 6.0), controls)
    yaw = np.unwrap([s.yaw for s in states])
    speed = np.array([s.speed for s in states])
    accel, steer = inverse_bicycle(yaw, speed, DT, LIM.wheelbase)
    replay = rollout(states[0], list(zip(accel, steer, strict=True)))
    assert np.allclose([s.x for s in replay], [s.x for s in states], atol=1e-9)
    assert np.allclose([s.y for s in replay], [s.y for s in states], atol=1e-9)
    assert np.allclose(accel, [c[0] for c in controls], atol=1e-9)


def test_actions_from_logged_poses_reproduce_a_curved_path():
    t = np.arange(0, 6.01, DT)
    radius, speed = 30.0, 6.0 + 0.5 * t  # speeding up on a circle
    arc = 6.0 * t + 0.25 * t**2
    xy = np.stack([radius * np.sin(arc / radius), radius * (1 - np.cos(arc / radius))], 1)
    yaw = arc / radius
    accel, steer = actions_from_poses(xy, yaw, DT, LIM)
    _, v = states_from_poses(xy, yaw, DT)
    replay = rollout(EgoState(xy[0, 0], xy[0, 1], yaw[0], v[0]), list(zip(accel, steer, strict=True)))
    err = np.hypot([s.x for s in replay] - xy[:, 0], [s.y for s in replay] - xy[:, 1])
    assert err.max() < 0.15
    assert np.allclose(v, speed, atol=0.05)


def test_normalised_action_maps_asymmetrically_and_back():
    assert denormalise(np.array([1.0, 1.0]), LIM) == (pytest.approx(4.0), pytest.approx(0.6))
    assert denormalise(np.array([-1.0, -0.5]), LIM) == (pytest.approx(-8.0), pytest.approx(-0.3))
    acc = np.array([-8.0, -2.0, 0.0, 1.0, 4.0])
    steer = np.array([-0.6, -0.1, 0.0, 0.3, 0.6])
    n = normalise(acc, steer, LIM)
    back = np.array([denormalise(a, LIM) for a in n])
    assert np.allclose(back[:, 0], acc) and np.allclose(back[:, 1], steer)


@pytest.mark.parametrize(
    "bad", [[np.nan, 0.0], [0.0, np.inf], [0.0], [0.0, 0.0, 0.0], [[0.0, 0.0], [1, 1]], "up"]
)
def test_bad_actions_raise_a_clear_value_error(bad):
    with pytest.raises(ActionError) as err:
        validate_action(bad, SimConfig())
    assert isinstance(err.value, ValueError) and isinstance(err.value, JwmsimError)
    assert "action" in str(err.value)


def test_waypoint_actions_are_validated_and_flat_form_accepted():
    cfg = SimConfig(action_type="waypoints", num_waypoints=3)
    wp = validate_action(np.arange(6.0), cfg)
    assert wp.shape == (3, 2)
    with pytest.raises(ActionError, match=r"\(3, 2\)"):
        validate_action(np.zeros((4, 2)), cfg)
    with pytest.raises(ActionError, match="NaN"):
        validate_action(np.full((3, 2), np.nan), cfg)


def test_waypoint_actions_are_normalised_onto_the_spec_ranges():
    cfg = SimConfig(action_type="waypoints", num_waypoints=2, waypoint_x_range=(0.0, 40.0))
    corners = denormalise_waypoints(np.array([[-1.0, -1.0], [1.0, 1.0]]), cfg)
    assert corners.tolist() == [[0.0, -20.0], [40.0, 20.0]]
    metres = np.array([[5.0, 0.5], [10.0, -1.0]])
    np.testing.assert_allclose(denormalise_waypoints(normalise_waypoints(metres, cfg), cfg), metres)
    assert normalise_waypoints(np.array([[100.0, 0.0]]), cfg).tolist() == [[1.0, 0.0]]  # clipped
    assert np.all(validate_action(np.full(4, 3.0), cfg) == 1.0)  # out-of-box actions are clipped
    ego = EgoState(0.0, 0.0, 0.0, 5.0)
    got = controls_from_action(validate_action(normalise_waypoints(metres, cfg), cfg), ego, cfg)
    assert got == pytest.approx(track_waypoints(ego, metres, cfg.waypoint_dt, cfg.vehicle))
    with pytest.raises(JwmsimError, match="waypoint_x_range"):
        SimConfig(waypoint_x_range=(10.0, 5.0))


def test_waypoint_controller_tracks_a_turn_and_a_speed():
    # target: 10 m/s straight ahead -> accelerate, no steering
    a, d = track_waypoints(EgoState(0, 0, 0, 5.0), np.array([[5.0, 0.0], [10.0, 0.0]]), 0.5, LIM)
    assert a > 0 and d == pytest.approx(0.0)
    # follow a left circle of radius 20 m given as waypoints every 0.5 s at 8 m/s
    radius, v = 20.0, 8.0
    ego = EgoState(0.0, 0.0, 0.0, v)
    for _ in range(60):
        s_now = math.atan2(ego.x, radius - ego.y) * radius
        ang = (s_now + v * 0.5 * np.arange(1, 5)) / radius
        pts = np.stack([radius * np.sin(ang), radius * (1 - np.cos(ang))], 1)
        c, s = math.cos(ego.yaw), math.sin(ego.yaw)
        rel = pts - [ego.x, ego.y]
        local = np.stack([rel[:, 0] * c + rel[:, 1] * s, -rel[:, 0] * s + rel[:, 1] * c], 1)
        acc, steer = track_waypoints(ego, local, 0.5, LIM)
        ego = bicycle_step(ego, acc, steer, DT, LIM)
    assert abs(math.hypot(ego.x, ego.y - radius) - radius) < 0.5
    assert ego.speed == pytest.approx(v, abs=0.3)

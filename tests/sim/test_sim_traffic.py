"""Traffic: log replay, release to IDM, IDM following, scripted behaviours and triggers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_logs import LANE_W, curve_road, straight_road, straight_track

from jwmsim.config import SimConfig
from jwmsim.errors import ConfigError
from jwmsim.registry import DuplicateNameError, Registry
from jwmsim.sim import (
    BEHAVIOURS,
    ActorScript,
    EgoStart,
    InsertedActor,
    TriggerSpec,
    build_world,
    initial_state,
    register_behaviour,
    transition,
)
from jwmsim.sim.behaviours import hard_brake_decel
from jwmsim.sim.traffic import find_leaders

CFG = SimConfig(terminate_on_collision=False, terminate_on_offroad=False, route_extension=400.0)


def run(world, steps: int, action=(0.0, 0.0)):
    state = initial_state(world)
    states = [state]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        state = transition(state, action, rng)
        states.append(state)
    return states


def test_log_replay_matches_the_interpolated_tracks():
    tracks = {
        "lead": straight_track("lead", 30.0, 0.0, 8.0),
        "late": straight_track("late", 60, 3.5, 5, t_start=2.0),
    }
    log = straight_road(tracks=tracks)
    states = run(build_world(log, CFG), 40)
    for st in states[::7]:
        a = st.actors
        for aid in ("lead", "late"):
            i = a.index(aid)
            tr = log.tracks[aid]
            assert bool(a.active[i]) == tr.is_present(st.log_time)
            if a.active[i]:
                assert a.x[i] == pytest.approx(tr.pose_at(st.log_time).translation[0])
                assert a.speed[i] == pytest.approx(np.linalg.norm(tr.velocity_at(st.log_time)[:2]))
    assert states[-1].actors.behaviours[0] == "log_replay"


def test_actors_leave_early_or_are_released_to_idm_after_the_log():
    tracks = {
        "lead": straight_track("lead", 30.0, 0.0, 8.0),
        "gone": straight_track("gone", 50, 3.5, 5, t_end=3.0),
    }
    log = straight_road(tracks=tracks)
    world = build_world(log, CFG)
    states = run(world, 90)  # 9 s: 3 s past the log's 6 s
    gone, lead = states[0].actors.index("gone"), states[0].actors.index("lead")
    assert states[29].actors.active[gone] and not states[31].actors.active[gone]
    end = states[-1].actors
    assert end.behaviours[lead] == "idm" and end.active[lead]
    # keeps its logged speed (8 m/s) along its lane: 30 + 8 * 9 m
    assert end.x[lead] == pytest.approx(30.0 + 8.0 * 9.0, abs=0.5)
    assert end.y[lead] == pytest.approx(0.0, abs=1e-6) and end.speed[lead] == pytest.approx(8.0, abs=0.05)
    # a released car that has to stop stays an IDM driver (not parked for good)
    wall = InsertedActor("wall", pose=(125.0, 0.0, 0.0), script=ActorScript("hold", before="hold"))
    states = run(build_world(log, CFG, inserted=[wall]), 250, action=(-1.0, 0.0))
    assert states[-1].actors.speed[lead] < 0.1
    assert 125.0 - 4.6 - states[-1].actors.x[lead] == pytest.approx(CFG.idm.min_gap, abs=0.5)
    assert states[-1].actors.behaviours[lead] == "idm"
    # without release the lead vanishes with the log
    states = run(build_world(log, SimConfig(release_at_log_end=False, terminate_on_collision=False)), 70)
    assert not states[-1].actors.active[lead]


def test_idm_follower_stops_behind_a_standing_car_without_contact():
    inserted = [
        InsertedActor(
            "stalled", lane="ego", offset=60.0, speed=0.0, script=ActorScript("hold", before="hold")
        ),
        InsertedActor("follower", lane="ego", offset=20.0, speed=12.0),
    ]
    states = run(build_world(straight_road(), CFG, inserted=inserted), 150, action=(-1.0, 0.0))
    a = states[-1].actors
    f, s = a.index("follower"), a.index("stalled")
    gaps = [st.actors.x[s] - st.actors.x[f] - 4.6 for st in states]
    assert min(gaps) > 0.5  # never touches
    assert a.speed[f] == pytest.approx(0.0, abs=0.05)
    assert gaps[-1] == pytest.approx(CFG.idm.min_gap, abs=1.0)


def test_idm_actor_behind_the_ego_brakes_for_it():
    inserted = [InsertedActor("behind", lane="ego", offset=-20.0, speed=10.0)]
    states = run(build_world(straight_road(), CFG, inserted=inserted), 100, action=(-0.3, 0.0))  # ego stops
    a = states[-1].actors
    ego_rear = states[-1].ego.x - CFG.vehicle.rear_overhang
    assert a.speed[0] == pytest.approx(0.0, abs=0.05)
    assert 0.5 < ego_rear - (a.x[0] + 2.3) < 4.0
    assert not states[-1].episode.collisions


def test_cut_in_ends_in_the_ego_lane_ahead_of_the_ego():
    cut = InsertedActor(
        "cutter",
        lane="ego_left",
        offset=15.0,
        speed=10.0,
        script=ActorScript(
            "cut_in", {"duration": 2.0, "speed": 11.0}, TriggerSpec("time", {"at": 1.0}), "idm"
        ),
    )
    states = run(build_world(straight_road(), CFG, inserted=[cut]), 50)
    a0 = states[10].actors
    assert a0.y[0] == pytest.approx(LANE_W, abs=1e-6)  # still in its lane at the trigger
    assert states[11].actors.triggered_at[0] == pytest.approx(1.0)
    mid = states[20].actors  # 1 s into the 2 s change: half way (quintic profile is symmetric)
    assert mid.y[0] == pytest.approx(LANE_W / 2, abs=0.1)
    end = states[-1]
    assert end.actors.y[0] == pytest.approx(0.0, abs=0.05)  # in the ego lane
    assert end.actors.x[0] - end.ego.x > 5.0  # ahead of the ego
    assert end.actors.behaviours[0] == "cut_in"


def test_hard_brake_follows_its_deceleration_profile():
    v0 = 10.0
    lead = InsertedActor(
        "lead",
        lane="ego",
        offset=30.0,
        speed=v0,
        script=ActorScript(
            "hard_brake", {"decel": 8.0, "ramp": 0.5}, TriggerSpec("time", {"at": 0.5}), "idm", {"speed": v0}
        ),
    )
    states = run(build_world(straight_road(), CFG, inserted=[lead]), 40, action=(-1.0, 0.0))
    speeds = np.array([st.actors.speed[0] for st in states])
    assert np.allclose(speeds[:6], v0, atol=1e-6)
    # analytic: v(t) = v0 - integral of the profile (ramp 0 -> 8 m/s^2 over 0.5 s, then constant)
    v_expect = v0
    for k in range(6, 41):
        tau_mid = (k - 5) * 0.1 - 0.05
        v_expect = max(0.0, v_expect - hard_brake_decel(tau_mid, 8.0, 0.5) * 0.1)
        assert speeds[k] == pytest.approx(v_expect, abs=1e-9)
    assert speeds[-1] == 0.0
    assert min(st.actors.accel[0] for st in states) == pytest.approx(-8.0)


def test_pedestrian_crosses_the_ego_path():
    ped = InsertedActor(
        "ped",
        category="human.pedestrian.adult",
        size_wlh=(0.6, 0.6, 1.8),
        pose=(40.0, -3.0, 0.0),
        script=ActorScript(
            "pedestrian_crossing", {"speed": 1.5}, TriggerSpec("distance_to_ego", {"distance": 30.0}), "hold"
        ),
    )
    states = run(build_world(straight_road(), CFG, inserted=[ped]), 60, action=(-0.5, 0.0))
    ys = [st.actors.y[0] for st in states]
    assert ys[0] == pytest.approx(-3.0)
    assert states[-1].actors.triggered_at[0] >= 0.0
    assert ys[-1] > 1.5  # crossed from the right of the ego lane to its left
    assert states[-1].actors.speed[0] == pytest.approx(1.5)
    assert states[-1].actors.x[0] == pytest.approx(40.0)  # straight across (angle pi/2)


def test_waypoints_behaviour_interpolates_timed_points():
    wp = InsertedActor(
        "wp",
        pose=(20.0, 3.5, 0.0),
        script=ActorScript(
            "waypoints", {"points": [(0, 20, 3.5), (2, 40, 3.5), (3, 40, 0.0)]}, before="hold"
        ),
    )
    states = run(build_world(straight_road(), CFG, inserted=[wp]), 40)
    a = [st.actors for st in states]
    assert a[10].x[0] == pytest.approx(30.0) and a[20].x[0] == pytest.approx(40.0)
    assert a[25].y[0] == pytest.approx(1.75) and a[40].y[0] == pytest.approx(0.0)
    assert a[25].yaw[0] == pytest.approx(-math.pi / 2)


def test_triggers_ttc_ego_speed_and_other_actor():
    scripts = {
        "a": InsertedActor(
            "a",
            lane="ego",
            offset=40.0,
            speed=0.0,
            script=ActorScript("idm", {"speed": 5.0}, TriggerSpec("ttc", {"ttc": 2.0}), "hold"),
        ),
        "b": InsertedActor(
            "b",
            lane="ego_left",
            offset=0.0,
            speed=0.0,
            script=ActorScript("idm", {"speed": 5.0}, TriggerSpec("ego_speed", {"max": 5.0}), "hold"),
        ),
        "c": InsertedActor(
            "c",
            lane="ego_left",
            offset=60.0,
            speed=0.0,
            script=ActorScript(
                "idm",
                {"speed": 5.0},
                TriggerSpec("distance_to_ego", {"distance": 10.0, "actor": "a"}),
                "hold",
            ),
        ),
    }
    states = run(build_world(straight_road(), CFG, inserted=list(scripts.values())), 80, action=(-0.1, 0.0))
    trig = states[-1].actors.triggered_at
    # ttc: the ego (10 m/s) reaches a 2 s time gap to the standing car: bumper gap 40 - 3.8 - 2.3 - 2 * v
    st_a = next(st for st in states if not math.isnan(st.actors.triggered_at[0]))
    prev = states[st_a.step - 1]
    gap = prev.actors.x[0] - 2.3 - (prev.ego.x + 3.8)
    assert gap / prev.ego.speed <= 2.0 + 1e-9
    before = states[st_a.step - 2]
    assert (before.actors.x[0] - 2.3 - (before.ego.x + 3.8)) / before.ego.speed > 2.0
    # ego speed drops below 5 m/s after 6.25 s of -0.8 m/s^2
    ego_slow = next(st for st in states if st.ego.speed <= 5.0)
    assert trig[1] == pytest.approx(ego_slow.time, abs=0.11)
    assert not math.isnan(trig[2])  # "c" fired on the ego's distance to "a"


def test_registries_refuse_duplicates_and_unknown_parameters():
    with pytest.raises(DuplicateNameError):
        register_behaviour("idm")(lambda actor, ctx, params: actor)
    reg: Registry[int] = Registry("thing")
    reg.add("x", 1)
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.add("x", 2)
    with pytest.raises(ConfigError, match="unknown behaviour 'teleport'"):
        BEHAVIOURS.get("teleport")
    bad = InsertedActor("z", script=ActorScript("cut_in", {"durationn": 2.0}))
    with pytest.raises(ConfigError, match="durationn"):
        build_world(straight_road(), CFG, inserted=[bad])
    with pytest.raises(ConfigError, match="needs parameter"):
        build_world(
            straight_road(),
            CFG,
            inserted=[
                InsertedActor("z", script=ActorScript("idm", trigger=TriggerSpec("time"), before="hold"))
            ],
        )
    with pytest.raises(ConfigError, match="unknown actor"):
        build_world(straight_road(), CFG, scripts={"nobody": ActorScript("hold")})
    with pytest.raises(ConfigError, match="remove unknown"):
        build_world(straight_road(), CFG, removed=["nobody"])


def test_removed_actors_and_traffic_mode_idm():
    tracks = {"lead": straight_track("lead", 25.0, 0.0, 8.0), "other": straight_track("other", 10, 3.5, 9)}
    log = straight_road(tracks=tracks)
    world = build_world(log, CFG, removed=["other"])
    assert world.initial_actors.ids == ("lead",)
    # reactive traffic: the lead follows IDM from the first step (keeps 8 m/s, not the log)
    world = build_world(log, SimConfig(traffic_mode="idm", terminate_on_collision=False))
    states = run(world, 20)
    assert states[-1].actors.behaviours == ("idm", "idm")
    assert states[-1].actors.x[0] == pytest.approx(25.0 + 8.0 * 2.0, abs=0.3)


def test_transitions_are_deterministic():
    cut = InsertedActor(
        "cutter",
        lane="ego_left",
        offset=10.0,
        speed=11.0,
        script=ActorScript("cut_in", trigger=TriggerSpec("distance_to_ego", {"distance": 12}), before="idm"),
    )
    log = straight_road(tracks={"lead": straight_track("lead", 30.0, 0.0, 8.0)})
    a = run(build_world(log, CFG, inserted=[cut]), 30, action=(0.3, 0.05))
    b = run(build_world(log, CFG, inserted=[cut]), 30, action=(0.3, 0.05))
    for sa, sb in zip(a, b, strict=True):
        assert sa.ego == sb.ego
        for k in ("x", "y", "yaw", "speed", "active"):
            assert np.array_equal(getattr(sa.actors, k), getattr(sb.actors, k))


def test_ego_start_offset_and_inserted_actor_yaw():
    oncoming = InsertedActor(
        "oncoming",
        lane="ego",
        offset=30.0,
        yaw=math.pi,
        speed=5.0,
        script=ActorScript("constant_velocity", before="constant_velocity"),
    )
    world = build_world(
        straight_road(), CFG, inserted=[oncoming], ego_start=EgoStart(5.0, 0.5, 0.1, speed=4.0)
    )
    ego = world.initial_ego
    assert (ego.x, ego.y, ego.yaw, ego.speed) == pytest.approx((5.0, 0.5, 0.1, 4.0))
    a = world.initial_actors
    # placed 30 m along the lane from the ego's actual start, facing it
    assert a.x[0] == pytest.approx(35.0, abs=0.05) and a.yaw[0] == pytest.approx(-math.pi)
    states = run(world, 10)
    assert states[-1].actors.x[0] == pytest.approx(35.0 - 5.0, abs=1e-6)
    assert states[1].last.measurements.progress == pytest.approx(0.4, abs=0.01)  # from the actual start
    with pytest.raises(ConfigError, match="speed"):
        build_world(straight_road(), CFG, ego_start=EgoStart(speed=-1.0))


@pytest.mark.parametrize("release", [True, False])
def test_log_follower_is_released_to_idm_when_closing_in_on_the_ego(release):
    log = straight_road(tracks={"follower": straight_track("follower", -15.0, 0.0, 10.0)})
    cfg = SimConfig(terminate_on_collision=False, release_on_conflict=release)
    states = run(build_world(log, cfg), 50, action=(-0.5, 0.0))  # the ego brakes at 4 m/s^2
    contacts = [e for st in states[1:] for e in st.last.measurements.collisions]
    end = states[-1].actors
    if release:
        assert not contacts and end.released[0] and end.behaviours[0] == "idm"
        first = next(st for st in states if st.actors.released[0])
        assert 1 <= first.step < 30
        assert end.speed[0] < 1.0  # IDM creeps up to its standstill gap
    else:
        assert len(contacts) == 1 and not contacts[0].at_fault  # the log drives into the ego
        assert not end.released.any()


def test_idm_follows_its_leader_round_a_bend():
    # on a 40 m radius bend the leader 30 m ahead along the lane is ~11 m off the follower's heading
    stalled = InsertedActor("stalled", lane="ego", offset=45.0, script=ActorScript("hold", before="hold"))
    follower = InsertedActor("follower", lane="ego", offset=12.0, speed=8.0)
    cfg = SimConfig(terminate_on_collision=False, terminate_on_offroad=False)
    world = build_world(curve_road(radius=40.0), cfg, inserted=[stalled, follower])
    # seen from the start, along the lane (straight ahead it would be hidden ~11 m to the left)
    gap, lead_speed, leader = find_leaders(world.initial_actors, world.initial_ego, world)
    assert leader[1] == 0 and gap[1] == pytest.approx(45.0 - 12.0 - 4.6, abs=0.05) and lead_speed[1] == 0.0
    states = run(world, 80, action=(-1.0, 0.0))
    a = states[-1].actors
    assert a.speed[1] < 0.5
    gap = a.s[0] - a.s[1] - 4.6
    assert 0.5 < gap < 4.0
    assert not any(st.actors.s[0] - st.actors.s[1] < 4.6 for st in states)

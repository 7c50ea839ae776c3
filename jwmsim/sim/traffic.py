"""One step of traffic: triggers, leader search, log replay (vectorised) and scripted behaviours.

Every actor decides from the state at the start of the step (the ego included), so the update is
simultaneous and independent of actor order. An actor's behaviour this step is its script's
``behaviour`` once its trigger has fired (or if it has none), else the script's ``before``. A log
actor replayed past its track's end is *released* when its track lasted until the end of the log's
annotations (:func:`~jwmsim.sim.behaviours.release_behaviour`: vehicles to IDM lane following) and
disappears (inactive) when it left the scene earlier. With ``SimConfig.release_on_conflict`` a
log-replayed vehicle whose nearest agent ahead is the ego and that would reach it within 3 s (or
is closer than the standstill gap) is released to IDM at once and for good: the log cannot react
to an ego that drives differently, IDM can. Vehicles and cyclists on a lane treat the stop line of a
light they must stop for (:func:`jwmsim.sim.signals.must_stop`) as a standing leader.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from jwmsim.sim.behaviours import BEHAVIOURS, ActorView, BehaviourContext, make_view, release_behaviour
from jwmsim.sim.collision import ego_centre
from jwmsim.sim.signals import lane_stop_gaps
from jwmsim.sim.state import ACTOR_ARRAYS, EMPTY, ActorsState, EgoState
from jwmsim.sim.triggers import TRIGGERS

if TYPE_CHECKING:
    from jwmsim.sim.context import World

LATERAL_MARGIN = 0.3  # [m] extra half-width when deciding whether an agent is in one's path
RELEASE_TTC = 3.0  # [s] a log vehicle closing in on the ego faster than this is released to IDM
# the behaviour a log-replayed vehicle switches to, for good, when its log would drive it into the ego
CONFLICT_RELEASE = "idm"


def find_leaders(
    actors: ActorsState, ego: EgoState, world: World
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest agent ahead of every actor, the ego included.

    An agent ``j`` is ahead of ``i`` when its centre is in front of ``i``'s centre, within
    ``idm.lookahead``, and laterally closer than the two half-widths plus 0.3 m. "In front" and
    "laterally" are measured along the lane (Frenet ``s``, ``d``) when both are on the same lane
    (the ego: on the lane nearest its box centre), else in ``i``'s heading frame (straight ahead),
    where agents heading more than 90 degrees away from ``i`` (oncoming) are left out.

    Returns:
        ``gap`` ``[N]`` bumper-to-bumper [m] (inf: no leader) and ``lead_speed`` ``[N]`` the leader's
        speed along the follower's heading [m/s], ``leader`` ``[N]`` its index (``N``: the ego,
        -1: none).
    """
    n = len(actors)
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    veh = world.config.vehicle
    ex, ey = ego_centre(ego.x, ego.y, ego.yaw, veh)
    ox = np.append(actors.x, ex)
    oy = np.append(actors.y, ey)
    oyaw = np.append(actors.yaw, ego.yaw)
    ospeed = np.append(actors.speed, ego.speed)
    olen = np.append(actors.length, veh.length)
    owid = np.append(actors.width, veh.width)
    oact = np.append(actors.active, True)
    c, s = np.cos(actors.yaw)[:, None], np.sin(actors.yaw)[:, None]
    dx, dy = ox[None, :] - actors.x[:, None], oy[None, :] - actors.y[:, None]
    lon = dx * c + dy * s
    lat = -dx * s + dy * c
    on_lane = (actors.lane >= 0) & np.isfinite(actors.s)
    if on_lane.any():
        e_lane, e_s, e_d = world.road.locate(ex, ey, ego.yaw)
        olane = np.append(np.where(on_lane, actors.lane, -1), e_lane)
        os_ = np.append(actors.s, e_s)
        od = np.append(actors.d, e_d)
        same = (olane[None, :] == actors.lane[:, None]) & on_lane[:, None] & (olane[None, :] >= 0)
        lon = np.where(same, os_[None, :] - actors.s[:, None], lon)
        lat = np.where(same, od[None, :] - actors.d[:, None], lat)
    # in the heading frame an agent driving the other way is no leader: a follower turning out of
    # its lane (a cut-in) would otherwise brake for the oncoming traffic of the next lane
    oncoming = np.cos(oyaw[None, :] - actors.yaw[:, None]) < 0.0
    if on_lane.any():
        oncoming &= ~same
    cand = (
        (lon > 0)
        & oact[None, :]
        & ~oncoming
        & (np.abs(lat) < (actors.width[:, None] + owid[None, :]) / 2 + LATERAL_MARGIN)
    )
    cand &= lon < world.config.idm.lookahead
    cand[np.arange(n), np.arange(n)] = False
    gap = np.where(cand, lon - (actors.length[:, None] + olen[None, :]) / 2, np.inf)
    j = np.argmin(gap, axis=1)
    rows = np.arange(n)
    best = gap[rows, j]
    lead_speed = ospeed[j] * np.cos(oyaw[j] - actors.yaw)
    leader = np.where(np.isfinite(best), j, -1)
    return np.maximum(best, 0.0), np.where(np.isfinite(best), lead_speed, 0.0), leader


def step_traffic(
    world: World, actors: ActorsState, ego: EgoState, step: int, time: float, rng: np.random.Generator | None
) -> ActorsState:
    """The actors after one step.

    Args:
        actors / ego: state at the start of the step.
        step / time: index and episode time [s] of the state being computed.
    """
    n = len(actors)
    if n == 0:
        return actors
    dt = world.config.dt
    gap, lead_speed, leader = find_leaders(actors, ego, world)
    conflict = (
        _conflicts(actors, gap, lead_speed, leader, world) if world.config.release_on_conflict else None
    )
    if world.signals.lane_stops:  # a stop line before a red light leads like a standing car
        stop = lane_stop_gaps(
            world.signals,
            world.start_time + time - dt,
            actors.lane,
            actors.s,
            0.5 * actors.length,
            actors.speed,
            world.config.idm.comfortable_decel,
        )
        stop = np.where(_drivers(actors.kinds), stop, np.inf)
        closer = stop < gap
        gap, lead_speed = np.where(closer, stop, gap), np.where(closer, 0.0, lead_speed)
    ctx = BehaviourContext(world, step, time, dt, ego, actors, gap, lead_speed, rng)
    # every per-actor column but "released", which is carried as an array
    cols = {k: getattr(actors, k).tolist() for k in ACTOR_ARRAYS if k != "released"}
    out = {k: list(v) for k, v in cols.items()}
    behaviours = list(actors.behaviours)
    memory = list(actors.memory)
    log = world.log
    log_rows: list[int] = []
    released_now = actors.released.copy()
    for i in range(n):
        script = world.scripts[i]
        trig = cols["triggered_at"][i]
        view: ActorView | None = None
        if script.trigger is not None and math.isnan(trig) and cols["active"][i]:
            view = _view(actors, cols, i, trig, time)
            spec = TRIGGERS.get(script.trigger.kind)
            if spec.fn(view, ctx, world.trigger_params[i]):
                trig = time - dt
                out["triggered_at"][i] = trig
                view = None
        if script.trigger is None or not math.isnan(trig):
            name, params = script.behaviour, world.behaviour_params[i]
        else:
            name, params = script.before, world.before_params[i]
        beh = BEHAVIOURS.get(name)
        if beh.replays_log and conflict is not None and (released_now[i] or conflict[i]):
            # the log would drive this vehicle into the ego: it becomes an IDM driver for good
            released_now[i] = True
            name, params = CONFLICT_RELEASE, _default_params(CONFLICT_RELEASE)
            beh = BEHAVIOURS.get(name)
        if beh.replays_log:
            j = world.log_index[i]
            if j >= 0 and log.available(step) and log.present[step, j]:
                log_rows.append(i)
                if behaviours[i] != name:
                    behaviours[i], memory[i] = name, EMPTY
                continue
            released = (
                j >= 0
                and world.config.release_at_log_end
                and bool(log.releasable[j])
                and step > log.end_step[j]
                and log.end_step[j] >= 0
            )
            if not released:
                out["active"][i] = False
                out["speed"][i] = 0.0
                out["accel"][i] = 0.0
                behaviours[i], memory[i] = name, EMPTY
                continue
            # decided from the last logged speed, so the choice stays the same at every step
            name = release_behaviour(actors.kinds[i], float(log.speed[log.end_step[j], j]))
            params = _default_params(name)
            beh = BEHAVIOURS.get(name)
        if behaviours[i] != name:
            behaviours[i], memory[i] = name, EMPTY
        if beh.still_once_started and memory[i]:  # standing still: nothing to compute
            out["speed"][i] = out["accel"][i] = 0.0
            out["active"][i] = True
            continue
        view = _view(actors, cols, i, trig, time, memory[i])
        new = beh.fn(view, ctx, params)
        for k in ("x", "y", "z", "yaw", "speed", "accel", "active", "lane", "s", "d"):
            out[k][i] = getattr(new, k)
        memory[i] = new.memory
    arrays = {k: np.asarray(v, dtype=getattr(actors, k).dtype) for k, v in out.items()}
    if log_rows:
        rows = np.asarray(log_rows)
        cols_log = world.log_index[rows]
        for k in ("x", "y", "z", "yaw", "speed", "accel"):
            arrays[k][rows] = getattr(log, k)[step, cols_log]
        arrays["active"][rows] = True
        arrays["lane"][rows] = -1
        arrays["s"][rows] = np.nan
        arrays["d"][rows] = np.nan
    return ActorsState(
        released=released_now,
        ids=actors.ids,
        kinds=actors.kinds,
        behaviours=tuple(behaviours),
        memory=tuple(memory),
        **arrays,
    )


def _conflicts(
    actors: ActorsState, gap: np.ndarray, lead_speed: np.ndarray, leader: np.ndarray, world: World
) -> np.ndarray:
    """``[N]`` bool: active vehicles / cyclists whose leader is the ego and that close in on it
    faster than IDM would accept: gap below the standstill gap, or time to contact (gap over
    closing speed) below ``RELEASE_TTC``."""
    n = len(actors)
    closing = actors.speed - lead_speed
    with np.errstate(divide="ignore", invalid="ignore"):
        ttc = np.where(closing > 0.1, gap / closing, np.inf)
    kinds = _drivers(actors.kinds)
    return (leader == n) & actors.active & kinds & ((gap < world.config.idm.min_gap) | (ttc < RELEASE_TTC))


@functools.lru_cache(maxsize=64)
def _drivers(kinds: tuple[str, ...]) -> np.ndarray:
    """``[N]`` bool: actors that drive on lanes (vehicles and cyclists)."""
    out = np.array([k in ("vehicle", "cyclist") for k in kinds], dtype=bool)
    out.setflags(write=False)
    return out


@functools.cache
def _default_params(name: str) -> Mapping[str, Any]:
    return BEHAVIOURS.get(name).resolve(None)


def _view(actors: ActorsState, cols: dict, i: int, trig: float, time: float, memory=None) -> ActorView:
    return make_view(
        index=i,
        id=actors.ids[i],
        kind=actors.kinds[i],
        length=cols["length"][i],
        width=cols["width"][i],
        height=cols["height"][i],
        x=cols["x"][i],
        y=cols["y"][i],
        z=cols["z"][i],
        yaw=cols["yaw"][i],
        speed=cols["speed"][i],
        accel=cols["accel"][i],
        active=bool(cols["active"][i]),
        lane=int(cols["lane"][i]),
        s=cols["s"][i],
        d=cols["d"][i],
        since_trigger=time - trig if not math.isnan(trig) else math.nan,
        memory=actors.memory[i] if memory is None else memory,
    )

"""The pure simulation core: build a :class:`World` from a log, then
``state = initial_state(world)`` and ``state = transition(state, action, rng)``.

A step: validate the action -> physical controls -> kinematic bicycle -> traffic (decided from the
state at the start of the step) -> measurements (collisions, drivable area, TTC, comfort, route
progress) -> sub-scores and reward terms by name -> episode aggregates and end flags. Nothing is
mutated; the same state, action and rng give the same next state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from jwmsim.config import SimConfig
from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.geometry import wrap_angle
from jwmsim.logs.segment import LogSegment, category_kind
from jwmsim.sim.actions import action_type, controls_from_action, normalise, validate_action
from jwmsim.sim.behaviours import BEHAVIOURS
from jwmsim.sim.collision import box_corners, ego_centre, ego_polygon, overlapping_actors, time_to_collision
from jwmsim.sim.context import World
from jwmsim.sim.dynamics import bicycle_step, inverse_bicycle, states_from_poses
from jwmsim.sim.log_replay import LogTraffic, resample_tracks
from jwmsim.sim.map import RoadMap, build_road_map
from jwmsim.sim.metrics import episode_metrics as _episode_metrics
from jwmsim.sim.metrics import hd_step_term, step_metrics, step_penalties
from jwmsim.sim.rewards import check_weights, reward_terms, total_reward
from jwmsim.sim.route import build_route
from jwmsim.sim.scripts import ActorScript, EgoStart, InsertedActor, TriggerSpec
from jwmsim.sim.signals import build_signal_map, red_light_runs
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.state import (
    EMPTY,
    ActorsState,
    CollisionEvent,
    EgoState,
    EpisodeAccumulator,
    StepMeasurements,
    StepRecord,
)
from jwmsim.sim.traffic import step_traffic
from jwmsim.sim.triggers import TRIGGERS


class SimulationOverError(JwmsimError, RuntimeError):
    """``transition`` was called on a state whose episode has ended."""


def _default_script(kind: str, config: SimConfig) -> ActorScript:
    if config.traffic_mode == "idm" and kind in ("vehicle", "cyclist"):
        # replay until the actor appears, then hand it to IDM at once
        return ActorScript(behaviour="idm", trigger=TriggerSpec("time", {"at": 0.0}), before="log_replay")
    return ActorScript()


def _logged_ego_state(segment: LogSegment, t: float, dt: float, wheelbase: float) -> EgoState:
    """The logged ego at ``t``: speed, acceleration and yaw rate by finite differences over ``dt``
    (one-sided at the ends of the log)."""
    t_lo, t_hi = max(t - dt, segment.ego_times[0]), min(t + dt, segment.ego_times[-1])
    p_lo, p, p_hi = segment.ego_pose_at(t_lo), segment.ego_pose_at(t), segment.ego_pose_at(t_hi)

    def rate(a, b, span: float) -> tuple[float, float]:
        if span < 1e-6:
            return math.nan, math.nan
        d = b.translation[:2] - a.translation[:2]
        dyaw = float(wrap_angle(b.yaw - a.yaw))
        heading = a.yaw + 0.5 * dyaw
        return max(0.0, float(d[0] * math.cos(heading) + d[1] * math.sin(heading)) / span), dyaw / span

    v_in, w_in = rate(p_lo, p, t - t_lo)
    v_out, w_out = rate(p, p_hi, t_hi - t)
    speeds = [v for v in (v_in, v_out) if not math.isnan(v)] or [0.0]
    yaw_rates = [w for w in (w_in, w_out) if not math.isnan(w)] or [0.0]
    speed, yaw_rate = float(np.mean(speeds)), float(np.mean(yaw_rates))
    accel = 0.0
    if not (math.isnan(v_in) or math.isnan(v_out)):
        accel = (v_out - v_in) / (0.5 * (t_hi - t_lo))
    steer = math.atan(wheelbase * yaw_rate / speed) if speed > 0.05 else 0.0
    return EgoState(
        x=float(p.translation[0]),
        y=float(p.translation[1]),
        yaw=p.yaw,
        speed=speed,
        accel=accel,
        steer=steer,
        yaw_rate=yaw_rate,
        lat_accel=speed * yaw_rate,
        z=float(p.translation[2]),
    )


def _resolve_lane(road: RoadMap, name: str, ego: EgoState) -> int:
    ego_lane, s, _ = road.locate(ego.x, ego.y, ego.yaw)
    if name in ("ego", "ego_left", "ego_right"):
        if ego_lane < 0:
            raise ConfigError(
                f"inserted actor lane {name!r}: the ego starts on no lane",
                hint=f"name a lane of the map instead: {road.lane_ids}",
            )
        if name == "ego":
            return ego_lane
        j = road.neighbour(ego_lane, name.split("_")[1], s)
        if j < 0:
            raise ConfigError(
                f"inserted actor lane {name!r}: the ego's lane has no {name.split('_')[1]} neighbour",
                hint=f"lanes of this map: {road.lane_ids}",
            )
        return j
    return road.lane_index(name)


def build_world(
    segment: LogSegment,
    config: SimConfig | None = None,
    scripts: Mapping[str, ActorScript] | None = None,
    inserted: Sequence[InsertedActor] = (),
    removed: Iterable[str] = (),
    ego_start: EgoStart | None = None,
) -> World:
    """Prepare everything static for episodes on ``segment``.

    Args:
        config: simulation settings (default :class:`SimConfig`).
        scripts: behaviour per actor id (log or inserted); others replay the log (or IDM in
            ``traffic_mode="idm"``); inserted actors default to IDM lane following.
        inserted: actors to add; removed: log actor ids to drop.
        ego_start: offset of the ego's start from its logged pose, and its start speed. Progress
            (EP, RC) counts from where the ego actually starts; inserted actors are placed relative
            to it.

    Raises:
        ConfigError: unknown actor ids, behaviours, triggers, parameters or lanes; a start time
            outside the log.
    """
    config = config or SimConfig()
    check_weights(config)
    action_type(config)  # an unknown action type is a ConfigError naming the choices
    scripts = dict(scripts or {})
    if config.start_time > segment.ego_times[-1]:
        raise ConfigError(
            f"SimConfig.start_time = {config.start_time} s is after the log's end "
            f"({segment.ego_times[-1]:.2f} s) of {segment.name!r}",
            hint="choose a start time inside the log",
        )
    road = build_road_map(segment, config.lane_width, config.lane_extension)
    route = build_route(
        segment, road, config.start_time, config.dt, config.route_extension, config.episode_seconds
    )
    log = resample_tracks(segment, config.start_time, config.dt)
    removed = set(removed)
    unknown = sorted(removed - set(log.ids))
    if unknown:
        raise ConfigError(
            f"cannot remove unknown log actor(s) {unknown}", hint=f"actors of the log: {list(log.ids)}"
        )
    keep = [j for j, i in enumerate(log.ids) if i not in removed]
    ids = [log.ids[j] for j in keep] + [a.id for a in inserted]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            "inserted actor ids must be unique and differ from the log's actor ids",
            hint=f"ids in use: {sorted(ids)}",
        )
    stray = sorted(set(scripts) - set(ids))
    if stray:
        raise ConfigError(f"scripts name unknown actor(s) {stray}", hint=f"actors: {ids}")
    kinds = [log.kinds[j] for j in keep] + [category_kind(a.category) for a in inserted]
    actor_scripts = tuple(
        scripts.get(i, _default_script(k, config) if n < len(keep) else inserted[n - len(keep)].script)
        for n, (i, k) in enumerate(zip(ids, kinds, strict=True))
    )
    bparams, pparams, tparams = [], [], []
    for i, sc in zip(ids, actor_scripts, strict=True):
        where = f"actor {i!r}: "
        bparams.append(BEHAVIOURS.get(sc.behaviour).resolve(sc.params, where))
        pparams.append(BEHAVIOURS.get(sc.before).resolve(sc.before_params, where))
        tparams.append(
            TRIGGERS.get(sc.trigger.kind).resolve(sc.trigger.params, where) if sc.trigger else EMPTY
        )
    ego = _logged_ego_state(segment, config.start_time, config.dt, config.vehicle.wheelbase)
    if ego_start is not None:
        ego = _offset_ego(ego, ego_start, config)
        s0, _ = route.line.project_point(ego.x, ego.y, route.start_s - 30.0, route.start_s + 30.0)
        route = replace(route, start_s=s0)
    log_index = np.array(keep + [-1] * len(inserted), dtype=int)
    log_index.setflags(write=False)
    actors = _initial_actors(log, keep, inserted, ids, kinds, road, ego)
    return World(
        config=config,
        segment=segment,
        road=road,
        route=route,
        log=log,
        start_time=config.start_time,
        scripts=actor_scripts,
        behaviour_params=tuple(bparams),
        before_params=tuple(pparams),
        trigger_params=tuple(tparams),
        log_index=log_index,
        categories=tuple([log.categories[j] for j in keep] + [a.category for a in inserted]),
        assets=tuple([""] * len(keep) + [a.asset for a in inserted]),
        initial_ego=replace(ego, z=route.ground_z(route.start_s)),
        initial_comfort_history=_initial_comfort_history(segment, config, ego),
        initial_actors=actors,
        reference_speed=None if ego_start is None or ego_start.speed is None else float(ego_start.speed),
        signals=build_signal_map(segment.traffic_lights, road, route.line),
    )


def _offset_ego(ego: EgoState, start: EgoStart, config: SimConfig) -> EgoState:
    c, s = math.cos(ego.yaw), math.sin(ego.yaw)
    speed = ego.speed if start.speed is None else float(start.speed)
    if not (math.isfinite(speed) and 0 <= speed <= config.vehicle.max_speed):
        raise ConfigError(
            f"ego start speed {speed} m/s is invalid", hint=f"use 0..{config.vehicle.max_speed} m/s"
        )
    yaw = float(wrap_angle(ego.yaw + start.yaw))
    changed = start.speed is not None or start.yaw != 0.0
    return replace(
        ego,
        x=ego.x + start.longitudinal * c - start.lateral * s,
        y=ego.y + start.longitudinal * s + start.lateral * c,
        yaw=yaw,
        speed=speed,
        # a re-posed ego starts from steady motion (no inherited acceleration or turn)
        accel=0.0 if changed else ego.accel,
        yaw_rate=0.0 if changed else ego.yaw_rate,
        lat_accel=0.0 if changed else ego.lat_accel,
        steer=0.0 if changed else ego.steer,
    )


def _initial_actors(
    log: LogTraffic,
    keep: list[int],
    inserted: Sequence[InsertedActor],
    ids: list[str],
    kinds: list[str],
    road: RoadMap,
    ego: EgoState,
) -> ActorsState:
    n = len(ids)
    cols = {k: np.zeros(n) for k in ("length", "width", "height", "x", "y", "z", "yaw", "speed", "accel")}
    cols["s"] = np.full(n, np.nan)
    cols["d"] = np.full(n, np.nan)
    lane = np.full(n, -1, dtype=int)
    active = np.zeros(n, dtype=bool)
    for a, j in enumerate(keep):
        w, length, h = log.size[j]
        first = int(np.argmax(log.present[:, j])) if log.present[:, j].any() else 0
        for k in ("x", "y", "z", "yaw"):
            cols[k][a] = getattr(log, k)[first, j]
        cols["speed"][a] = log.speed[0, j]
        cols["accel"][a] = log.accel[0, j]
        cols["length"][a], cols["width"][a], cols["height"][a] = length, w, h
        active[a] = bool(log.present[0, j])
    for m, spec in enumerate(inserted):
        a = len(keep) + m
        w, length, h = spec.size_wlh
        if min(w, length, h) <= 0:
            raise ConfigError(f"inserted actor {spec.id!r}: size_wlh {spec.size_wlh} must be positive")
        if spec.pose is not None:
            x, y, yaw = spec.pose
        elif spec.lane is not None:
            li = _resolve_lane(road, spec.lane, ego)
            c = road.lanes[li].centreline
            s_ego, _ = c.project_point(ego.x, ego.y)
            s = s_ego + spec.offset
            x, y, yaw = c.frenet_to_xy(s, spec.lateral)
            yaw = float(wrap_angle(yaw + spec.yaw))
            lane[a], cols["s"][a], cols["d"][a] = li, s, spec.lateral
        else:
            raise ConfigError(f"inserted actor {spec.id!r} needs a lane or a pose")
        if spec.speed < 0:
            raise ConfigError(f"inserted actor {spec.id!r}: speed {spec.speed} must be >= 0 m/s")
        cols["x"][a], cols["y"][a], cols["yaw"][a] = x, y, yaw
        cols["z"][a] = ego.z + h / 2
        cols["speed"][a] = spec.speed
        cols["length"][a], cols["width"][a], cols["height"][a] = length, w, h
        active[a] = True
    return ActorsState(
        ids=tuple(ids),
        kinds=tuple(kinds),
        active=active,
        lane=lane,
        triggered_at=np.full(n, np.nan),
        behaviours=("",) * n,
        memory=(EMPTY,) * n,
        **cols,
    )


def initial_state(world: World) -> SimState:
    """The state at step 0 (ego and actors as logged at ``world.start_time``, inserted actors
    placed)."""
    ego = world.initial_ego
    return SimState(
        world=world,
        step=0,
        time=0.0,
        ego=ego,
        prev_ego=ego,
        actors=world.initial_actors,
        route_s=world.route.start_s,
        comfort_history=world.initial_comfort_history or (_comfort_sample(ego),),
        episode=EpisodeAccumulator(
            trace=((ego.yaw, ego.accel, ego.lat_accel),), reference_last=world.route.reference_progress(0)
        ),
    )


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------
def _classify(world: World, ego: EgoState, actors: ActorsState, i: int) -> tuple[bool, str]:
    """At fault and type of a contact with actor ``i`` (rules in :mod:`jwmsim.sim.metrics`)."""
    cfg = world.config
    if ego.speed < cfg.metrics.stopped_speed:
        return False, "stopped_ego"
    if actors.speed[i] < cfg.metrics.stopped_speed:
        return True, "stopped_actor"
    lon = (actors.x[i] - ego.x) * math.cos(ego.yaw) + (actors.y[i] - ego.y) * math.sin(ego.yaw)
    if lon < 0.0:
        return False, "rear"
    if lon > cfg.vehicle.wheelbase:
        return True, "front"
    cx, cy = ego_centre(ego.x, ego.y, ego.yaw, cfg.vehicle)
    lane, _, _ = world.road.locate(cx, cy, ego.yaw)
    if lane < 0:
        return True, "lateral"
    corners = box_corners(cx, cy, ego.yaw, cfg.vehicle.length, cfg.vehicle.width)
    _, d = world.road.lanes[lane].centreline.project(corners)
    return bool(np.max(np.abs(d)) > world.road.lane_width / 2 + cfg.metrics.lane_tolerance), "lateral"


def reference_velocity(world: World, time: float) -> tuple[float, float]:
    """World-frame velocity [m/s] of the **non-reacting ego** ``time`` seconds into the episode.

    The non-reacting ego is the ego of the log, which does not react to anything the scenario adds:
    it drives the logged path with the logged speed (after the log's end: its last logged pose and
    speed held). A scenario that sets the ego's start speed makes it keep that speed instead, along
    the logged heading. NeuroNCAP's reference impact speed ``v_ref`` is this velocity relative to
    the hit actor's.
    """
    seg, dt = world.segment, world.config.dt
    # central differences over dt, kept inside the log (held after its end)
    t = min(max(world.start_time + time, seg.ego_times[0] + dt / 2), seg.ego_times[-1] - dt / 2)
    speed = world.reference_speed
    if speed is None:
        speed = seg.ego_speed_at(t, dt)
    yaw = seg.ego_pose_at(t).yaw
    return speed * math.cos(yaw), speed * math.sin(yaw)


def _measure(state: SimState, ego: EgoState, actors: ActorsState, step: int, time: float) -> StepMeasurements:
    world, cfg = state.world, state.world.config
    route, acc = world.route, state.episode
    dt = cfg.dt
    s, d = route.project(ego.x, ego.y, s_hint=state.route_s)
    progress = s - route.start_s
    # completed: as far as the expert gets in the episode (RC = 1 already within ROUTE_END_TOLERANCE)
    was_complete = acc.progress_max >= route.length
    complete = progress >= route.length and not was_complete
    touching = overlapping_actors(ego, actors, cfg.vehicle)
    events = []
    vx_e, vy_e = ego.speed * math.cos(ego.yaw), ego.speed * math.sin(ego.yaw)
    v_non_reacting = None
    for i in touching:
        aid = actors.ids[i]
        if aid in acc.collided_ids:
            continue
        at_fault, kind = _classify(world, ego, actors, int(i))
        vx_a, vy_a = actors.speed[i] * math.cos(actors.yaw[i]), actors.speed[i] * math.sin(actors.yaw[i])
        if v_non_reacting is None:
            v_non_reacting = reference_velocity(world, time)
        v_ref = math.hypot(v_non_reacting[0] - vx_a, v_non_reacting[1] - vy_a)
        events.append(
            CollisionEvent(
                step, time, aid, actors.kinds[i], at_fault, kind, math.hypot(vx_e - vx_a, vy_e - vy_a), v_ref
            )
        )
    on_road = bool(world.road.covers(ego_polygon(ego, cfg.vehicle))[0])
    hit, t_hit = time_to_collision(
        ego,
        actors,
        cfg.vehicle,
        cfg.metrics.ttc_horizon,
        cfg.metrics.ttc_step,
        exclude=touching,
        stopped_speed=cfg.metrics.stopped_speed,
    )
    history = _comfort_history(state.comfort_history, ego, cfg.metrics.comfort_window)
    d_lon, d_ax, d_ay, d_yaw_rate = _slopes(history, dt)
    overhang = cfg.vehicle.rear_overhang
    ran = red_light_runs(
        world.signals,
        (state.ego.x - overhang * math.cos(state.ego.yaw), state.ego.y - overhang * math.sin(state.ego.yaw)),
        (ego.x - overhang * math.cos(ego.yaw), ego.y - overhang * math.sin(ego.yaw)),
        ego.yaw,
        world.start_time + time,
        frozenset(r[2] for r in acc.red_lights),
    )
    return StepMeasurements(
        collisions=tuple(events),
        on_road=on_road,
        ttc_actor=actors.ids[hit] if hit >= 0 else "",
        ttc_time=t_hit,
        lat_accel=ego.lat_accel,
        lon_accel=ego.accel,
        lon_jerk=d_lon,
        jerk=math.hypot(d_ax, d_ay),
        yaw_rate=ego.yaw_rate,
        yaw_accel=d_yaw_rate,
        route_s=s,
        route_d=d,
        progress_step=s - state.route_s,
        progress=progress,
        expert_progress=route.expert_progress(step),
        route_complete=complete,
        reference_progress=route.reference_progress(step),
        red_lights=ran,
    )


def _comfort_sample(ego: EgoState) -> tuple[float, float, float, float]:
    """``(lon acc, world acc x, world acc y, yaw rate)`` of one step."""
    c, s = math.cos(ego.yaw), math.sin(ego.yaw)
    return ego.accel, ego.accel * c - ego.lat_accel * s, ego.accel * s + ego.lat_accel * c, ego.yaw_rate


def _initial_comfort_history(segment: LogSegment, config: SimConfig, ego: EgoState) -> tuple:
    """Comfort samples before the first step: the logged ego at ``start - (window - 1) dt`` ..
    ``start - dt`` (held at the log's first pose before it begins), then the start state. The first
    steps' jerks are then derivatives over a full window, as if the ego had driven into the start."""
    dt, w = config.dt, config.metrics.comfort_window
    past = [
        _comfort_sample(
            _logged_ego_state(
                segment, max(config.start_time - k * dt, segment.ego_times[0]), dt, config.vehicle.wheelbase
            )
        )
        for k in range(w - 1, 0, -1)
    ]
    return (*past, _comfort_sample(ego))


def _comfort_history(history: tuple, ego: EgoState, window: int) -> tuple:
    return (history + (_comfort_sample(ego),))[-window:]


def _slopes(history: tuple, dt: float) -> tuple[float, float, float, float]:
    """Least-squares slopes over time of each column of ``history`` (oldest first), i.e. the
    Savitzky-Golay first derivative of order 1 at the window's centre; two samples give the plain
    one-step difference."""
    n = len(history)
    if n < 2:
        return 0.0, 0.0, 0.0, 0.0
    t = (np.arange(n) - (n - 1) / 2) * dt
    v = np.asarray(history)
    slope = t @ v / float(t @ t)
    return float(slope[0]), float(slope[1]), float(slope[2]), float(slope[3])


# ------------------------------------------------------------------------------------------------
# Transition
# ------------------------------------------------------------------------------------------------
def transition(state: SimState, action: object, rng: np.random.Generator | None = None) -> SimState:
    """The state one step (``config.dt``) later.

    Args:
        state: current state (not ended).
        action: ``[2]`` normalised (acceleration, steering) in [-1, 1], or ``[K, 2]`` ego-frame
            waypoints when ``config.action_type == "waypoints"``.
        rng: random generator for stochastic behaviours (None: one seeded by the step index).

    Raises:
        ActionError: malformed action (wrong shape, NaN). SimulationOverError: episode ended.
    """
    if state.done:
        raise SimulationOverError(
            f"the episode ended at step {state.step} ({state.reason}); transition needs a running state",
            hint="start a new episode with initial_state(world)",
        )
    world, cfg = state.world, state.world.config
    act = validate_action(action, cfg)
    accel, steer = controls_from_action(act, state.ego, cfg)
    ego = bicycle_step(state.ego, accel, steer, cfg.dt, cfg.vehicle)
    step, time = state.step + 1, (state.step + 1) * cfg.dt
    actors = _step_actors(world, state, step, time, rng)
    m = _measure(state, ego, actors, step, time)
    ego = replace(ego, z=world.route.ground_z(m.route_s))
    metrics = step_metrics(m, cfg)
    terms = reward_terms(m, metrics, cfg)
    reward = total_reward(terms, cfg)
    penalties = step_penalties(step, time, m, metrics, cfg)
    acc = state.episode
    acc = EpisodeAccumulator(
        steps=acc.steps + 1,
        nc=min(acc.nc, metrics["nc"]),
        dac=min(acc.dac, metrics["dac"]),
        ttc=min(acc.ttc, metrics["ttc"]),
        comfort=min(acc.comfort, metrics["c"]),
        comfortable_steps=acc.comfortable_steps + int(metrics["c"] >= 1.0),
        hd_sum=acc.hd_sum + hd_step_term(metrics),
        ep=metrics["ep"],
        progress_max=max(acc.progress_max, m.progress),
        reward_sum=acc.reward_sum + reward,
        reward_terms_sum=MappingProxyType(
            {k: acc.reward_terms_sum.get(k, 0.0) + v for k, v in terms.items()}
        ),
        collisions=acc.collisions + m.collisions,
        collided_ids=acc.collided_ids | {e.actor_id for e in m.collisions},
        penalties=acc.penalties + penalties,
        trace=acc.trace + ((ego.yaw, ego.accel, ego.lat_accel),),
        progress_last=m.progress,
        reference_last=m.reference_progress,
        red_lights=acc.red_lights + tuple((step, time, light) for light in m.red_lights),
    )
    reason = ""
    if cfg.terminate_on_collision and metrics["nc"] < 1.0:
        reason = "collision"
    elif cfg.terminate_on_offroad and metrics["dac"] < 1.0:
        reason = "offroad"
    elif (
        cfg.terminate_on_route_complete and acc.progress_max >= world.route.length and step < cfg.max_steps
    ):  # at the time limit the episode is truncated, not terminated, even where the route is done
        reason = "route_complete"
    truncated = not reason and step >= cfg.max_steps
    return SimState(
        world=world,
        step=step,
        time=time,
        ego=ego,
        prev_ego=state.ego,
        actors=actors,
        route_s=m.route_s,
        episode=acc,
        comfort_history=_comfort_history(state.comfort_history, ego, cfg.metrics.comfort_window),
        last=StepRecord(m, metrics, terms, reward, penalties),
        terminated=bool(reason),
        truncated=truncated,
        reason=reason or ("time_limit" if truncated else ""),
    )


def _step_actors(
    world: World, state: SimState, step: int, time: float, rng: np.random.Generator | None
) -> ActorsState:
    return step_traffic(world, state.actors, state.ego, step, time, rng)


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def episode_metrics(state: SimState) -> dict[str, float]:
    """Episode metrics by name (NC, DAC, TTC, C, EP, PDMS, RC, HD-Score, NeuroNCAP, ...)."""
    return _episode_metrics(state.episode, state.world.route.length, state.world.config)


def expert_actions(world: World, steps: int | None = None) -> np.ndarray:
    """The logged ego motion from ``start_time`` as normalised actions ``[K, 2]`` (inverse bicycle).

    The logged rear-axle poses are sampled every ``dt``; speeds and controls come from
    :func:`~jwmsim.sim.dynamics.states_from_poses` and :func:`~jwmsim.sim.dynamics.inverse_bicycle`
    (clipped to the action box). ``steps`` defaults to the log's length from the start.
    """
    cfg, seg = world.config, world.segment
    n = (
        steps
        if steps is not None
        else max(1, int(math.floor((seg.ego_times[-1] - world.start_time) / cfg.dt)))
    )
    poses = [seg.ego_pose_at(world.start_time + k * cfg.dt) for k in range(n + 1)]
    xy = np.array([p.translation[:2] for p in poses])
    yaw = np.unwrap([p.yaw for p in poses])
    _, speed = states_from_poses(xy, yaw, cfg.dt)
    speed[0] = world.initial_ego.speed
    accel, steer = inverse_bicycle(yaw, speed, cfg.dt, cfg.vehicle.wheelbase)
    return normalise(accel, steer, cfg.vehicle)


def ego_box_centre(state: SimState) -> tuple[float, float]:
    """The ego box centre [m] (the ego state is the rear axle)."""
    return ego_centre(state.ego.x, state.ego.y, state.ego.yaw, state.world.config.vehicle)
